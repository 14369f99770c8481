"""Kimina's routes choose the environment (issue 26, item 5): the query's `environment` or the
`X-Proofgate-Environment` header routes a request's snippets to that environment's own toolchain and
REPL; unknown is 422 naming the known ones, an absent toolchain 503 naming it while the others
serve.

Stand-in toolchains of three Lean versions (tests/environments/toolchains.py) under the real
launcher, version check, pool and API. The stand-in checker reports the Lean it was "built with"
(`report.lean`), and the audit refuses a checker of another Lean than the environment pins: so a
snippet is valid only where it was routed to the environment the scenario's Lean names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.api.kimina import ENVIRONMENT_HEADER
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from tests.api.test_kimina import analyze
from tests.api.test_kimina_routes import _import_kimina_client
from tests.environments.toolchains import fake_environment
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Stack]]:
    """default (v4.32.0), lean_v4_15_0 and lean_v4_26_0 installed; lean_v4_9_0 absent."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes = tmp_path / "project", tmp_path / "homes"
    default = fake_environment(project, "default", "v4.32.0", homes=homes)
    for name, version in (("lean_v4_15_0", "v4.15.0"), ("lean_v4_26_0", "v4.26.0")):
        fake_environment(project, name, version, homes=homes)
        monkeypatch.setenv(f"PROOFGATE_LEAN_HOME__{name.upper()}", str(homes / name))
    fake_environment(project, "lean_v4_9_0", "v4.9.0", homes=homes, installed=False)
    stack = make_stack(tmp_path, project_dir=project, lean_home=default.home, workers=3)
    service = CheckerService(stack.settings, spawner=ProcessGroupSpawner())
    with run_app(create_app(stack.settings, service=service), timeout=30) as url:
        yield url, stack


def _check(url: str, code: str, **request: Any) -> httpx.Response:
    body = {"snippets": [{"id": "s", "code": code}], "timeout": 20}
    return httpx.post(url + "/api/check", json=body, timeout=60, **request)


def _status(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    return analyze(result)


@pytest.mark.timeout(120)
def test_the_query_or_the_header_routes_to_the_environment(served: tuple[str, Stack]) -> None:
    url, stack = served
    stack.scenario(report={"lean": "v4.15.0"})
    query = _check(url, HONEST, params={"environment": "lean_v4_15_0"})
    assert _status(query) == "valid"
    # Another text, so no cached verdict answers it: the header alone routes it.
    header = _check(url, HONEST + "\n", headers={ENVIRONMENT_HEADER: "lean_v4_15_0"})
    assert _status(header) == "valid"
    # Naming none is default (v4.32.0), whose pins the v4.15.0 checker does not match.
    assert _status(_check(url, HONEST + "\n\n")) == "server_error"

    stack.scenario(report={"lean": "v4.26.0"})
    legacy = httpx.post(
        url + "/verify",
        json={"codes": [{"custom_id": 1, "proof": HONEST}]},
        headers={ENVIRONMENT_HEADER: "lean_v4_26_0"},
        timeout=60,
    )
    assert legacy.status_code == 200, legacy.text
    [result] = legacy.json()["results"]
    assert result.get("error") is None and result["custom_id"] == "1", result
    assert not [m for m in result["response"]["messages"] if m["severity"] == "error"]


@pytest.mark.timeout(120)
def test_kiminas_own_client_names_the_environment_by_header(
    served: tuple[str, Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, stack = served
    for name in ("LEAN_SERVER_API_URL", "LEAN_SERVER_API_KEY", "LEANSERVER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    kimina = _import_kimina_client()
    stack.scenario(report={"lean": "v4.26.0"})
    client = kimina.KiminaClient(
        api_url=url, headers={ENVIRONMENT_HEADER: "lean_v4_26_0"}, n_retries=1
    )
    answer = client.check([kimina.Snippet(id="h", code=HONEST)], show_progress=False)
    assert [r.analyze().status.value for r in answer.results] == ["valid"]


@pytest.mark.timeout(120)
def test_unknown_absent_and_conflicting_environments_are_refused_by_name(
    served: tuple[str, Stack],
) -> None:
    url, stack = served
    unknown = _check(url, HONEST, params={"environment": "lean_v3"})
    assert unknown.status_code == 422, unknown.text
    message = unknown.json()["message"]
    assert "'lean_v3'" in message and "lean_v4_15_0" in message and "default" in message

    both = _check(
        url,
        HONEST,
        params={"environment": "lean_v4_15_0"},
        headers={ENVIRONMENT_HEADER: "lean_v4_26_0"},
    )
    assert both.status_code == 422 and "name one" in both.json()["message"], both.text

    for route, body in (
        ("/api/check", {"snippets": [{"id": "s", "code": HONEST}]}),
        ("/one_pass_verify_batch", {"codes": [{"custom_id": "s", "proof": HONEST}]}),
    ):
        absent = httpx.post(
            url + route, json=body, headers={ENVIRONMENT_HEADER: "lean_v4_9_0"}, timeout=60
        )
        assert absent.status_code == 503, absent.text
        assert absent.json()["error"] == "lean_unavailable"
        assert "environment 'lean_v4_9_0' is not ready" in absent.json()["reason"]
        assert "v4.9.0" in absent.json()["reason"]
    # The others still serve.
    stack.scenario(report={"lean": "v4.32.0"})
    assert _status(_check(url, HONEST, params={"environment": "default"})) == "valid"


# --- the other routes carry it too: a reward group and a proof session ---------------------------


@pytest.mark.timeout(120)
def test_a_reward_group_and_a_session_run_in_their_environment(served: tuple[str, Stack]) -> None:
    url, stack = served
    stack.scenario(report={"lean": "v4.15.0"})
    statement = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
    group = {"statement": statement, "completions": ["```lean4\nNat.add_comm a b\n```"]}
    rewarded = {}
    for environment in ("lean_v4_15_0", "default"):  # only v4.15.0's pins match the checker
        answer = httpx.post(
            url + "/v1/rewards", json={**group, "environment": environment}, timeout=60
        )
        assert answer.status_code == 200, answer.text
        [record] = answer.json()["records"]
        rewarded[environment] = record["status"]
    assert rewarded["lean_v4_15_0"] == "proved" and rewarded["default"] != "proved", rewarded

    opened = httpx.post(
        url + "/v1/sessions",
        json={"statement": statement, "environment": "lean_v4_26_0"},
        timeout=60,
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["environment"] == "lean_v4_26_0"
