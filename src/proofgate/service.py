"""The checker service: the one API every front (HTTP, CLI, CI, MCP) calls.

    assemble -> policy -> (result cache) -> REPL pool -> trusted audit -> verdict and feedback
    (`audit_compiler=zygote`:)              -> a zygote child -> warm checker -> verdict and feedback

A policy refusal, or a free compile whose `target` its code lacks, needs no Lean and is answered
even when the service cannot verify. Everything else needs a ready backend (toolchain or configured
commands, and a sandbox); without one `check` raises `NotReady` with the reason, which HTTP turns
into 503. Only the trusted audit can make a verdict `proved`: the REPL run gives feedback, and its
errors short-cut to `failed`.

Every request runs for a tenant (`proofgate.models.tenant`), on that tenant's workers only. The
cache is shared between tenants only for what the trusted side decided itself: a policy refusal,
or a verdict the audit computed from its own compile in a fresh process, with nothing of the pooled
worker's reply in it. A verdict the pooled worker decided or added to (its errors, warnings or
sorries, a failed header) is cached for the tenant whose worker answered. With zygotes, a child
forked for the request gives the feedback and the export in one elaboration, and no pooled worker
takes part (`proofgate.verify.flows`): its verdicts are shared by every tenant.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from proofgate.config import Settings
from proofgate.environments.readiness import lean_problems, readiness_reasons
from proofgate.environments.registry import Environment, discover_environments
from proofgate.exceptions import (
    NotReady,
    SandboxUnavailable,
    SubmissionError,
)
from proofgate.lean.launch import LeanReplLauncher, ReplLauncher
from proofgate.lean.pool import PoolStats, ReplPool, ReplRun
from proofgate.lean.session_workers import SessionWorkers
from proofgate.logs import get_logger
from proofgate.models import (
    Submission,
    TriageRequest,
    TriageResult,
    Verdict,
    VerdictStatus,
)
from proofgate.models.steps import TacticSteps
from proofgate.models.tenant import LOCAL
from proofgate.sandbox import detect_sandbox, select_spawner
from proofgate.sandbox.process import Spawner
from proofgate.sandbox.spawn_client import spawn_server
from proofgate.sessions.steps import tactic_steps
from proofgate.store.results import ResultCache, cache_key
from proofgate.triage import Triager
from proofgate.verify.assemble import assemble
from proofgate.verify.audit import Auditor, Audits
from proofgate.verify.completion import read_lean_input
from proofgate.verify.contract import CHECKER_ID
from proofgate.verify.flows import Prepared, Verified, verdict_of, verify_fresh, verify_on_pool
from proofgate.verify.policy import (
    PolicyConfig,
    check_submission,
    effective_profile,
)
from proofgate.verify.verdict import pins_for

__all__ = ["CheckerService", "Readiness"]

_log = get_logger("proofgate.service")


@dataclass(frozen=True)
class Readiness:
    """Whether the service can verify now, and if not, why (each reason says how to fix it)."""

    ready: bool
    reasons: list[str] = field(default_factory=list)
    sandbox: str = "none"
    pool: dict[str, object] = field(default_factory=dict)


class CheckerService:
    """Owns the pool, the auditor and the cache for the life of a process (or an app's lifespan).

    `spawner`, `launcher`, `auditor` and `cache` may be given (tests, `proofgate bench`); by default
    they come from the settings: the sandbox's spawner, `lake env repl`, the Lean checker, SQLite.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        spawner: Spawner | None = None,
        launcher: ReplLauncher | None = None,
        auditor: Audits | None = None,
        cache: ResultCache | None = None,
    ) -> None:
        self.settings = settings
        self._spawner = spawner
        self._launcher = launcher
        self._auditor = auditor
        self._cache = cache if cache is not None else ResultCache.from_settings(settings)
        self._pool: ReplPool | None = None
        self._step_workers: SessionWorkers | None = None  # `tactic_steps`' own, made on first use
        self._environments: dict[str, Environment] = {}
        self._reasons: list[str] = ["starting"]
        self._sandbox = "unknown"

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the cache, check the backend, and start the pool (warming in the background)."""
        spawn_server()  # the parent of every process the service starts, started once, now
        self._environments = discover_environments(self.settings)
        await self._cache.open()
        self._reasons = await asyncio.to_thread(self._backend_problems)
        if self._reasons:
            _log.warning("not_ready", reasons=self._reasons)
            return
        assert self._spawner is not None  # chosen by _backend_problems, or given
        self._pool = ReplPool(
            self.settings,
            spawner=self._spawner,
            launcher=self._launcher,
            environments=self._environments,
        )
        if self._auditor is None:
            self._auditor = Auditor(self.settings, spawner=self._spawner)
        await self._pool.start(wait=False)
        prewarm = getattr(self._auditor, "prewarm", None)
        if prewarm is not None:  # warm checkers, if the audit has them, importing meanwhile
            await prewarm(self._environments["default"])

    async def close(self) -> None:
        if self._step_workers is not None:
            await self._step_workers.close()
            self._step_workers = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        close = getattr(self._auditor, "close", None)
        if close is not None:
            await close()  # the auditor's warm checkers, if any ran
        await self._cache.close()

    def _backend_problems(self) -> list[str]:
        """Why this service cannot verify, each with its fix; empty when it can. The reasons are
        `readiness_reasons`, the ones `proofgate doctor` gives; a spawner given to the service
        stands in for the sandbox, so then only the Lean side is asked about."""
        repl = self._launcher is None and self.settings.repl_command is None
        audit = self._auditor is None and not (
            self.settings.checker_command and self.settings.compile_command
        )
        default = self._environments["default"]
        if self._spawner is not None:
            self._sandbox = getattr(self._spawner, "name", "custom")
            return lean_problems(self.settings, default, audit=audit) if repl or audit else []
        self._sandbox = detect_sandbox(self.settings).detail
        reasons = readiness_reasons(self.settings, default, repl=repl, audit=audit)
        if not reasons:
            try:
                self._spawner = select_spawner(self.settings)
            except SandboxUnavailable as exc:  # the jail stopped working since it was asked
                reasons.append(exc.reason)
        return reasons

    # --- state ---------------------------------------------------------------------------

    def readiness(self) -> Readiness:
        pool = self._pool.stats() if self._pool is not None else None
        summary: dict[str, object] = {}
        if pool is not None:
            summary = {
                "busy": pool.busy_workers,
                "idle": pool.idle_workers,
                "starting": pool.starting_workers,
                "queued": pool.queue_depth,
            }
        zygotes = getattr(self._auditor, "zygote_stats", None)
        if zygotes is not None and (figures := zygotes()) is not None:
            summary["zygotes"] = figures  # with zygotes, /v1/check's children, not the pool's
        return Readiness(
            ready=not self._reasons,
            reasons=list(self._reasons),
            sandbox=self._sandbox,
            pool=summary,
        )

    def pool_stats(self) -> PoolStats | None:
        return self._pool.stats() if self._pool is not None else None

    # --- what proof sessions build on ------------------------------------------------------

    def repl_backend(self) -> tuple[Spawner, ReplLauncher]:
        """The spawner and launcher the pool uses, for session workers; `NotReady` without them."""
        if self._reasons or self._spawner is None:
            raise NotReady(
                "cannot verify: " + "; ".join(self._reasons or ["the service is not started"])
            )
        return self._spawner, self._launcher or LeanReplLauncher(self.settings)

    def environments(self) -> list[dict[str, object]]:
        return [
            env.describe()
            for env in (self._environments or discover_environments(self.settings)).values()
        ]

    def environment(self, name: str) -> Environment:
        """A request's environment, looked up once here and passed down (the pool, the audit,
        triage and sessions take the value); `SubmissionError` naming the known ones."""
        environments = self._environments or discover_environments(self.settings)
        if name not in environments:
            known = ", ".join(sorted(environments))
            raise SubmissionError(
                f"unknown environment {name!r}; known: {known}", field="environment"
            )
        return environments[name]

    def timeout(self, requested: float | None = None) -> float:
        """A request's wall-clock seconds: its own, capped by `request_timeout` (also the default).
        Clamped once here and passed down; the pool and triage take the value."""
        limit = self.settings.request_timeout
        return min(requested or limit, limit)

    # --- checking ------------------------------------------------------------------------

    async def check(self, submission: Submission, *, tenant: str = LOCAL) -> Verdict:
        """Verify one submission for `tenant`. Raises `SubmissionError`, `NotReady`, `Busy` (or
        `TenantBusy`); every outcome the submission caused is a `Verdict`."""
        verdict, _, _ = await self._check(submission, tenant, infotree=None)
        return verdict

    async def check_with_infotree(
        self, submission: Submission, *, infotree: str, tenant: str = LOCAL
    ) -> tuple[Verdict, Any]:
        """`check`, with the REPL asked for its info tree at level `infotree` (the REPL's `full`,
        `tactics`, `original`, `substantive`): the verdict, and the tree as the REPL printed it
        (positions in the submitter's lines), or None where the REPL did not run the body (a
        policy refusal, a failed header, a fault) or printed none. The cache is not read (a cached
        verdict has no tree); the verdict is remembered as `check` remembers it."""
        verdict, run, _ = await self._check(submission, tenant, infotree=infotree)
        if run is None or run.header_failed:
            return verdict, None
        return verdict, run.reply.raw.get("infotree")

    async def check_with_tactics(
        self, submission: Submission, *, tenant: str = LOCAL, include_unverified: bool = False
    ) -> tuple[Verdict, TacticSteps | None]:
        """`check`, and the proof's tactic steps (`proofgate.sessions.steps`): each step the REPL
        lists with `allTactics`, run again in its proof state for the goals after it and its time.
        The steps are computed for a `proved` verdict, and with `include_unverified` for any
        verdict Lean ran to an answer; otherwise (a policy refusal, a timeout, ...) they are None.
        The verdict is `check`'s, the cache read as `check` reads it: the steps come from a run of
        their own on a session worker of `tenant` (what the REPL lists there never decides a
        verdict), so a cached verdict loses nothing. Raises as `check` does."""
        verdict, _, prepared = await self._check(submission, tenant, infotree=None)
        ran = not (verdict.status is VerdictStatus.rejected or verdict.status.is_unfinished)
        if verdict.status is VerdictStatus.proved or (include_unverified and ran):
            return verdict, await self._tactic_steps(prepared)
        return verdict, None

    async def tactic_steps(self, submission: Submission, *, tenant: str = LOCAL) -> TacticSteps:
        """The steps `check_with_tactics` gives, without a verdict (for one known already, e.g. a
        signed record's). Raises `SubmissionError`, `NotReady` or `Busy`."""
        prepared = await asyncio.to_thread(self._prepare, submission, tenant)
        return await self._tactic_steps(prepared)

    async def _tactic_steps(self, prepared: Prepared) -> TacticSteps:
        """The steps of the file the pool runs for `prepared` (the same assembly and policy pass);
        nothing runs when the policy or the assembly refused it."""
        if not prepared.policy.ok or prepared.assembled.target_missing is not None:
            return TacticSteps(code=None, note="not run: the policy or the assembly refused it")
        if self._step_workers is None:
            spawner, launcher = self.repl_backend()  # NotReady when it cannot verify
            self._step_workers = SessionWorkers(self.settings, spawner=spawner, launcher=launcher)
        self._step_workers.sweep()  # no janitor: idle and dead workers go when the next run comes
        config = PolicyConfig.from_settings(
            self.settings, profile=prepared.submission.policy, environment=prepared.environment
        )
        return await tactic_steps(
            self._step_workers,
            environment=prepared.environment,
            code=prepared.policy.code,
            config=config,
            timeout=prepared.timeout,
            tenant=prepared.tenant,
        )

    async def _check(
        self, submission: Submission, tenant: str, *, infotree: str | None
    ) -> tuple[Verdict, ReplRun | None, Prepared]:
        started = time.perf_counter()
        # Assembling, the policy pass and the cache key read the whole submitted text: in a
        # worker thread, so a large submission never stalls the loop's other requests.
        prepared = await asyncio.to_thread(self._prepare, submission, tenant)
        if not prepared.policy.ok or prepared.assembled.target_missing is not None:
            # Decided before Lean, by proofgate's own readers: the same for every tenant.
            verdict = verdict_of(prepared, started)
            await self._remember(prepared, verdict, shared=True)
            return verdict, None, prepared
        for key in (prepared.cache_key, prepared.tenant_key) if infotree is None else ():
            cached = await self._cache.get(key)
            if cached is not None:
                return cached, None, prepared
        if self._reasons or self._pool is None or self._auditor is None:
            raise NotReady(
                "cannot verify: " + "; ".join(self._reasons or ["the service is not started"])
            )
        verdict, audited, run = await self._verify(prepared, started, infotree=infotree)
        await self._remember(prepared, verdict, shared=audited)
        return verdict, run, prepared

    def _prepare(self, submission: Submission, tenant: str) -> Prepared:
        began = time.perf_counter()
        profile = effective_profile(self.settings.policy, submission.policy)
        if submission.policy != profile:  # resolved once: the cache key says what ran
            submission = submission.model_copy(update={"policy": profile})
        environment = self.environment(submission.environment)
        assembled = assemble(read_lean_input(submission))
        config = PolicyConfig.from_settings(
            self.settings, profile=submission.policy, environment=environment
        )
        policy = check_submission(assembled, config)
        allowed = sorted(set(self.settings.allowed_axioms) | set(submission.allowed_axioms))
        pins = pins_for(environment)
        shared, own = (
            cache_key(
                submission,
                pins,
                allowed_axioms=allowed,
                checker_version=CHECKER_ID,
                options={"heartbeat_cap": self.settings.heartbeat_cap},
                tenant=whose,
            )
            for whose in (None, tenant)
        )
        return Prepared(
            submission,
            environment,
            assembled,
            policy,
            allowed,
            pins,
            shared,
            own,
            tenant,
            (time.perf_counter() - began) * 1000,
            self.timeout(submission.timeout),
        )

    async def _verify(
        self, prepared: Prepared, started: float, *, infotree: str | None = None
    ) -> Verified:
        """The verdict, whether every tenant may share it, and the run (`proofgate.verify.flows`):
        one zygote child's with `audit_compiler=zygote` (not for an info tree), else the pool's
        and the audit's."""
        assert self._pool is not None and self._auditor is not None
        fresh = getattr(self._auditor, "fresh_check", None)
        if self.settings.audit_compiler == "zygote" and infotree is None and fresh is not None:
            verified = await verify_fresh(fresh, prepared, started)
            if verified is not None:
                return verified
        return await verify_on_pool(self._pool, self._auditor, prepared, started, infotree=infotree)

    async def _remember(self, prepared: Prepared, verdict: Verdict, *, shared: bool) -> None:
        """Cache a deterministic verdict: for every tenant when the trusted side decided it
        (`shared`), else for the requesting tenant only."""
        if verdict.status.is_deterministic:
            key = prepared.cache_key if shared else prepared.tenant_key
            await self._cache.put(key, verdict)

    # --- triage --------------------------------------------------------------------------

    async def triage(self, request: TriageRequest, *, tenant: str = LOCAL) -> TriageResult:
        """Triage one statement for misformalization (`proofgate.triage`) on `tenant`'s workers,
        this service's auditor and cache. Raises `SubmissionError`, `NotReady` or `Busy`, as
        `check` does."""
        environment = self.environment(request.environment)
        triager = Triager(
            self.settings,
            pool=self._pool,
            auditor=self._auditor,
            cache=self._cache,
            not_ready=self._reasons,
        )
        return await triager.triage(request, environment, timeout=self.timeout(), tenant=tenant)
