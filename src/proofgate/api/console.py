"""The web console at `/` (playground, jobs), the read-only share page at `/r/<id>`, and the API
docs at `/docs` and `/redoc`, all served from files on this machine: no CDN, so it works
air-gapped.

The pages are open; every API they call is under `/v1` and guarded by the key middleware like
any client's request (the console asks for a key once and sends it as a bearer token). Swagger UI
and ReDoc come from the installed `fastapi-offline` package, under its own path
(`/static-offline-docs`), which is open like `/docs`. `GET /` answers `{"status": "ok"}` to a
client whose `Accept` has no `text/html`, as Kimina's server does (its legacy client checks the
connection so).
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from proofgate.api import shares

__all__ = ["DOCS_ASSETS", "STATIC", "install_console"]

#: The console's own files (HTML, CSS, JavaScript modules).
STATIC = Path(__file__).resolve().parent / "static"
#: Where Swagger UI's and ReDoc's files are served from (the path fastapi-offline uses).
DOCS_ASSETS = "/static-offline-docs"
#: The console's pages load only this server's files and talk only to this server.
_CONSOLE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": _CONSOLE_POLICY,
    "Referrer-Policy": "no-referrer",  # a share page's URL is its secret
    "X-Content-Type-Options": "nosniff",
}

#: The docs pages run their own inline start-up script and styles; nothing may leave this server
#: (ReDoc's footer logo, for one, would be fetched from its vendor's host).
_DOCS_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'"
)

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=_PAGE_HEADERS)


@router.get("/")
async def console_page(request: Request) -> Response:
    """The console to a browser; `{"status": "ok"}` to a client that does not accept HTML.

    Kimina's legacy `Lean4Client` checks its server with `GET /` (its `Accept` is
    `application/json`, or requests' default `*/*`) and wants `{"status": "ok"}`, as Kimina's
    health route answers there; browsers ask for `text/html` first.
    """
    if "text/html" not in request.headers.get("accept", "").lower():
        return JSONResponse({"status": "ok"}, headers={"Vary": "Accept"})
    page = _page("index.html")
    page.headers["Vary"] = "Accept"
    return page


@router.get("/r/{share_id}")
async def share_page(share_id: str = shares.ShareId) -> Response:
    """The read-only view of a share; the page reads `/r/<id>/record.json` (404 shown there)."""
    return _page("share.html")


def _docs_assets() -> Path:
    return Path(str(importlib.resources.files("fastapi_offline") / "static"))


def _under_root(request: Request, path: str) -> str:
    """`path` as the browser must ask for it: behind the root path a proxy serves the app under."""
    return f"{request.scope.get('root_path', '')}{path}"


def _docs_file(request: Request, name: str) -> str:
    """The URL of one of Swagger UI's or ReDoc's files, served from DOCS_ASSETS."""
    return _under_root(request, f"{DOCS_ASSETS}/{name}")


def _docs_page(
    request: Request, render: Callable[..., HTMLResponse], name: str, **options: Any
) -> HTMLResponse:
    """The docs page FastAPI's `render` writes for this app's schema, titled with `name`, under
    the docs' CSP; `options` are the page's own (its files' URLs among them)."""
    page = render(
        openapi_url=_under_root(request, request.app.openapi_url),
        title=f"{request.app.title} - {name}",
        **options,
    )
    page.headers["Content-Security-Policy"] = _DOCS_POLICY
    return page


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _docs_page(
        request,
        get_swagger_ui_html,
        "Swagger UI",
        oauth2_redirect_url=_under_root(request, "/docs/oauth2-redirect"),
        swagger_js_url=_docs_file(request, "swagger-ui-bundle.js"),
        swagger_css_url=_docs_file(request, "swagger-ui.css"),
        swagger_favicon_url=_docs_file(request, "favicon.png"),
        swagger_ui_parameters={"validatorUrl": None},  # the default validator is a remote host
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _docs_page(
        request,
        get_redoc_html,
        "ReDoc",
        redoc_js_url=_docs_file(request, "redoc.standalone.js"),
        redoc_favicon_url=_docs_file(request, "favicon.png"),
        with_google_fonts=False,
    )


def install_console(app: FastAPI) -> None:
    """Serve the console, the share routes and the offline docs (build `app` with
    `docs_url=None, redoc_url=None`, so these docs pages are the ones served)."""
    app.include_router(shares.router)
    app.include_router(shares.public_router)
    app.include_router(router)
    app.mount("/console", StaticFiles(directory=STATIC), name="console")
    app.mount(DOCS_ASSETS, StaticFiles(directory=_docs_assets()), name="offline-docs")
