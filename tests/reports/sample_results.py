"""A batch's results as a model's attempts at a benchmark might look: every verdict, cheats of
every class, item errors, retries, cached answers and a long tail of times. Deterministic (seeded)."""

from __future__ import annotations

import random
from pathlib import Path

from proofgate.batch.input import BatchRecord, ItemError
from proofgate.models import (
    Category,
    Message,
    Pins,
    Position,
    Severity,
    Timings,
    Verdict,
    VerdictStatus,
    Violation,
)

PINS = Pins(
    lean="v4.32.0",
    mathlib="81a5d257c8e410db227a6665ed08f64fea08e997",
    repl="v4.32.0",
    proofgate="0.1.0",
    checker="proofgate-checker 1",
)

_ERRORS = [
    (Category.unknown_identifier, "unknown identifier '{name}'"),
    (Category.unsolved_goals, "unsolved goals\nx : ℕ\n⊢ x + {n} = {n} + x"),
    (Category.type_mismatch, "type mismatch\n  h{n}\nhas type\n  {n} < x : Prop"),
    (Category.tactic_failed, "linarith failed to find a contradiction\ncase a\n⊢ False"),
    (Category.unknown_constant, "unknown constant '{name}'"),
    (Category.syntax, "unexpected token 'at'; expected command"),
    (
        Category.heartbeats,
        "(deterministic) timeout at `whnf`, maximum number of heartbeats ({n}) has been reached",
    ),
]
_NAMES = ["Nat.succ_le_iff'", "Finset.sum_range_succ'", "foo", "Real.sqrt_lt'", "h.trans"]
_RULES = ["eval", "heartbeats", "extern", "exit", "debug_option", "initialize"]


def _verdict(rng: random.Random, status: VerdictStatus, index: int) -> Verdict:
    seconds = rng.lognormvariate(0.3, 0.9) if status is not VerdictStatus.timeout else 60.0
    cached = rng.random() < 0.08
    timings = Timings(
        queue_ms=rng.uniform(0, 40),
        policy_ms=rng.uniform(0.5, 3),
        repl_ms=seconds * 700,
        audit_ms=seconds * 280 if status is not VerdictStatus.failed else 0.0,
        total_ms=0.4 if cached else seconds * 1000,
    )
    verdict = Verdict(
        status=status,
        kind="check",
        target="thm",
        reason=f"{status.value} (sample)",
        pins=PINS,
        timings=timings,
        content_hash=f"{index:064x}",
        cached=cached,
        axioms=["propext", "Classical.choice", "Quot.sound"],
    )
    if status is VerdictStatus.failed:
        for _ in range(rng.choice([1, 1, 1, 2])):
            category, template = rng.choice(_ERRORS)
            text = template.format(name=rng.choice(_NAMES), n=rng.randint(1, 9))
            pos = Position(line=rng.randint(2, 12), column=rng.randint(0, 8))
            verdict.messages.append(
                Message(severity=Severity.error, category=category, text=text, pos=pos)
            )
    elif status is VerdictStatus.rejected:
        rule = rng.choice(_RULES)
        verdict.violations.append(Violation(rule=rule, line=3, column=0, message=f"{rule} refused"))
        verdict.messages.append(
            Message(severity=Severity.error, category=Category.policy, text=f"[{rule}] refused")
        )
    elif status is VerdictStatus.axiom_violation:
        verdict.axioms.append(
            rng.choice(["cheat", "Lean.ofReduceBool", "Lean.ofReduceBool", "myAx"])
        )
    elif status is VerdictStatus.incomplete:
        verdict.axioms.append("sorryAx")
    elif status is VerdictStatus.statement_mismatch:
        verdict.reason = rng.choice(
            [
                "the target's type differs from the locked statement's",
                "the target is not a theorem: it is a `def`",
                "no declaration named 'thm' in the submission",
            ]
        )
    return verdict


def sample_records(count: int = 400, seed: int = 7) -> list[BatchRecord]:
    rng = random.Random(seed)
    weights = {
        VerdictStatus.proved: 34,
        VerdictStatus.failed: 40,
        VerdictStatus.incomplete: 6,
        VerdictStatus.rejected: 5,
        VerdictStatus.axiom_violation: 3,
        VerdictStatus.statement_mismatch: 4,
        VerdictStatus.timeout: 3,
        VerdictStatus.internal: 1,
    }
    statuses, chances = list(weights), list(weights.values())
    records = []
    for index in range(count):
        item_id = f"minif2f-{index:04d}"
        roll = rng.random()
        if roll < 0.02:
            error = ItemError(kind="input", line=index + 1, field="id", message="missing `id`")
            records.append(
                BatchRecord(id=f"line:{index + 1}", line=index + 1, error=error, attempts=0)
            )
            continue
        if roll < 0.03:
            error = ItemError(
                kind="submission",
                line=index + 1,
                field="environment",
                message="unknown environment 'mathlib-old'; known: default",
            )
            records.append(BatchRecord(id=item_id, line=index + 1, error=error))
            continue
        status = rng.choices(statuses, chances)[0]
        attempts = 2 if rng.random() < 0.04 else 1
        records.append(
            BatchRecord(
                id=item_id, line=index + 1, verdict=_verdict(rng, status, index), attempts=attempts
            )
        )
    return records


def write_sample_results(path: Path, count: int = 400, seed: int = 7) -> list[BatchRecord]:
    records = sample_records(count, seed)
    path.write_text("".join(record.to_line() + "\n" for record in records), encoding="utf-8")
    return records
