"""`POST /v1/triage`: one statement in, its triage out (is it false, vacuous or trivial?)."""

from __future__ import annotations

from fastapi import APIRouter

from proofgate.api.deps import Service, Tenant
from proofgate.api.errors import ERROR_RESPONSES
from proofgate.models import TriageRequest, TriageResult

router = APIRouter(prefix="/v1", tags=["triage"], responses=ERROR_RESPONSES)


@router.post(
    "/triage",
    response_model=TriageResult,
    summary="Triage one statement for misformalization",
    description=(
        "A statement (a whole snippet with its header, ending in a theorem proved by `sorry`): "
        "does it elaborate, and do cheap closers prove it (`trivially_provable`), its negation "
        "(`disproved`, audited) or False from its hypotheses (`vacuous`)? Everything the "
        "statement caused is a result (200), including errors and policy refusals; 503 with "
        "Retry-After means the service cannot triage now."
    ),
)
async def triage(
    request: TriageRequest,
    tenant: Tenant,
    service: Service,
) -> TriageResult:
    return await service.triage(request, tenant=tenant)
