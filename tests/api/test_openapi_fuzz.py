"""Property-based fuzz of the OpenAPI contract against real uvicorn on loopback: never a 5xx.

schemathesis generates valid and invalid requests from `/openapi.json` and checks each answer
against the schema (status codes, content types, bodies) as well as "no server error". Bounded:
a fixed number of examples per operation, no shrinking database, well under a minute in all.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings

from proofgate.api.app import create_app
from proofgate.config import Settings
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

#: Examples per (operation, mode); the body-taking route gets the most.
_EXAMPLES = {"/v1/check": 300}
_DEFAULT_EXAMPLES = 15
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


def _fuzz(
    operation: schemathesis.APIOperation, mode: GenerationMode, url: str, statuses: set[int]
) -> Callable[[], None]:
    """A bounded hypothesis test of one operation in one generation mode."""
    checks = [*_CHECKS, _refused] if mode is GenerationMode.NEGATIVE else _CHECKS

    @hypothesis_settings(
        max_examples=_EXAMPLES.get(operation.path, _DEFAULT_EXAMPLES),
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


@pytest.mark.timeout(90)
def test_generated_requests_never_get_a_server_error(settings: Settings) -> None:
    # 64 KiB keeps the 413 path reachable without sending megabytes on every example.
    small = settings.model_copy(update={"max_body_bytes": 65_536})
    service = FakeServiceWithPool()
    with run_app(create_app(small, service=service)) as url:  # type: ignore[arg-type]
        raw = httpx.get(url + "/openapi.json").json()
        schema = schemathesis.openapi.from_dict(raw)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {op.path for op in operations} >= {"/v1/check", "/v1/environments", "/readyz"}
        statuses: set[int] = set()
        for operation in operations:
            takes_input = bool(list(operation.iter_parameters())) or bool(operation.body)
            modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])
            for mode in modes:
                _fuzz(operation, mode, url, statuses)()
    assert all(code < 500 for code in statuses)
    assert {200, 422} <= statuses  # the fuzz reached both the verdict and the refusal paths
    assert service.seen  # and some generated submissions got through to the service
