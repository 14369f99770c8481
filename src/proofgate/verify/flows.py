"""From a prepared submission to its verdict: the REPL pool then the trusted audit, or one
zygote child that does both (`audit_compiler=zygote`); `CheckerService` runs one or the other.

`verify_on_pool`: a pooled worker of the tenant gives the feedback; when it found no error, the
trusted audit (`Audits.audit`) decides. The verdict may be shared by every tenant only when the
audit decided it, ran to an answer, and the worker added nothing to it (no message, no sorry).

`verify_fresh`: a child forked for this request elaborates it (`Auditor.fresh_check`): its reply
is the feedback and its export what the warm checker judges. No REPL worker takes part and the
child saw no other request, so what it says depends on the text alone: its verdict is shared.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from proofgate.environments.registry import Environment
from proofgate.exceptions import AuditError, ConfigError, ReplError
from proofgate.lean.pool import ReplPool, ReplRun
from proofgate.logs import get_logger
from proofgate.models import Pins, Submission, Timings, Verdict
from proofgate.verify.assemble import Assembled
from proofgate.verify.audit import AuditOutput, AuditRequest, Audits
from proofgate.verify.policy import PolicyResult
from proofgate.verify.verdict import AuditResult, InfraFailure, build_verdict

__all__ = [
    "FreshCheck",
    "Prepared",
    "Verified",
    "audit_request",
    "verdict_of",
    "verify_fresh",
    "verify_on_pool",
]

_log = get_logger("proofgate.service")

#: The verdict, whether every tenant may share it, and the REPL-shaped run it came from.
Verified = tuple[Verdict, bool, ReplRun | None]
#: `Auditor.fresh_check`: the run and the audit's answer, or None to leave it to the pool.
FreshCheck = Callable[..., Awaitable["tuple[ReplRun, AuditOutput | None] | None"]]


@dataclass
class Prepared:
    """A submission after assembly and policy, with what its verdict depends on."""

    submission: Submission
    environment: Environment
    assembled: Assembled
    policy: PolicyResult
    allowed_axioms: list[str]
    pins: Pins
    cache_key: str  # shared by every tenant: for what the trusted side decides
    tenant_key: str  # the tenant's own: for what its pooled worker decided
    tenant: str
    policy_ms: float
    timeout: float  # the request's wall-clock seconds, clamped once (`CheckerService.timeout`)


async def verify_on_pool(
    pool: ReplPool,
    auditor: Audits,
    prepared: Prepared,
    started: float,
    *,
    infotree: str | None = None,
) -> Verified:
    """The REPL pool's run, then the trusted audit when the run has no error."""
    run: ReplRun | None = None
    audit: AuditResult = None
    infra: InfraFailure | None = None
    audit_ms = 0.0
    try:
        run = await pool.run(
            prepared.policy.code,
            environment=prepared.environment,
            timeout=prepared.timeout,
            infotree=infotree,
            tenant=prepared.tenant,
        )
    except ReplError as exc:
        infra = InfraFailure.from_exception(exc)
        _log.info("repl_failed", error=type(exc).__name__, detail=str(exc)[:200])
    if run is not None and not run.header_failed and not run.reply.has_errors:
        audit_began = time.perf_counter()
        try:
            audit = await auditor.audit(audit_request(prepared))
        except (AuditError, ReplError, ConfigError) as exc:
            infra = InfraFailure.from_exception(exc)
            _log.warning("audit_failed", error=type(exc).__name__, detail=str(exc)[:200])
        audit_ms = (time.perf_counter() - audit_began) * 1000
    timings = Timings(
        queue_ms=run.queue_ms if run else 0.0,
        policy_ms=prepared.policy_ms,
        repl_ms=run.run_ms if run else 0.0,
        audit_ms=audit_ms,
    )
    verdict = verdict_of(prepared, started, run=run, audit=audit, infra=infra, timings=timings)
    worker_said_nothing = run is not None and not (run.reply.messages or run.reply.sorries)
    return verdict, audit is not None and worker_said_nothing, run


async def verify_fresh(fresh: FreshCheck, prepared: Prepared, started: float) -> Verified | None:
    """One zygote child's feedback and audit (`Auditor.fresh_check`). None when the auditor
    leaves this request to the REPL pool (`proofgate bench`'s audit-off side)."""
    run: ReplRun | None = None
    audit: AuditResult = None
    infra: InfraFailure | None = None
    began = time.perf_counter()
    try:
        fresh_result = await fresh(audit_request(prepared), timeout=prepared.timeout)
        if fresh_result is None:
            return None
        run, audit = fresh_result
    except (AuditError, ReplError, ConfigError) as exc:
        infra = InfraFailure.from_exception(exc)
        _log.warning("fresh_check_failed", error=type(exc).__name__, detail=str(exc)[:200])
    spent_ms = (time.perf_counter() - began) * 1000
    queue_ms, repl_ms = (run.queue_ms, run.run_ms) if run is not None else (0.0, 0.0)
    timings = Timings(
        queue_ms=queue_ms,
        policy_ms=prepared.policy_ms,
        repl_ms=repl_ms,
        audit_ms=max(0.0, spent_ms - queue_ms - repl_ms),
    )
    verdict = verdict_of(prepared, started, run=run, audit=audit, infra=infra, timings=timings)
    return verdict, infra is None, run


def verdict_of(
    prepared: Prepared,
    started: float,
    *,
    run: ReplRun | None = None,
    audit: AuditResult = None,
    infra: InfraFailure | None = None,
    timings: Timings | None = None,
) -> Verdict:
    """The verdict of what ran (nothing, for a submission decided before Lean)."""
    timings = timings or Timings(policy_ms=prepared.policy_ms)
    timings.total_ms = (time.perf_counter() - started) * 1000
    return build_verdict(
        assembled=prepared.assembled,
        policy=prepared.policy,
        allowed_axioms=prepared.allowed_axioms,
        repl_reply=run.reply if run else None,
        audit=audit,
        infra_error=infra,
        content_hash=prepared.submission.content_hash(),
        pins=prepared.pins,
        timings=timings,
    )


def audit_request(prepared: Prepared) -> AuditRequest:
    """What the trusted audit is asked about a prepared submission."""
    return AuditRequest(
        environment=prepared.environment,
        statement=prepared.policy.statement if prepared.assembled.kind == "check" else None,
        code=prepared.policy.code,
        target=prepared.assembled.target,
        answer_holes=tuple(prepared.assembled.answer_holes),
        allowed_axioms=tuple(prepared.allowed_axioms),
    )
