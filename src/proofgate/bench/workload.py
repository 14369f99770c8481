"""What `proofgate bench` sends: the simulated backend's latency profile and the request mix.

Every request is a locked check in the miniF2F/DeepSeek-Prover shape (header, `set_option`,
`open`, a theorem proved by `sorry`, and a proof). Its simulated check time is drawn here, from a
seeded lognormal, and written into the proof as a `-- standin: sleep S` marker, so the bench knows
each request's backend time exactly; `-- standin: report-worker` makes the simulated REPL say which
worker ran it and when that worker finished importing its header.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

__all__ = [
    "AUDIT_OFF",
    "DEFAULT_HEADER_MIX",
    "BackendProfile",
    "Job",
    "JobFactory",
    "WorkerReport",
    "parse_worker_report",
]

#: Headers (imports only: the pool's key) and their share of requests. Most provers send
#: `import Mathlib` + `import Aesop`; some plain `import Mathlib`; a few a narrower import.
DEFAULT_HEADER_MIX: tuple[tuple[str, float], ...] = (
    ("import Mathlib\nimport Aesop", 0.6),
    ("import Mathlib", 0.3),
    ("import Mathlib.Tactic", 0.1),
)
#: The simulated REPL allocates `grow-memory` in 8 MiB steps, sleeping 10 ms after each.
_GROW_STEP_MB = 8
_GROW_STEP_SECONDS = 0.01
_REPORT_PREFIX = "worker pid="
#: A line of a request's proof that puts it on the audit-off side (a Lean comment: the simulated
#: REPL and Lean ignore it; `proofgate.bench.auditor.SwitchedAuditor` reads it).
AUDIT_OFF = "-- bench: audit off"

_STATEMENTS = (
    "theorem {name} (a b : ℝ) (h₀ : 0 < a ∧ 0 < b) (h₁ : a + b = {k}) : a * b ≤ ({k} : ℝ) ^ 2 / 4 := by sorry",
    "theorem {name} (n : ℕ) (h₀ : n % 5 = 3) : (2 * n + {k}) % 5 = (1 + {k}) % 5 := by sorry",
    "theorem {name} (x : ℝ) (h : 2 * x + {k} = 3 * x) : x = {k} := by sorry",
    "theorem {name} : (∑ i in Finset.range {k}, i) = {k} * ({k} - 1) / 2 := by sorry",
)
_TACTICS = (
    "nlinarith [sq_nonneg (a - b)]",
    "omega",
    "linarith",
    "simp [Finset.sum_range_id_mul_two]",
)


@dataclass(frozen=True)
class BackendProfile:
    """Lean-like latency of the simulated REPL: import time, lognormal check time, memory."""

    import_seconds: float = 2.0
    check_mu: float = -1.4  # log-seconds: median e^-1.4 = 0.25 s, mean about 0.28 s
    check_sigma: float = 0.5
    check_cap_seconds: float = 30.0
    memory_mb_per_check: int = 0  # kept by the worker for its life, as the REPL keeps every env
    audit_seconds: float = 0.0  # the audit-off side's simulated `ok`: its constant delay

    @property
    def mean_check_seconds(self) -> float:
        """The lognormal's mean (before the cap) plus the memory profile's allocation time."""
        return math.exp(self.check_mu + self.check_sigma**2 / 2) + self.growth_seconds

    @property
    def growth_seconds(self) -> float:
        return (self.memory_mb_per_check // _GROW_STEP_MB) * _GROW_STEP_SECONDS

    def repl_options(self) -> list[str]:
        """Command-line options of the simulated REPL (check time comes with each request)."""
        return ["--import-seconds", f"{self.import_seconds:g}"]

    def describe(self) -> dict[str, object]:
        return {
            "import_seconds": self.import_seconds,
            "check_seconds_lognormal": {"mu": self.check_mu, "sigma": self.check_sigma},
            "mean_check_seconds": round(self.mean_check_seconds, 4),
            "memory_mb_per_check": self.memory_mb_per_check,
            "audit_off_side": f"simulated ok after {self.audit_seconds:g} s (checks nothing)",
        }


@dataclass(frozen=True)
class Job:
    """One request: its JSON body, the text the REPL runs, and its exact simulated backend time."""

    index: int
    header: str
    backend_seconds: float
    body: dict[str, object]
    run: str = ""
    audit: bool = True  # False: the audit-off side (`AUDIT_OFF` in its proof)

    @property
    def request_id(self) -> str:
        """Sent as `X-Request-ID`, so the server's log lines can be matched to the request."""
        return f"bench-{self.run}-{self.index}"

    @property
    def code(self) -> str:
        """The file the service hands the pool for this request (what the driver path runs)."""
        from proofgate.models import Submission
        from proofgate.verify.assemble import assemble

        return assemble(Submission.model_validate(self.body)).text


@dataclass
class JobFactory:
    """Deterministic stream of jobs from a seed; names carry `run` so no two runs hit the cache.

    `statement_group` consecutive jobs share one statement (header included), as the completions
    of a reward group do: the audit then compiles that statement's reference once for the group.
    1, the default, makes every statement new (the reference is never cached)."""

    profile: BackendProfile
    run: str
    seed: int = 0
    header_mix: Sequence[tuple[str, float]] = DEFAULT_HEADER_MIX
    zero_latency: bool = False
    audit: bool = True  # False: every job on the audit-off side
    statement_group: int = 1
    _rng: random.Random = field(init=False, repr=False)
    _count: int = field(default=0, init=False)
    _group_header: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.statement_group < 1:
            raise ValueError(f"statement_group must be at least 1, not {self.statement_group}")
        self._rng = random.Random(f"{self.seed}:{self.run}")

    @property
    def headers(self) -> list[str]:
        return [header for header, _ in self.header_mix]

    def next(self, header: str | None = None, *, audit: bool | None = None) -> Job:
        index = self._count
        self._count += 1
        rng = self._rng
        if header is None and index % self.statement_group:
            header = self._group_header  # a group's statement keeps its header
        if header is None:
            header = rng.choices(self.headers, weights=[w for _, w in self.header_mix])[0]
        self._group_header = header
        seconds = 0.0
        if not self.zero_latency:
            drawn = rng.lognormvariate(self.profile.check_mu, self.profile.check_sigma)
            seconds = round(min(self.profile.check_cap_seconds, drawn), 6)
        group = index // self.statement_group
        template = group % len(_STATEMENTS)
        name = f"bench_{self.run}_{group}"
        statement = (
            f"{header}\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat Topology Rat\n\n"
            + _STATEMENTS[template].format(name=name, k=group % 97 + 2)
            + "\n"
        )
        lines = ["by"]
        if self.statement_group > 1:
            # a group's completions differ, so none is the result cache's answer to another's
            lines.append(f"  -- completion {index % self.statement_group} of group {group}")
        if seconds > 0:
            lines.append(f"  -- standin: sleep {seconds:.6f}")
        if self.profile.memory_mb_per_check and not self.zero_latency:
            lines.append(f"  -- standin: grow-memory {self.profile.memory_mb_per_check}")
        audited = self.audit if audit is None else audit
        if not audited:
            lines.append(f"  {AUDIT_OFF}")
        lines += ["  -- standin: report-worker", f"  {_TACTICS[template]}"]
        proof = "\n".join(lines)
        backend = seconds + (0.0 if self.zero_latency else self.profile.growth_seconds)
        body: dict[str, object] = {"statement": statement, "proof": proof}
        return Job(index, header, backend, body, self.run, audited)

    def __iter__(self) -> Iterator[Job]:
        while True:
            yield self.next()


@dataclass(frozen=True)
class WorkerReport:
    """What the simulated REPL said about the worker that ran a request (monotonic seconds)."""

    pid: int
    ready_at: float
    started_at: float


def parse_worker_report(messages: Sequence[object]) -> WorkerReport | None:
    """The `report-worker` line among a reply's or verdict's messages (dicts or `Message`s)."""
    for message in messages:
        text = (
            message.get("data", message.get("text"))
            if isinstance(message, dict)
            else getattr(message, "text", None)
        )
        if isinstance(text, str) and text.startswith(_REPORT_PREFIX):
            fields = dict(part.split("=", 1) for part in text.split()[1:] if "=" in part)
            try:
                return WorkerReport(
                    int(fields["pid"]), float(fields["ready_at"]), float(fields["started_at"])
                )
            except (KeyError, ValueError):
                return None
    return None
