"""`POST /api/check` (Kimina Lean Server compatible) under real uvicorn, on the stand-in stack.

Requests are built as Kimina's own client builds them (`kimina_client.models.CheckRequest(...)
.model_dump()`, and the example of its schema); answers are judged as Kimina's client judges them
(`is_error`, `has_sorry`, `is_valid`, `ReplResponse.analyze` in `client/kimina_client/models.py`,
restated below): a cheat must never come back valid, an honest snippet must.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.api.kimina import CheckResponse
from proofgate.store.keys import KeyStore
from tests.api.conftest import serve_stack
from tests.support.adversarial import load_cases
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"


# --- Kimina's client logic, restated from client/kimina_client/models.py ------------------------


def kimina_request(snippets: list[dict[str, str]], **options: Any) -> dict[str, Any]:
    """What `CheckRequest(snippets=..., timeout=..., debug=..., reuse=..., infotree=...)
    .model_dump()` sends: every field, `infotree` None when not asked for."""
    return {
        "snippets": snippets,
        "timeout": options.get("timeout", 60),
        "debug": options.get("debug", False),
        "reuse": options.get("reuse", True),
        "infotree": options.get("infotree"),
    }


def is_error(response: dict[str, Any]) -> bool:
    return any(m["severity"] == "error" for m in response.get("messages") or [])


def has_sorry(response: dict[str, Any]) -> bool:
    return len(response.get("sorries") or []) > 0


def analyze(result: dict[str, Any]) -> str:
    """`ReplResponse.analyze().status`."""
    if result.get("error") is not None:
        return "timeout_error" if "timed out" in result["error"] else "server_error"
    response = result["response"]
    if "message" in response:
        return "repl_error"
    if is_error(response):
        return "lean_error"
    if not has_sorry(response):
        return "valid"
    return "sorry"


def assert_kimina_shape(result: dict[str, Any]) -> None:
    """What Kimina's `ReplResponse` and the REPL's TypedDicts require."""
    assert isinstance(result["id"], str) and isinstance(result["time"], float)
    assert (result.get("error") is None) != (result.get("response") is None)
    for message in (result.get("response") or {}).get("messages") or []:
        assert message["severity"] in ("trace", "info", "warning", "error")
        assert set(message["pos"]) == {"line", "column"} and isinstance(message["data"], str)
    for sorry in (result.get("response") or {}).get("sorries") or []:
        assert {"pos", "endPos", "goal"} <= set(sorry)


# --- the app on the stand-in stack (`stack`, `url`: tests/api/conftest.py) ---------------------


def check(url: str, body: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    answer = httpx.post(url + "/api/check", json=body, timeout=30, **kwargs)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    CheckResponse.model_validate(answer.json())
    for result in results:
        assert_kimina_shape(result)
    return results


def verdict_messages(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in result["response"]["messages"] if m["data"].startswith("proofgate verdict:")]


# --- tests -------------------------------------------------------------------------------------


def test_an_honest_snippet_is_valid_to_a_kimina_client(url: str) -> None:
    [result] = check(url, kimina_request([{"id": "honest", "code": HONEST}]))
    assert result["id"] == "honest" and analyze(result) == "valid"
    assert result["response"]["env"] == 0 and result["response"]["sorries"] == []
    assert "diagnostics" not in result  # only with debug


def test_kiminas_documented_example_request_is_answered(url: str) -> None:
    example = {  # CheckRequest's json_schema_extra example, verbatim
        "snippets": [{"id": "mathlib-import-def", "code": "import Mathlib\ndef f := 1"}],
        "timeout": 20,
        "debug": False,
        "reuse": True,
        "infotree": "original",
    }
    [result] = check(url, example)
    assert result["id"] == "mathlib-import-def" and analyze(result) == "valid"
    [minimal] = check(url, {"snippets": [{"id": "x", "code": "import Mathlib\ndef g := 2"}]})
    assert analyze(minimal) == "valid"
    slash = httpx.post(url + "/api/check/", json=example, timeout=30)
    assert slash.status_code == 200


def test_every_policy_stage_cheat_is_flagged(url: str, shared_dir: Path) -> None:
    cases = [
        case
        for case in load_cases(shared_dir / "adversarial" / "cases.jsonl")
        if case["stage"] == "policy" and case["expect"] == "reject"
    ]
    assert cases
    snippets = [{"id": case["id"], "code": case["code"]} for case in cases]
    results = check(url, kimina_request(snippets, debug=True))
    assert [r["id"] for r in results] == [case["id"] for case in cases]
    for result in results:
        assert analyze(result) == "lean_error", result
        [flag] = verdict_messages(result)
        assert flag["severity"] == "error" and "rejected" in flag["data"], result
        assert result["diagnostics"]["proofgate_status"] == "rejected"


@pytest.mark.parametrize(
    ("axioms", "status"),
    [(["propext", "sorryAx"], "incomplete"), (["propext", "cheat"], "axiom_violation")],
)
def test_a_sorryax_or_forbidden_axiom_the_repl_cannot_see_is_flagged(
    stack: Stack, url: str, axioms: list[str], status: str
) -> None:
    stack.scenario(axioms=axioms)  # what the trusted checker finds in the compiled snippet
    code = HONEST.replace("Nat.add_comm a b", "sorryAx _ false")
    [result] = check(url, kimina_request([{"id": "cheat", "code": code}]))
    assert analyze(result) == "lean_error"
    [flag] = verdict_messages(result)
    assert flag["severity"] == "error" and status in flag["data"]
    assert flag["pos"] == {"line": 1, "column": 0}  # the audit has no place: the file's start


def test_a_plain_sorry_keeps_kiminas_sorry_status(stack: Stack, url: str) -> None:
    stack.scenario(axioms=["propext", "sorryAx"])
    code = "import Mathlib\n\ntheorem t2 : 1 = 1 := by\n  -- standin: sorry\n  sorry\n"
    [result] = check(url, kimina_request([{"id": "draft", "code": code}]))
    assert analyze(result) == "sorry"  # not valid, and not an error either, as with Kimina
    [sorry] = result["response"]["sorries"]
    assert sorry["pos"] == {
        "line": 4,
        "column": 2,
    }  # the user's own text: line 1-based, col 0-based
    assert "incomplete" in verdict_messages(result)[0]["data"]


def test_lean_errors_keep_the_repls_positions_in_the_snippet(url: str) -> None:
    code = "import Mathlib\nopen Nat\n\ntheorem t3 : 1 = 1 := by\n    -- standin: error unknown identifier 'foo'\n  exact foo\n"  # noqa: E501
    [result] = check(url, kimina_request([{"id": "err", "code": code}]))
    assert analyze(result) == "lean_error"
    lean = [m for m in result["response"]["messages"] if "unknown identifier" in m["data"]]
    assert lean[0]["pos"] == {"line": 5, "column": 4}
    assert "failed" in verdict_messages(result)[0]["data"]


def test_a_timeout_is_answered_as_kimina_answers_one(url: str) -> None:
    code = "import Mathlib\n\ntheorem t4 : 1 = 1 := by\n  -- standin: hang\n  rfl\n"
    [result] = check(url, kimina_request([{"id": "slow", "code": code}], timeout=1))
    assert analyze(result) == "timeout_error" and "timed out" in result["error"]


def test_kiminas_request_validation_is_kept(url: str) -> None:
    duplicate = kimina_request([{"id": "a", "code": HONEST}, {"id": "a", "code": HONEST}])
    answer = httpx.post(url + "/api/check", json=duplicate, timeout=10)
    assert answer.status_code == 422 and "unique ids" in answer.text
    empty = httpx.post(url + "/api/check", json=kimina_request([]), timeout=10)
    assert empty.status_code == 422 and "non empty" in empty.text


def test_a_kimina_client_sends_its_key_as_a_bearer_token(stack: Stack) -> None:
    assert stack.settings.api_keys_file is not None
    _, token = KeyStore(stack.settings.api_keys_file).create("kimina")
    with serve_stack(stack) as served:
        body = kimina_request([{"id": "h", "code": HONEST}])
        refused = httpx.post(served + "/api/check", json=body, timeout=30)
        assert refused.status_code == 401
        [result] = check(served, body, headers={"Authorization": f"Bearer {token}"})
        assert analyze(result) == "valid"


def test_more_snippets_than_the_batch_limit_is_413_naming_the_count(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, max_batch_items=2)
    snippets = [{"id": f"s{i}", "code": HONEST} for i in range(3)]
    with serve_stack(stack) as served:
        answer = httpx.post(served + "/api/check", json=kimina_request(snippets), timeout=30)
    assert answer.status_code == 413, answer.text
    body = answer.json()
    assert body["error"] == "too_many_items"
    assert "3 snippets" in body["message"] and "PROOFGATE_MAX_BATCH_ITEMS" in body["message"]


def test_a_kimina_request_is_charged_per_snippet(stack: Stack) -> None:
    assert stack.settings.api_keys_file is not None
    _, token = KeyStore(stack.settings.api_keys_file).create("kimina", rate_per_minute=5)
    headers = {"Authorization": f"Bearer {token}"}
    snippets = [{"id": f"s{i}", "code": HONEST} for i in range(8)]
    with serve_stack(stack) as served:
        check(served, kimina_request(snippets), headers=headers)
        after = httpx.post(
            served + "/api/check",
            json=kimina_request([{"id": "h", "code": HONEST}]),
            headers=headers,
            timeout=30,
        )
    assert after.status_code == 429 and int(after.headers["retry-after"]) >= 30


@pytest.mark.parametrize(
    ("route", "asked", "ran"),
    [
        ("/api/check", 0, 1.0),  # Kimina takes 0: a second, the shortest this route gives
        ("/api/check", 5, 5.0),
        ("/api/check", 7200, 8.0),  # beyond the server's limit: the server's limit
        ("/verify", 300, 8.0),  # the legacy default, capped the same way
    ],
)
def test_a_snippets_timeout_is_the_services_resolution_of_the_requests(
    tmp_path: Path, route: str, asked: int, ran: float
) -> None:
    """The request's timeout is resolved once, by the service (`CheckerService.timeout`); the
    route no longer clamps it to 1..3600 itself."""
    stack = make_stack(tmp_path, request_timeout=8.0)
    service = stack.service()
    checked = service.check
    seen: list[float | None] = []

    async def recording(submission: Any, **options: Any) -> Any:
        seen.append(submission.timeout)
        return await checked(submission, **options)

    service.check = recording  # type: ignore[method-assign]
    snippets = [{"id": "a", "code": HONEST}, {"id": "b", "code": HONEST.replace("t1", "t2")}]
    body: dict[str, Any] = (
        kimina_request(snippets, timeout=asked)
        if route == "/api/check"
        else {"codes": [{"custom_id": s["id"], "proof": s["code"]} for s in snippets]}
    )
    with run_app(create_app(stack.settings, service=service), timeout=20) as url:
        answer = httpx.post(url + route, json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    assert seen == [ran, ran]
