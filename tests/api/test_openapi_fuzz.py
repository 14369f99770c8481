"""Property-based fuzz of the OpenAPI contract against real uvicorn on loopback: never a 500.

schemathesis generates valid and invalid requests from `/openapi.json` and checks each answer
against the schema (status codes, content types, bodies), that invalid input is refused with 4xx,
and that no server error comes back. Two runs: the fronts on a fake service (every verdict path),
and the real `CheckerService` without Lean (assembly, policy and the cache on every generated
submission; 503 with Retry-After is its designed answer for the rest). Bounded: a fixed number of
examples per operation, no example database, about 20 s in all on 2 cores.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

from proofgate.api.app import create_app
from proofgate.config import Settings
from proofgate.service import CheckerService
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

#: The bound on one fuzz run: about 20 s on 2 quiet cores, several times that on a busy machine.
FUZZ_TIMEOUT_SECONDS = 300
#: Examples per (operation, mode); the body-taking route gets the most.
_EXAMPLES = {"/v1/check": 300}
_DEFAULT_EXAMPLES = 15
_CORE_PATHS = frozenset({"/v1/check", "/v1/environments", "/healthz", "/readyz", "/metrics"})
_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _refused(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Invalid data must be refused with 4xx; 413 (too large) counts, the stock check omits it."""
    if response.status_code == 413:
        return True
    return negative_data_rejection(ctx, response, case)  # type: ignore[arg-type]


def _unready_is_not_a_failure(
    ctx: object, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A service without Lean answers 503 with Retry-After, by design; any other 5xx is a bug."""
    if response.status_code == 503:
        assert "retry-after" in {name.lower() for name in response.headers}, (
            "503 without Retry-After"
        )
        return True
    return not_a_server_error(ctx, response, case)  # type: ignore[arg-type]


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    url: str,
    statuses: set[int],
    *,
    unready: bool = False,
    check_examples: int = _EXAMPLES["/v1/check"],
) -> Callable[[], None]:
    """A bounded hypothesis test of one operation in one generation mode."""
    checks = list(_CHECKS)
    if unready:
        checks[0] = _unready_is_not_a_failure
    if mode is GenerationMode.NEGATIVE:
        checks.append(_refused)

    @hypothesis_settings(
        max_examples=check_examples
        if operation.path == "/v1/check"
        else _EXAMPLES.get(operation.path, _DEFAULT_EXAMPLES),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, timeout=10)
        statuses.add(response.status_code)
        case.validate_response(response, checks=checks)

    return exercise


def _fuzz_app(
    app: object,
    *,
    unready: bool = False,
    check_examples: int = 300,
    only: frozenset[str] | None = None,
) -> set[int]:
    """Every operation of `app`'s schema (or those under `only`), valid and invalid requests."""
    statuses: set[int] = set()
    with run_app(app) as url:
        raw = httpx.get(url + "/openapi.json").json()
        schema = schemathesis.openapi.from_dict(raw)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/v1/check", "/v1/environments", "/readyz"}
        for operation in operations:
            if only is not None and operation.path not in only:
                continue
            takes_input = bool(list(operation.iter_parameters())) or bool(operation.body)
            modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])
            for mode in modes:
                _fuzz(
                    operation, mode, url, statuses, unready=unready, check_examples=check_examples
                )()
    assert all(code < 500 or (unready and code == 503) for code in statuses)
    return statuses


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
def test_the_real_service_without_lean_never_gives_a_server_error(settings: Settings) -> None:
    """Assembly, policy and the cache run on every generated submission; the rest is 503."""
    small = settings.model_copy(update={"max_body_bytes": 65_536})
    app = create_app(small, service=CheckerService(small))
    statuses = _fuzz_app(app, unready=True, check_examples=120)
    assert {200, 422, 503} <= statuses  # refusals, malformed requests, and "needs Lean"


@pytest.mark.timeout(FUZZ_TIMEOUT_SECONDS)
def test_generated_requests_never_get_a_server_error(settings: Settings) -> None:
    # 64 KiB keeps the 413 path reachable without sending megabytes on every example.
    small = settings.model_copy(update={"max_body_bytes": 65_536})
    service = FakeServiceWithPool()
    # The fake has the service's core methods only: routes needing more (batch, triage) are fuzzed
    # on the real service above.
    app = create_app(small, service=service)  # type: ignore[arg-type]
    statuses = _fuzz_app(app, only=_CORE_PATHS)
    assert {200, 422} <= statuses  # the fuzz reached both the verdict and the refusal paths
    assert service.seen  # and some generated submissions got through to the service
