"""`PROOFGATE_POLICY` over HTTP: the server's profile is a check's default and the loosest profile a
request may ask for; a request may tighten it, never loosen it (issue 30, defect 3)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.conftest import serve_stack
from tests.support.stack import make_stack

#: `partial def` is refused in strict and allowed in permissive (docs/policy.md).
PARTIAL = "import Mathlib\n\npartial def f (n : Nat) : Nat := f n\n\ntheorem t : True := trivial\n"


def _rules(url: str, **fields: object) -> list[str]:
    response = httpx.post(url + "/v1/check", json={"code": PARTIAL, **fields}, timeout=30)
    assert response.status_code == 200, response.text
    return [violation["rule"] for violation in response.json()["violations"]]


@pytest.mark.parametrize(
    ("setting", "requested", "refused"),
    [
        ("strict", None, True),
        ("strict", "permissive", True),  # a request may not loosen the server's profile
        ("strict", "strict", True),
        ("permissive", None, False),  # the server's setting is the default
        ("permissive", "permissive", False),
        ("permissive", "strict", True),  # a request may tighten it
    ],
)
def test_the_servers_policy_is_the_default_and_the_loosest_allowed(
    tmp_path: Path, setting: str, requested: str | None, refused: bool
) -> None:
    stack = make_stack(tmp_path, policy=setting)
    fields = {} if requested is None else {"policy": requested}
    with serve_stack(stack) as url:
        assert ("partial" in _rules(url, **fields)) is refused


def test_a_verdict_cached_under_one_setting_is_not_served_under_another(tmp_path: Path) -> None:
    with serve_stack(make_stack(tmp_path, policy="permissive")) as url:
        assert "partial" not in _rules(url)
    with serve_stack(make_stack(tmp_path, policy="strict")) as url:  # the same data directory
        assert "partial" in _rules(url)


#: The same `partial def` in a statement (triage, a session) and in a completion (rewards).
STATEMENT_WITH_PARTIAL = PARTIAL.replace(":= trivial", ":= sorry")
COMPLETION_WITH_PARTIAL = "```lean4\n" + PARTIAL.removeprefix("import Mathlib\n\n") + "```"


def _refused_on(url: str, route: str, fields: dict[str, object]) -> bool:
    """Whether `route` refused the `partial def` by policy, as that route says so."""
    if route == "/v1/triage":
        answer = httpx.post(
            url + route, json={"statement": STATEMENT_WITH_PARTIAL, **fields}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["elaboration"] == "rejected"
    if route == "/v1/sessions":
        answer = httpx.post(
            url + route, json={"statement": STATEMENT_WITH_PARTIAL, **fields}, timeout=30
        )
        assert answer.status_code in (201, 422), answer.text
        return answer.status_code == 422 and "[partial]" in answer.text
    body = {
        "statement": "import Mathlib\n\ntheorem t : True := sorry\n",
        "completions": [COMPLETION_WITH_PARTIAL],
        **fields,
    }
    answer = httpx.post(url + route, json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["records"][0]["cheat"] == "policy:partial"


@pytest.mark.parametrize("route", ["/v1/triage", "/v1/sessions", "/v1/rewards"])
@pytest.mark.parametrize(
    ("setting", "requested", "refused"),
    [
        ("strict", "permissive", True),  # never looser than the server
        ("permissive", None, False),  # the server's setting is the default
        ("permissive", "strict", True),  # tighter is allowed
    ],
)
def test_every_route_takes_the_servers_policy_as_default_and_loosest(
    tmp_path: Path, route: str, setting: str, requested: str | None, refused: bool
) -> None:
    fields: dict[str, object] = {} if requested is None else {"policy": requested}
    with serve_stack(make_stack(tmp_path, policy=setting)) as url:
        assert _refused_on(url, route, fields) is refused
