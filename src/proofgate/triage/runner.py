"""Triage: catch a misformalized statement before anyone tries to prove it.

    policy -> (cache) -> elaborate on the pool -> probes, concurrently, under one budget
           -> trusted audit of a closed negation -> flags, probe results, feedback

A statement that elaborates can still mean the wrong thing. Probes built by proofgate
(`proofgate.verify.probes`) ask whether cheap closers prove it as stated (`trivially_provable`),
prove its negation (`disproved`), or prove `False` from its hypotheses (`vacuous`).
`trivially_provable` and `vacuous` are signals from proofgate's own fixed tactics; `disproved` says
the statement is false, so only a negation proof the trusted auditor accepts (kernel replay,
allowed axioms only, no `sorryAx`) sets it.

Every probe goes through the same policy as a check and runs on the warm, sandboxed pool. At most
`settings.workers` of one triage's probes run at once, in order; all of them share one budget. A
probe over its own time limit or the budget is `timeout`; those not started when the budget runs
out, or whose kind an earlier closer already closed (two earlier ones for a negation, as the audit
may refuse one), are `skipped`. The budget bounds the probes; the elaboration run has the check's
timeout (`request_timeout`, resolved by the service), the audit its `audit_timeout`. Results that
depend on no timing (no timeout, no budget skip, no service fault) are cached like verdicts: a
policy refusal for every tenant, anything the pool's workers answered for the requesting tenant only
(`proofgate.models.tenant`), as its probes ran on that tenant's workers.

Tested on the stand-in REPL and checker; the probe files are untested against real Lean here (the
`lean`-marked tests in tests/triage/test_runner.py run them in the real-Lean workflow).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import (
    AuditError,
    Busy,
    ConfigError,
    NotReady,
    ProofgateError,
    ReplError,
    ReplOutOfMemory,
    ReplTimeout,
    SubmissionError,
)
from proofgate.lean.pool import ReplPool
from proofgate.logs import get_logger
from proofgate.models import (
    Message,
    Pins,
    ProbeKind,
    ProbeOutcome,
    ProbeResult,
    Severity,
    TriageRequest,
    TriageResult,
    TriageTimings,
    VerdictStatus,
    canonical_sha256,
)
from proofgate.models.tenant import LOCAL
from proofgate.store.results import ResultCache
from proofgate.triage.feedback import render_triage, triage_reason
from proofgate.verify.assemble import SourcePosition, Statement, parse_statement
from proofgate.verify.audit import AuditRequest, Audits
from proofgate.verify.contract import CompileFailure
from proofgate.verify.feedback import messages_from_repl, policy_messages, sorries_from_repl
from proofgate.verify.policy import PolicyConfig, check_source
from proofgate.verify.probes import (
    Probe,
    build_probes,
    classify_probe,
    select_closers,
    sorried_dependencies,
)
from proofgate.verify.verdict import decide_verdict, pins_for

__all__ = ["Triager"]

_log = get_logger("proofgate.triage")

#: A probe is not started with less time than this left in the budget.
MIN_PROBE_SECONDS = 0.05
#: How long past the budget a probe may still be waiting for the pool before it is cancelled.
BUDGET_GRACE_SECONDS = 1.0
#: Closed negations audited at most (in order) before `disproved` is given up.
MAX_AUDITS = 2
#: 2: the key names its tenant (per-tenant entries, issue 23); entries of format 1 are never read.
_KEY_FORMAT = 2


@dataclass
class _Run:
    """One probe's progress: its policy-checked text and, once decided, its outcome."""

    probe: Probe
    code: str = ""
    outcome: ProbeOutcome | None = None
    time_ms: float = 0.0
    detail: str = ""
    deterministic: bool = True
    audited: bool | None = None

    def decide(
        self, outcome: ProbeOutcome, detail: str = "", *, deterministic: bool = True
    ) -> None:
        self.outcome, self.detail, self.deterministic = outcome, detail, deterministic

    def result(self) -> ProbeResult:
        probe = self.probe
        closed = self.outcome is ProbeOutcome.closed
        return ProbeResult(
            kind=probe.kind,
            closer=probe.closer,
            tactic=probe.tactic,
            outcome=self.outcome or ProbeOutcome.skipped,
            time_ms=round(self.time_ms, 3),
            proof=self.code if closed else None,
            detail=self.detail,
            audited=self.audited,
        )


@dataclass
class _Elaboration:
    status: str = "ok"
    messages: list[Message] = field(default_factory=list)
    sorries: list[Any] = field(default_factory=list)
    detail: str = ""
    deterministic: bool = True


def _locate_in_statement(line: int, column: int, *, end: bool = False) -> SourcePosition:
    return SourcePosition("statement", line, column)


def _first_error(messages: Sequence[Message]) -> str:
    for message in messages:
        if message.severity is Severity.error:
            where = f" (line {message.pos.line})" if message.pos else ""
            return message.text.strip().split("\n", 1)[0][:160] + where
    return ""


class Triager:
    """Triages statements on a service's pool, auditor and cache (`CheckerService.triage`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        pool: ReplPool | None,
        auditor: Audits | None,
        cache: ResultCache,
        not_ready: Sequence[str] = (),
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._auditor = auditor
        self._cache = cache
        self._not_ready = list(not_ready)

    async def triage(
        self,
        request: TriageRequest,
        environment: Environment,
        *,
        timeout: float,
        tenant: str = LOCAL,
    ) -> TriageResult:
        """Triage one statement on the service's resolved `environment`, on `tenant`'s workers;
        the elaboration runs with `timeout` (the check's, clamped by the service). Raises `SubmissionError` (malformed
        statement or closers), `NotReady` and `Busy` as a check does; everything the statement
        causes is a result."""
        started = time.perf_counter()
        settings = self._settings
        statement = parse_statement(request.statement, target=request.target)
        closers = select_closers(request.closers, settings.triage_closers)
        budget = min(request.budget or settings.triage_budget, settings.triage_budget)
        heartbeats = min(settings.triage_heartbeats, settings.heartbeat_cap)
        try:
            probes = build_probes(statement, closers, heartbeats=heartbeats)
        except ValueError as exc:  # parse_statement found a target the probe builder cannot read
            raise SubmissionError(
                f"proofgate cannot build probes for this statement ({exc}); write the target as "
                "`theorem name binders : type := by sorry`",
                field="statement",
            ) from exc
        config = PolicyConfig.from_settings(
            settings, profile=request.policy, environment=environment
        )
        policy = await asyncio.to_thread(check_source, statement.text, config)  # CPU: off the loop
        timings = TriageTimings(policy_ms=(time.perf_counter() - started) * 1000)
        pins = pins_for(environment)
        base = TriageResult(
            target=statement.target_name,
            elaboration="ok",
            answer_holes=list(statement.holes),
            sorried_definitions=sorried_dependencies(statement),
            closers=closers,
            budget=budget,
            pins=pins,
            content_hash=request.content_hash(),
        )
        key = self._key(request, closers, budget, heartbeats, pins, tenant=None)
        if not policy.ok:
            messages = [
                m.model_copy(update={"source": "statement"})
                for m in policy_messages(policy.violations, notes=policy.notes)
            ]
            elaboration = _Elaboration("rejected", messages)
            result = self._finish(base, statement, elaboration, [], timings, started)
            result.violations = list(policy.violations)
            await self._remember(key, result)
            return result
        key = self._key(request, closers, budget, heartbeats, pins, tenant=tenant)
        cached = await self._cached(key)
        if cached is not None:
            return cached
        if self._not_ready or self._pool is None or self._auditor is None:
            reasons = self._not_ready or ["the service is not started"]
            raise NotReady("cannot triage: " + "; ".join(reasons))
        began = time.perf_counter()
        elaboration = await self._elaborate(policy.code, environment, timeout, tenant)
        timings.elaboration_ms = (time.perf_counter() - began) * 1000
        runs: list[_Run] = []
        if elaboration.status == "ok":
            runs = await asyncio.to_thread(self._prepare, probes, config)
            began = time.perf_counter()
            await self._run_probes(runs, environment, budget, tenant)
            timings.probes_ms = (time.perf_counter() - began) * 1000
            began = time.perf_counter()
            await self._audit_negations(runs, environment, config)
            timings.audit_ms = (time.perf_counter() - began) * 1000
        result = self._finish(base, statement, elaboration, runs, timings, started)
        if elaboration.deterministic and all(run.deterministic for run in runs):
            await self._remember(key, result)
        return result

    # --- stages ------------------------------------------------------------------------------

    async def _elaborate(
        self, code: str, environment: Environment, timeout: float, tenant: str
    ) -> _Elaboration:
        """The statement as written, on the pool: does it elaborate?"""
        assert self._pool is not None
        try:
            run = await self._pool.run(
                code, environment=environment, timeout=timeout, tenant=tenant
            )
        except ReplTimeout as exc:
            return _Elaboration("timeout", detail=str(exc), deterministic=False)
        except ReplOutOfMemory as exc:
            return _Elaboration("out_of_memory", detail=str(exc), deterministic=False)
        except ReplError as exc:
            _log.info("triage_elaboration_failed", error=type(exc).__name__, detail=str(exc)[:200])
            return _Elaboration("internal", detail=str(exc), deterministic=False)
        messages = messages_from_repl(run.reply.messages, locate=_locate_in_statement)
        sorries = sorries_from_repl(run.reply.sorries, locate=_locate_in_statement)
        failed = run.header_failed or run.reply.has_errors
        return _Elaboration("failed" if failed else "ok", messages, sorries)

    def _prepare(self, probes: list[Probe], config: PolicyConfig) -> list[_Run]:
        """Every probe, through the policy; refused or pointless ones decided already."""
        runs: list[_Run] = []
        for probe in probes:
            run = _Run(probe)
            policy = check_source(probe.source, config)
            run.code = policy.code
            if probe.skip_reason is not None:
                run.decide(ProbeOutcome.skipped, probe.skip_reason)
            elif not policy.ok:
                first = policy.violations[0]
                run.decide(
                    ProbeOutcome.failed, f"refused by policy: [{first.rule}] {first.message}"
                )
            runs.append(run)
        return runs

    async def _run_probes(
        self, runs: list[_Run], environment: Environment, budget: float, tenant: str
    ) -> None:
        """Run the undecided probes in order, `workers` at a time, all within `budget` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        gate = asyncio.Semaphore(max(1, self._settings.workers))
        closed: dict[ProbeKind, list[int]] = {kind: [] for kind in ProbeKind}

        async def one(run: _Run) -> None:
            probe = run.probe
            async with gate:
                # a negation may still be refused by the audit: keep MAX_AUDITS candidates
                enough = MAX_AUDITS if probe.kind is ProbeKind.disproved else 1
                if sum(order < probe.order for order in closed[probe.kind]) >= enough:
                    run.decide(ProbeOutcome.skipped, "an earlier closer already closed it")
                    return
                remaining = deadline - loop.time()
                if remaining < MIN_PROBE_SECONDS:
                    run.decide(
                        ProbeOutcome.skipped, "the total budget ran out", deterministic=False
                    )
                    return
                await self._probe(
                    run, environment, min(self._settings.triage_probe_timeout, remaining), tenant
                )
                if run.outcome is ProbeOutcome.closed:
                    closed[probe.kind].append(probe.order)

        tasks = [asyncio.ensure_future(one(run)) for run in runs if run.outcome is None]
        try:
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=budget + BUDGET_GRACE_SECONDS)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
        for run in runs:
            if run.outcome is None:
                run.decide(ProbeOutcome.skipped, "the total budget ran out", deterministic=False)

    async def _probe(
        self, run: _Run, environment: Environment, timeout: float, tenant: str
    ) -> None:
        """One probe on the pool; its outcome goes into `run`."""
        assert self._pool is not None
        began = time.perf_counter()
        try:
            replied = await self._pool.run(
                run.code, environment=environment, timeout=timeout, tenant=tenant
            )
        except ReplTimeout:
            run.decide(
                ProbeOutcome.timeout, f"no answer within {timeout:.3g} s", deterministic=False
            )
        except ReplOutOfMemory:
            run.decide(
                ProbeOutcome.failed, "the probe went over the memory cap", deterministic=False
            )
        except Busy as exc:
            run.decide(ProbeOutcome.skipped, f"the pool is saturated: {exc}", deterministic=False)
        except (ReplError, ProofgateError) as exc:
            run.decide(
                ProbeOutcome.failed,
                f"proofgate could not run this probe: {exc}",
                deterministic=False,
            )
        except asyncio.CancelledError:
            run.decide(
                ProbeOutcome.timeout, "the total budget ran out while it ran", deterministic=False
            )
            run.time_ms = (time.perf_counter() - began) * 1000
            raise
        else:
            run.decide(*classify_probe(replied.reply, run.probe))
        run.time_ms = (time.perf_counter() - began) * 1000

    async def _audit_negations(
        self, runs: list[_Run], environment: Environment, config: PolicyConfig
    ) -> None:
        """The trusted audit of the first closed negations: only an accepted one sets `disproved`."""
        closed = [
            run
            for run in runs
            if run.probe.kind is ProbeKind.disproved and run.outcome is ProbeOutcome.closed
        ]
        for run in sorted(closed, key=lambda r: r.probe.order)[:MAX_AUDITS]:
            accepted, detail, deterministic = await self._audit(run, environment, config)
            run.audited, run.detail = accepted, detail
            run.deterministic = run.deterministic and deterministic
            if accepted:
                return

    async def _audit(
        self, run: _Run, environment: Environment, config: PolicyConfig
    ) -> tuple[bool, str, bool]:
        """(accepted, what the audit said, whether that answer is deterministic)."""
        assert self._auditor is not None and run.probe.negation_statement is not None
        allowed = tuple(sorted(set(self._settings.allowed_axioms)))
        reference = (
            await asyncio.to_thread(check_source, run.probe.negation_statement, config)
        ).code
        try:
            outcome = await self._auditor.audit(
                AuditRequest(
                    environment=environment,
                    statement=reference,
                    code=run.code,
                    target=run.probe.name,
                    allowed_axioms=allowed,
                )
            )
        except SubmissionError as exc:
            return False, f"the audit could not compile the negation: {exc}", True
        except (AuditError, ReplError, ConfigError, NotReady) as exc:
            _log.warning("triage_audit_failed", error=type(exc).__name__, detail=str(exc)[:200])
            return False, f"the trusted audit could not conclude: {exc}", False
        if isinstance(outcome, CompileFailure):
            transient = outcome.timed_out or outcome.out_of_memory
            return (
                False,
                f"the audit could not compile the negation proof: {outcome}",
                not transient,
            )
        status, reason = decide_verdict(
            kind="check",
            violations=(),
            repl_messages=(),
            audit=outcome,
            allowed_axioms=allowed,
            target=run.probe.name,
        )
        if status is VerdictStatus.proved:
            return True, "audited: kernel-checked, allowed axioms only", True
        return (
            False,
            f"the audit refused the negation proof ({status.value}): {reason}",
            (status.is_deterministic),
        )

    # --- result ------------------------------------------------------------------------------

    def _finish(
        self,
        base: TriageResult,
        statement: Statement,
        elaboration: _Elaboration,
        runs: list[_Run],
        timings: TriageTimings,
        started: float,
    ) -> TriageResult:
        results = [run.result() for run in runs]
        closed_by: dict[ProbeKind, str] = {}
        negation_proof = None
        for run, result in sorted(zip(runs, results, strict=True), key=lambda p: p[0].probe.order):
            if result.outcome is not ProbeOutcome.closed or result.kind in closed_by:
                continue
            if result.kind is ProbeKind.disproved:
                if not run.audited:
                    continue
                negation_proof = run.code
            closed_by[result.kind] = result.tactic
        timings.total_ms = (time.perf_counter() - started) * 1000
        triaged = base.model_copy(
            update={
                "elaboration": elaboration.status,
                "trivially_provable": ProbeKind.trivially_provable in closed_by,
                "disproved": ProbeKind.disproved in closed_by,
                "vacuous": ProbeKind.vacuous in closed_by,
                "closed_by": closed_by,
                "negation_proof": negation_proof,
                "probes": results,
                "messages": elaboration.messages,
                "sorries": elaboration.sorries,
                "timings": timings,
            }
        )
        triaged.reason = triage_reason(
            triaged, detail=elaboration.detail or _first_error(elaboration.messages)
        )
        triaged.feedback = render_triage(triaged, statement.text)
        return triaged

    # --- cache -------------------------------------------------------------------------------

    def _key(
        self,
        request: TriageRequest,
        closers: list[str],
        budget: float,
        heartbeats: int,
        pins: Pins,
        *,
        tenant: str | None,
    ) -> str:
        """Everything a deterministic triage depends on; `tenant` None for what every tenant may
        share (a policy refusal)."""
        settings = self._settings
        payload = {
            "kind": "triage",
            "tenant": tenant,
            "format": _KEY_FORMAT,
            "request": request.content_hash(),
            "closers": closers,
            "budget": budget,
            "probe_timeout": settings.triage_probe_timeout,
            "heartbeats": heartbeats,
            "heartbeat_cap": settings.heartbeat_cap,
            "allowed_axioms": sorted(set(settings.allowed_axioms)),
            "pins": pins.model_dump(mode="json"),
        }
        return canonical_sha256(payload)

    async def _cached(self, key: str) -> TriageResult | None:
        document = await self._cache.get_document(key)
        if document is None:
            return None
        try:
            result = TriageResult.model_validate_json(document)
        except ValidationError:
            return None  # written by an incompatible version: recompute and replace it
        return result.model_copy(update={"cached": True})

    async def _remember(self, key: str, result: TriageResult) -> None:
        await self._cache.put_document(key, "triage", result.model_dump_json())
