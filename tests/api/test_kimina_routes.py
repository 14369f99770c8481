"""Kimina's routes (`proofgate.api.kimina`) called as their users call them, on the stand-in stack
under real uvicorn: Kimina's own client package (`kimina-client`, in the `test` extra) for `check`
with several snippets, `health` and `infotree`; the legacy `/verify` and `/one_pass_verify_batch`
with the bodies evaluation scripts send; "not ready" answered per result, never cached.

Every client's URL is the local test server's (127.0.0.1).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import typing_extensions
from pydantic import PydanticUserError

from proofgate.api.app import create_app
from proofgate.exceptions import LeanUnavailable
from proofgate.service import CheckerService
from proofgate.store.keys import KeyStore
from tests.api.conftest import LiveApp, serve_stack
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
LEAN_ERROR = (
    "import Mathlib\n\ntheorem t2 : 1 = 1 := by\n"
    "  -- standin: error unknown identifier 'foo'\n  exact foo\n"
)
UNLIMITED = "import Mathlib\nset_option maxHeartbeats 0\n\ntheorem t3 : 1 = 1 := rfl\n"
HANG = "import Mathlib\n\ntheorem t4 : 1 = 1 := by\n  -- standin: hang\n  rfl\n"
#: One tactic the simulated REPL answers info trees for (bench/simulated_infotree.py), after a
#: header line: the REPL's recorded `infotree_theorem` command, one line down.
WITH_TREE = "import Mathlib\ntheorem show_p (p: Prop) (h : p) : p := by exact h"


def _import_kimina_client() -> ModuleType:
    """`kimina_client`, unchanged. Its 0.2.1 models take `TypedDict` from `typing`, which pydantic
    refuses before Python 3.12 (the import fails building them); there, it is imported with
    `typing.TypedDict` and `typing.NotRequired` lent from typing_extensions (what its source tree
    does below 3.12), and given back at once."""
    if importlib.util.find_spec("kimina_client") is None:
        pytest.skip("kimina-client is not installed (the `test` extra)")
    try:
        return importlib.import_module("kimina_client")
    except PydanticUserError as exc:
        if exc.code != "typed-dict-version":
            raise
    for name in [m for m in sys.modules if m.split(".")[0] == "kimina_client"]:
        del sys.modules[name]
    saved = typing.TypedDict, typing.NotRequired
    lent = typing_extensions.TypedDict, typing_extensions.NotRequired
    typing.TypedDict, typing.NotRequired = lent  # type: ignore[assignment]  # pydantic takes these
    try:
        return importlib.import_module("kimina_client")
    finally:
        typing.TypedDict, typing.NotRequired = saved  # type: ignore[misc]  # given back


@pytest.fixture
def kimina(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Kimina's client package, with none of its environment variables reaching it."""
    for name in ("LEAN_SERVER_API_URL", "LEAN_SERVER_API_KEY", "LEANSERVER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return _import_kimina_client()


def _statuses(response: Any) -> dict[str, str]:
    """Kimina's own judgement of each result (`ReplResponse.analyze`)."""
    return {result.id: result.analyze().status.value for result in response.results}


# --- Kimina's client: check, health, infotree --------------------------------------------------


def test_kiminas_client_checks_several_snippets(url: str, kimina: ModuleType) -> None:
    client = kimina.KiminaClient(api_url=url, http_timeout=60, n_retries=1)
    snippets = [
        kimina.Snippet(id="honest", code=HONEST),
        kimina.Snippet(id="lean-error", code=LEAN_ERROR),
        kimina.Snippet(id="refused", code=UNLIMITED),
        kimina.Snippet(id="hangs", code=HANG),
        kimina.Snippet(id="plain", code="import Mathlib\ndef f := 1"),
    ]
    # Two snippets a request: the client sends three requests, from its own threads.
    answer = client.check(snippets, timeout=2, batch_size=2, show_progress=False)
    assert sorted(r.id for r in answer.results) == sorted(s.id for s in snippets)
    assert _statuses(answer) == {
        "honest": "valid",
        "lean-error": "lean_error",
        "refused": "lean_error",
        "hangs": "timeout_error",
        "plain": "valid",
    }


def test_kiminas_client_health(url: str, kimina: ModuleType) -> None:
    client = kimina.KiminaClient(api_url=url, n_retries=1)
    assert client.health() == {"status": "ok"}
    assert httpx.get(url + "/health/", timeout=10).json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("level", "kinds"),
    [
        (
            "original",
            [
                "Lean.Parser.Term.byTactic",
                "by",
                "Lean.Parser.Tactic.tacticSeq",
                "Lean.Parser.Tactic.tacticSeq1Indented",
                "Lean.Parser.Tactic.exact",
            ],
        ),
        ("substantive", ["Lean.Parser.Tactic.exact"]),
    ],
)
def test_kiminas_client_gets_the_repls_infotree(
    url: str, kimina: ModuleType, level: str, kinds: list[str]
) -> None:
    client = kimina.KiminaClient(api_url=url, n_retries=1)
    snippet = kimina.Snippet(id="tree", code=WITH_TREE)
    [result] = client.check([snippet], infotree=kimina.Infotree(level), show_progress=False).results
    assert result.analyze().status.value == "valid"
    [tree] = result.response["infotree"]
    walked, node = [], tree
    while True:
        walked.append(node["node"]["stx"]["kind"])
        if not node["children"]:
            break
        [node] = node["children"]
    assert walked == kinds
    exact = node["node"]
    assert exact["stx"]["range"]["start"] == {"line": 2, "column": 43}  # the snippet's own lines
    assert exact["goalsBefore"] == ["p : Prop\nh : p\n⊢ p"] and exact["goalsAfter"] == []
    [plain] = client.check([snippet], show_progress=False).results
    assert "infotree" not in plain.response


def test_an_infotree_is_never_answered_from_the_cache(url: str) -> None:
    def check(**options: Any) -> dict[str, Any]:
        body = {"snippets": [{"id": "t", "code": WITH_TREE}], **options}
        answer = httpx.post(url + "/api/check", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["results"][0]
        return result

    check()
    check()  # now its verdict is in the cache
    assert "infotree" in check(infotree="tactics")["response"]


# --- not ready: an error in each result, never cached; /v1 keeps its 503 ------------------------


def test_an_unready_service_is_an_error_per_result_never_cached(
    stack: Stack, kimina: ModuleType
) -> None:
    unready = CheckerService(stack.settings)  # no REPL to start: it cannot verify
    with run_app(create_app(stack.settings, service=unready), timeout=20) as served:
        client = kimina.KiminaClient(api_url=served, n_retries=1)
        answer = client.check([kimina.Snippet(id="h", code=HONEST)], show_progress=False)
        [result] = answer.results
        assert result.analyze().status.value == "server_error"
        assert result.error.startswith("cannot verify now: ")
        legacy = httpx.post(
            served + "/verify", json={"codes": [{"custom_id": 7, "proof": HONEST}]}, timeout=30
        )
        assert legacy.status_code == 200
        assert legacy.json()["results"] == [{"custom_id": "7", "error": result.error}]
        assert (
            httpx.post(served + "/v1/check", json={"code": HONEST}, timeout=30).status_code == 503
        )
    with serve_stack(stack) as served:  # the same store, now able to verify
        client = kimina.KiminaClient(api_url=served, n_retries=1)
        answer = client.check([kimina.Snippet(id="h", code=HONEST)], show_progress=False)
        assert _statuses(answer) == {"h": "valid"}


def test_an_unready_environment_is_an_error_per_result(live: LiveApp) -> None:
    live.service.raises = LeanUnavailable("cannot start a Lean REPL for 'default': lake is missing")
    body = {"snippets": [{"id": "a", "code": "def f := 1"}, {"id": "b", "code": "def g := 2"}]}
    answer = live.http.post("/api/check", json=body)
    assert answer.status_code == 200, answer.text
    errors = [result["error"] for result in answer.json()["results"]]
    assert (
        errors == ["cannot verify now: cannot start a Lean REPL for 'default': lake is missing"] * 2
    )
    refused = live.http.post("/v1/check", json={"code": "def f := 1"})
    assert refused.status_code == 503 and refused.json()["error"] == "lean_unavailable"


# --- the legacy routes, with the bodies evaluation scripts send ---------------------------------

# The Lean files DeepSeek- and Goedel-style evaluations check. Read in DeepSeek-Prover-V1.5
# (prover/utils.py: LEAN4_DEFAULT_HEADER, "set_option maxHeartbeats 0", the default when a problem
# has no `header`; prover/lean/verifier.py sends the whole file to a local REPL as `cmd`) and in
# Goedel-Prover (eval/step1_inference.py, the same default; its problems' own header sets
# maxHeartbeats 400000): header, then the statement and the model's proof. The statement here is
# our own.
DEEPSEEK_HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\n"
    "open BigOperators Real Nat Topology Rat\n\n"
)
GOEDEL_HEADER = DEEPSEEK_HEADER.replace("maxHeartbeats 0", "maxHeartbeats 400000")
PROBLEM = "theorem sum_comm_example (a b : ℕ) : a + b = b + a := by\n  exact Nat.add_comm a b\n"


def _legacy_bodies(kimina: ModuleType) -> list[tuple[str, dict[str, Any]]]:
    """(route, body) as each client sends it, read from project-numina/kimina-lean-server:
    the README's curl example; the old `Lean4Client.async_verify` (client/client.py before the
    2.0 refactor: `codes` with `custom_id` and `proof`, `timeout`, `infotree_type`,
    `disable_cache`); the autoformalizer client (`code` instead of `proof`, to
    /one_pass_verify_batch); and Kimina's own `VerifyRequestBody(...).model_dump()`, which sends
    `proof: null` beside `code` (tests/match/test_match.py)."""
    goedel = GOEDEL_HEADER + PROBLEM
    dumped = kimina.VerifyRequestBody(
        codes=[{"custom_id": "match", "code": goedel}], timeout=60
    ).model_dump()
    return [
        (
            "/verify",
            {"codes": [{"custom_id": "1234", "proof": "#check Nat"}], "infotree_type": "original"},
        ),
        (
            "/verify",
            {
                "codes": [{"custom_id": "goedel", "proof": goedel}],
                "timeout": 60,
                "infotree_type": None,
                "disable_cache": False,
            },
        ),
        (
            "/one_pass_verify_batch",
            {
                "codes": [{"code": goedel, "custom_id": "autoformalizer"}],
                "timeout": 60,
                "infotree_type": None,
                "disable_cache": False,
            },
        ),
        ("/verify", dumped),
    ]


def _has_error(response: dict[str, Any]) -> bool:
    return any(m["severity"] == "error" for m in response.get("messages") or [])


def test_the_legacy_routes_answer_evaluation_scripts_bodies(url: str, kimina: ModuleType) -> None:
    for route, body in _legacy_bodies(kimina):
        answer = httpx.post(url + route, json=body, timeout=60)
        assert answer.status_code == 200, (route, answer.text)
        [result] = answer.json()["results"]
        kimina.VerifyResponse.model_validate(answer.json())  # Kimina's own model takes it
        assert result["custom_id"] == body["codes"][0]["custom_id"]
        assert "error" not in result, result
        response = result["response"]
        assert isinstance(response["time"], float) and response["env"] == 0
        assert not _has_error(response) and not response["sorries"], (route, result)


def test_deepseeks_default_header_is_refused_in_a_legacy_answer(url: str) -> None:
    body = {"codes": [{"custom_id": 3, "proof": DEEPSEEK_HEADER + PROBLEM}], "timeout": 60}
    answer = httpx.post(url + "/verify", json=body, timeout=60)
    [result] = answer.json()["results"]
    assert result["custom_id"] == "3"  # Kimina answers the id as a string
    flags = [m for m in result["response"]["messages"] if m["severity"] == "error"]
    assert any("rejected" in m["data"] and "maxHeartbeats 0" in m["data"] for m in flags), result


def test_a_permissive_server_lowers_deepseeks_header_and_says_so(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, policy="permissive")
    body = {"codes": [{"custom_id": "d", "proof": DEEPSEEK_HEADER + PROBLEM}], "timeout": 60}
    with serve_stack(stack) as served:
        answer = httpx.post(served + "/verify", json=body, timeout=60)
    [result] = answer.json()["results"]
    response = result["response"]
    assert not _has_error(response), result
    [note] = [m for m in response["messages"] if "lowered to the cap" in m["data"]]
    assert note["severity"] == "info" and note["pos"] == {"line": 4, "column": 25}


def test_a_legacy_timeout_is_an_error_without_a_response(url: str) -> None:
    body = {"codes": [{"custom_id": "slow", "proof": HANG}, {"custom_id": "ok", "proof": HONEST}]}
    answer = httpx.post(url + "/one_pass_verify_batch", json={**body, "timeout": 1}, timeout=60)
    slow, ok = answer.json()["results"]
    assert set(slow) == {"custom_id", "error"} and "timed out" in slow["error"]
    assert ok["custom_id"] == "ok" and not _has_error(ok["response"])


def test_a_legacy_code_without_lean_text_is_422_naming_it(url: str) -> None:
    answer = httpx.post(url + "/verify", json={"codes": [{"custom_id": "x"}]}, timeout=10)
    assert answer.status_code == 422
    assert "codes.0" in answer.text and "`proof` or `code`" in answer.text


@pytest.fixture
def keyed(stack: Stack) -> Iterator[tuple[str, str]]:
    """The stack served with one API key configured: (base URL, token)."""
    assert stack.settings.api_keys_file is not None
    _, token = KeyStore(stack.settings.api_keys_file).create("evaluation")
    with serve_stack(stack) as served:
        yield served, token


def test_health_is_open_and_the_legacy_routes_need_a_key(
    keyed: tuple[str, str], kimina: ModuleType
) -> None:
    served, token = keyed
    assert kimina.KiminaClient(api_url=served, n_retries=1).health() == {"status": "ok"}
    body = {"codes": [{"custom_id": "k", "proof": HONEST}]}
    for route in ("/verify", "/one_pass_verify_batch", "/verify/"):
        refused = httpx.post(served + route, json=body, timeout=30)
        assert refused.status_code == 401, route
    bearer = {"Authorization": f"Bearer {token}"}
    for route in ("/verify", "/one_pass_verify_batch"):
        admitted = httpx.post(served + route, json=body, headers=bearer, timeout=30)
        assert admitted.status_code == 200 and "error" not in admitted.json()["results"][0]
