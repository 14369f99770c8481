"""`POST /v1/check` and its error mapping, over real uvicorn with a fake service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from proofgate.exceptions import (
    Busy,
    LeanUnavailable,
    NotReady,
    SandboxUnavailable,
    SubmissionError,
)
from proofgate.models import Verdict, VerdictStatus
from tests.api.conftest import LiveApp
from tests.support.waiting import until

LOCKED = {"statement": "theorem t : 1 = 1 := by sorry", "proof": "by rfl"}


def test_a_locked_check_returns_its_verdict(live: LiveApp) -> None:
    response = live.http.post("/v1/check", json=LOCKED)
    assert response.status_code == 200
    verdict = Verdict.model_validate_json(response.content)
    assert verdict.status is VerdictStatus.proved and verdict.kind == "check"
    assert live.service.seen[-1].proof == "by rfl"


def test_a_policy_refusal_is_a_verdict_not_an_error(live: LiveApp) -> None:
    response = live.http.post("/v1/check", json={"code": "import Mathlib\n#exit"})
    assert response.status_code == 200
    verdict = response.json()
    assert verdict["status"] == "rejected"
    assert verdict["violations"][0]["line"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": 3}, "code"),
        ({"code": "x", "timeout": "soon"}, "timeout"),
        ({"code": "x", "timeout": -1}, "timeout"),
        ({"code": "x", "environment": "../etc"}, "environment"),
        ({"code": "x", "policy": "lenient"}, "policy"),
        ({"code": "x", "unexpected": 1}, "unexpected"),
        ({"statement": "theorem t : True := sorry", "code": "x", "proof": "y"}, "body"),
        ({}, "body"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    live: LiveApp, body: dict[str, object], field: str
) -> None:
    response = live.http.post("/v1/check", json=body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "validation"
    named = {".".join(str(p) for p in issue["loc"][1:]) or "body" for issue in payload["detail"]}
    assert field in named
    assert field in payload["message"]
    assert payload["request_id"] == response.headers["x-request-id"]
    assert not live.service.seen


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"code=x", "application/x-www-form-urlencoded"),
        (b"just text", "text/plain"),
        (b"[1, 2]", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"", "application/json"),
    ],
)
def test_non_json_bodies_are_422(live: LiveApp, content: bytes, content_type: str) -> None:
    response = live.http.post("/v1/check", content=content, headers={"content-type": content_type})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_invalid_json_says_so(live: LiveApp) -> None:
    response = live.http.post(
        "/v1/check", content=b'{"code": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["message"]


def test_body_over_the_limit_by_content_length_is_413(live: LiveApp) -> None:
    response = live.http.post("/v1/check", json={"code": "x" * 1_100_000})
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert "PROOFGATE_MAX_BODY_BYTES" in response.json()["message"]
    assert response.headers["x-request-id"]
    assert not live.service.seen


def test_streamed_body_over_the_limit_is_413(live: LiveApp) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"code": "'
        for _ in range(40):
            yield b"x" * 50_000
        yield b'"}'

    response = live.http.post(
        "/v1/check", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers  # really chunked
    assert response.status_code == 413
    assert not live.service.seen


def test_streamed_body_under_the_limit_is_accepted(live: LiveApp) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"code": "'
        for _ in range(10):
            yield b"x" * 10_000
        yield b'"}'

    response = live.http.post(
        "/v1/check", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert len(live.service.seen[-1].code or "") == 100_000


@pytest.mark.parametrize(
    ("error", "kind", "retry_after"),
    [
        (
            LeanUnavailable("toolchain v4.32.0 not found: run `proofgate setup`"),
            "lean_unavailable",
            "30",
        ),
        (
            SandboxUnavailable("bubblewrap missing: apt-get install bubblewrap"),
            "sandbox_unavailable",
            "30",
        ),
        (NotReady("pool warming", retry_after=4.2), "not_ready", "5"),
        (Busy("all 4 workers are busy", retry_after=2), "busy", "2"),
    ],
)
def test_service_unready_or_busy_is_503_with_retry_after(
    live: LiveApp, error: Exception, kind: str, retry_after: str
) -> None:
    live.service.raises = error
    response = live.http.post("/v1/check", json={"code": "x"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == retry_after
    body = response.json()
    assert body["error"] == kind
    assert str(error) in body["message"] and body["reason"] == str(error)
    # the body carries the service's own estimate only; without one, clients do not keep retrying
    estimate = getattr(error, "retry_after", None)
    assert body.get("retry_after") == estimate


def test_submission_error_is_422_naming_its_field(live: LiveApp) -> None:
    live.service.raises = SubmissionError(
        "unknown environment 'nope'; known: default", field="environment"
    )
    response = live.http.post("/v1/check", json={"code": "x", "environment": "nope"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"][0]["loc"] == ["body", "environment"]
    assert body["message"].startswith("environment: unknown environment")


def test_an_unexpected_exception_is_a_json_500_with_the_request_id(
    live: LiveApp, capfd: pytest.CaptureFixture[str]
) -> None:
    live.service.raises = RuntimeError("boom in the pipeline")
    response = live.http.post("/v1/check", json={"code": "x"}, headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 500
    body = response.json()
    assert body == {
        "error": "internal",
        "message": body["message"],
        "request_id": "trace-42",
    }
    assert "trace-42" in body["message"] and "boom" not in body["message"]
    assert response.headers["x-request-id"] == "trace-42"
    logged = capfd.readouterr()
    assert "boom in the pipeline" in logged.out + logged.err


def test_request_ids_are_generated_or_accepted_when_sane(live: LiveApp) -> None:
    first = live.http.get("/healthz").headers["x-request-id"]
    second = live.http.get("/healthz").headers["x-request-id"]
    assert first != second and len(first) >= 16
    assert (
        live.http.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    for insane in ("a b", "x" * 500, "<script>", ""):
        echoed = live.http.get("/healthz", headers={"X-Request-ID": insane}).headers["x-request-id"]
        assert echoed != insane
    # even on a 404
    assert (
        live.http.get("/nowhere", headers={"X-Request-ID": "r-404"}).headers["x-request-id"]
        == "r-404"
    )


def test_concurrent_checks_are_served_concurrently(live: LiveApp) -> None:
    import concurrent.futures
    import threading

    def post(i: int) -> int:
        return live.http.post("/v1/check", json={"code": f"c{i}"}, timeout=90).status_code

    live.service.gate = gate = threading.Event()  # each check stays in the backend until opened
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        try:
            answers = [pool.submit(post, i) for i in range(4)]
            # all four are inside the backend at once: served side by side, not one after another
            assert until(lambda: live.service.inside == 4), live.service.inside
        finally:
            gate.set()
        codes = [answer.result(timeout=90) for answer in answers]
    assert codes == [200] * 4
    assert live.service.most_inside == 4


def test_openapi_documents_the_contract(live: LiveApp) -> None:
    schema = live.http.get("/openapi.json").json()
    check = schema["paths"]["/v1/check"]["post"]
    assert check["tags"] == ["check"]
    assert set(check["responses"]) >= {"200", "413", "422", "503"}
    assert "Retry-After" in check["responses"]["503"]["headers"]
    assert {"Submission", "Verdict", "ErrorBody"} <= set(schema["components"]["schemas"])
    assert live.http.get("/docs").status_code == 200


def test_lone_surrogates_do_not_crash_the_server(live: LiveApp) -> None:
    response = live.http.post(
        "/v1/check", content=b'{"code": "\\ud800 x"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "code"]


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (
            "cannot verify: toolchain v4.32.0 not found",
            "cannot verify now: toolchain v4.32.0 not found",
        ),
        ("cannot triage: no sandbox", "cannot triage now: no sandbox"),
        ("pool warming", "cannot verify now: pool warming"),
    ],
)
def test_the_503_message_says_cannot_verify_once(live: LiveApp, reason: str, message: str) -> None:
    """Issue 30, defect 6: the service's reason already says "cannot verify"; the message does not
    repeat it ("cannot verify now: cannot verify: ...")."""
    live.service.raises = NotReady(reason)
    body = live.http.post("/v1/check", json={"code": "x"}).json()
    assert body["message"] == message and body["reason"] == reason
