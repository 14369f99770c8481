"""`GET /` by content negotiation: the console's page to a browser, Kimina's `{"status": "ok"}`
to a client that does not accept HTML.

Kimina's legacy `Lean4Client` checks its server with `GET /` before anything else and fails unless
the JSON body's `status` is `ok`: its first version (aiohttp) sends `Accept: application/json` and
`Authorization: Bearer None` when it has no key, its later one (requests) only `Content-Type` and
so requests' default `Accept: */*`. No browser needed: httpx against the real app on the stand-ins.
"""

from __future__ import annotations

import httpx
import pytest

from proofgate.store.keys import KeyStore
from tests.support.stack import Stack

#: What Chromium sends when it opens a page.
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)


def test_a_browser_gets_the_console_page(server: str) -> None:
    page = httpx.get(server + "/", headers={"Accept": BROWSER_ACCEPT}, timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>proofgate console</title>" in page.text
    assert "Accept" in page.headers["vary"]
    assert "default-src 'self'" in page.headers["content-security-policy"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},  # no Accept at all
        {"Accept": "application/json", "Content-Type": "application/json"},
        {"Accept": "*/*", "Content-Type": "application/json"},
    ],
    ids=["no-accept", "json", "anything"],
)
def test_a_client_that_does_not_ask_for_html_gets_kiminas_status(
    server: str, headers: dict[str, str]
) -> None:
    with httpx.Client(timeout=10) as client:
        client.headers.pop("Accept")  # httpx's default (*/*): each case sends only its own
        answer = client.get(server + "/", headers=headers)
        sent = answer.request.headers
    assert sent.get("accept") == headers.get("Accept")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"status": "ok"}
    assert "Accept" in answer.headers["vary"]


def test_kiminas_first_client_passes_with_keys_configured(stack: Stack, server: str) -> None:
    """With a key configured, `/` stays open: the old client sends `Bearer None` without a key."""
    assert stack.settings.api_keys_file is not None
    KeyStore(stack.settings.api_keys_file).create("someone")
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": "Bearer None",
    }
    answer = httpx.get(server + "/", headers=headers, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert httpx.get(server + "/v1/jobs", headers=headers, timeout=10).status_code == 401
