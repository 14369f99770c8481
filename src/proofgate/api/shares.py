"""`POST /v1/shares` and the open share views under `/r/<id>`: a verdict kept as a signed
reproducible record (`proofgate.reports.record`), readable by anyone who has its link.

The server checks the shared submission itself (a cache hit when it was just checked), so a share
never signs a verdict a client made up. A share holds the record and nothing else: not the key or
tenant that made it, not the sharer's other work. Its id is 192 random bits, so links cannot be
guessed; records live as files in `DATA_DIR/shares/` (JSON, and the Markdown report beside it).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from proofgate.api.deps import Service, Tenant
from proofgate.api.errors import ERROR_RESPONSES, error_response, request_id_of
from proofgate.config import Settings
from proofgate.exceptions import ConfigError
from proofgate.models import Submission, VerdictStatus
from proofgate.models.http import ErrorBody
from proofgate.reports.record import build_record, write_record
from proofgate.reports.signing import load_report_key, verify

__all__ = ["SHARE_ID_PATTERN", "ShareStore", "public_router", "router"]

#: A share id: 32 URL-safe characters, 192 random bits.
SHARE_ID_PATTERN = r"^[A-Za-z0-9_-]{32}$"
_ID_BYTES = 24

router = APIRouter(prefix="/v1", tags=["shares"], responses=ERROR_RESPONSES)
#: Open (no key): whoever holds a link reads that one record.
public_router = APIRouter(prefix="/r", include_in_schema=False)

ShareId = Path(pattern=SHARE_ID_PATTERN, description="The share's id, from `POST /v1/shares`.")


class ShareStore:
    """Records by share id, as `ID.json` and `ID.md` in one directory."""

    def __init__(self, directory: FilePath) -> None:
        self.directory = directory

    def save(self, record: dict[str, Any]) -> str:
        share_id = secrets.token_urlsafe(_ID_BYTES)
        write_record(record, self.directory / f"{share_id}.json")
        return share_id

    def load(self, share_id: str) -> dict[str, Any] | None:
        try:
            text = (self.directory / f"{share_id}.json").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read the shared record {share_id}: {exc}") from exc
        record = json.loads(text)
        return record if isinstance(record, dict) else None

    def markdown(self, share_id: str) -> str | None:
        try:
            return (self.directory / f"{share_id}.md").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None


def share_store(settings: Settings) -> ShareStore:
    return ShareStore(settings.data_dir / "shares")


class ShareRequest(BaseModel):
    """What to share: a submission (the server checks it and keeps the verdict it gets)."""

    model_config = ConfigDict(extra="forbid")

    submission: Submission
    item_id: str | None = Field(
        None, max_length=256, description="A label kept in the record (e.g. the batch item's id)."
    )


class ShareCreated(BaseModel):
    """Where the shared record is: `url` is the read-only page, open to anyone with the link."""

    id: str
    url: str
    record_url: str
    markdown_url: str
    status: VerdictStatus = Field(description="The verdict the record holds.")


@router.post(
    "/shares",
    status_code=201,
    response_model=ShareCreated,
    summary="Share a verdict as a signed reproducible record",
    description=(
        "Checks the submission (a cache hit if it was just checked) and stores the verdict as a "
        "signed record (the `proofgate export` format). The link `/r/{id}` is open to anyone who "
        "has it and shows that record only. A check that did not finish cannot be shared: 409."
    ),
    responses={409: {"model": ErrorBody, "description": "The check did not finish."}},
)
async def create_share(
    body: ShareRequest, request: Request, tenant: Tenant, service: Service
) -> Response:
    settings: Settings = request.app.state.settings
    verdict = await service.check(body.submission, tenant=tenant)
    if verdict.status.is_unfinished:
        return error_response(
            request_id_of(request),
            409,
            "not_shareable",
            f"the check did not finish ({verdict.status.value}: {verdict.reason}), so there is "
            "no verdict to share: check it again, then share",
        )
    key = await asyncio.to_thread(load_report_key, settings)
    record = build_record(body.submission, verdict, settings, key, item_id=body.item_id)
    share_id = await asyncio.to_thread(share_store(settings).save, record)
    created = ShareCreated(
        id=share_id,
        url=f"/r/{share_id}",
        record_url=f"/r/{share_id}/record.json",
        markdown_url=f"/r/{share_id}/report.md",
        status=verdict.status,
    )
    return JSONResponse(created.model_dump(mode="json"), status_code=201)


def _no_share(request: Request) -> JSONResponse:
    return error_response(
        request_id_of(request),
        404,
        "not_found",
        "no such share: check the link (a share id is 32 characters)",
    )


@public_router.get("/{share_id}/record.json")
async def shared_record(request: Request, share_id: str = ShareId) -> Response:
    """The record, and whether its signature is this server's key's (`valid`)."""
    settings: Settings = request.app.state.settings
    record = await asyncio.to_thread(share_store(settings).load, share_id)
    if record is None:
        return _no_share(request)
    key = await asyncio.to_thread(load_report_key, settings)
    return JSONResponse({"record": record, "signature": verify(record, key)})


@public_router.get("/{share_id}/report.md")
async def shared_markdown(request: Request, share_id: str = ShareId) -> Response:
    """The Markdown report with the signed record inside: what `proofgate replay` reads."""
    text = await asyncio.to_thread(share_store(request.app.state.settings).markdown, share_id)
    if text is None:
        return _no_share(request)
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="proofgate-{share_id}.md"'},
    )
