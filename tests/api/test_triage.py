"""`POST /v1/triage` over real uvicorn on the stand-in stack, and `Client.triage`/`AsyncClient.triage`."""

from __future__ import annotations

import httpx
import pytest

import proofgate
from proofgate.api.app import create_app
from proofgate.exceptions import NotReady, SubmissionError
from proofgate.models import ProbeKind, TriageRequest, TriageResult
from proofgate.service import CheckerService
from tests.api.conftest import serve_stack
from tests.support.live_app import run_app
from tests.support.stack import Stack

FAIL_OTHERS = "-- standin: with proofgate_triage without {needle} error closer failed"


def statement(theorem: str, *needles: str, extra: str = "") -> str:
    markers = "".join(FAIL_OTHERS.format(needle=n) + "\n" for n in needles)
    return f"import Mathlib\n\n{extra}{markers}{theorem} := by sorry\n"


FALSE = statement("theorem g : (2 : ℕ) + 2 = 5", "proofgate_triage_disproof", "decide")
VACUOUS = statement("theorem f (n : ℕ) (h : n < 0) : n = 5", "proofgate_triage_vacuous", "omega")


def test_triage_over_http_and_the_blocking_client(stack: Stack) -> None:
    with serve_stack(stack) as url:
        response = httpx.post(url + "/v1/triage", json={"statement": FALSE}, timeout=60)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["disproved"] is True and body["closed_by"] == {"disproved": "decide"}
        assert "¬ (type_of% @_root_.g)" in body["negation_proof"]
        assert body["feedback"].startswith("Triage: g elaborates; disproved (`decide`)")
        with proofgate.Client(url, timeout=60) as client:
            result = client.triage(statement=VACUOUS, closers=["omega"])
            again = client.triage(TriageRequest(statement=VACUOUS, closers=["omega"]))
            with pytest.raises(SubmissionError) as info:
                client.triage(statement=VACUOUS, closers=["rfl"])
            assert info.value.field == "closers"
    assert isinstance(result, TriageResult) and result.flags == [ProbeKind.vacuous]
    assert [p.tactic for p in result.probes] == [
        "omega",
        "omega",
        "intros; exfalso; omega",
        "push_neg; omega",
    ]
    assert again.cached and again.vacuous


async def test_async_client_reports_an_elaboration_error(stack: Stack) -> None:
    broken = statement("theorem k : 1 = 1", extra="-- standin: error unknown identifier 'x'\n")
    with serve_stack(stack) as url:
        async with proofgate.AsyncClient(url, timeout=60) as client:
            result = await client.triage(statement=broken)
    assert result.elaboration == "failed" and not result.probes
    assert result.messages[0].text == "unknown identifier 'x'"
    assert "3 | -- standin: error unknown identifier 'x'" in result.feedback


def test_malformed_requests_are_422_naming_the_field(stack: Stack) -> None:
    with serve_stack(stack) as url:
        missing = httpx.post(url + "/v1/triage", json={"closers": ["omega"]}, timeout=30)
        no_target = httpx.post(url + "/v1/triage", json={"statement": "def x := 1\n"}, timeout=30)
        schema = httpx.get(url + "/openapi.json", timeout=30).json()
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == [
        "body",
        "statement",
    ]
    assert no_target.status_code == 422 and no_target.json()["error"] == "submission"
    assert "theorem" in no_target.json()["message"]
    post = schema["paths"]["/v1/triage"]["post"]
    assert post["tags"] == ["triage"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/TriageResult"
    )
    assert "503" in post["responses"]


def test_without_a_backend_503_but_a_policy_refusal_is_answered(stack: Stack) -> None:
    service = CheckerService(stack.settings)  # no stand-ins: the service cannot verify
    with run_app(create_app(stack.settings, service=service), timeout=20) as url:
        refused = httpx.post(
            url + "/v1/triage", json={"statement": "#exit\n" + VACUOUS}, timeout=30
        )
        unready = httpx.post(url + "/v1/triage", json={"statement": VACUOUS}, timeout=30)
        with proofgate.Client(url, timeout=30) as client, pytest.raises(NotReady):
            client.triage(statement=VACUOUS)
    assert refused.status_code == 200 and refused.json()["elaboration"] == "rejected"
    assert refused.json()["violations"][0]["rule"] == "exit"
    assert unready.status_code == 503 and "Retry-After" in unready.headers
