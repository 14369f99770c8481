"""Replay a reproducible report: check its signature, check its submission again, and say whether
the verdict reproduces, and if not, why (signature invalid, pins differ, checker changed, verdict
differs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from proofgate.models import Pins, Submission, Verdict
from proofgate.reports.record import LoadedRecord, record_submission, record_verdict
from proofgate.reports.signing import ReportKey, SignatureCheck

__all__ = ["ReplayResult", "compare_verdicts", "replay"]

Check = Callable[[Submission], Awaitable[Verdict]]
#: Pins that name what was checked against; a difference means a different experiment.
_ENVIRONMENT_PINS = ("lean", "mathlib", "repl", "environment", "lean_options")
#: Pins that name what did the checking.
_CHECKER_PINS = ("checker", "proofgate")


@dataclass
class ReplayResult:
    """What a replay found. `reasons` is empty exactly when the verdict reproduced."""

    signature: SignatureCheck
    original: Verdict
    replayed: Verdict
    reasons: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        return {
            "reproduced": self.reproduced,
            "signature": self.signature,
            "reasons": list(self.reasons),
            "original": {"status": self.original.status.value, "pins": _pins(self.original)},
            "replayed": {
                "status": self.replayed.status.value,
                "pins": _pins(self.replayed),
                "cached": self.replayed.cached,
            },
        }


def _pins(verdict: Verdict) -> dict[str, str] | None:
    return verdict.pins.model_dump(mode="json") if verdict.pins else None


def _fingerprint(verdict: Verdict) -> dict[str, Any]:
    """The parts of a verdict that depend only on submission, pins, policy and checker."""
    return {
        "status": verdict.status.value,
        "kind": verdict.kind,
        "target": verdict.target,
        "axioms": sorted(verdict.axioms),
        "answers": dict(verdict.answers),
        "violations": [(v.rule, v.line, v.column) for v in verdict.violations],
        "messages": [
            (m.severity.value, m.category.value, m.text, m.pos, m.source) for m in verdict.messages
        ],
        "sorries": [(s.goal, s.pos, s.source) for s in verdict.sorries],
    }


def compare_verdicts(original: Verdict, replayed: Verdict) -> list[str]:
    """Why `replayed` is not `original`, one reason a kind of difference (empty if the same)."""
    reasons: list[str] = []
    old, new = original.pins or _NO_PINS, replayed.pins or _NO_PINS
    for reason, names in (("pins differ", _ENVIRONMENT_PINS), ("checker changed", _CHECKER_PINS)):
        changed = [
            f"{name} {getattr(old, name)} -> {getattr(new, name)}"
            for name in names
            if getattr(old, name) != getattr(new, name)
        ]
        if changed:
            reasons.append(f"{reason}: " + "; ".join(changed))
    before, after = _fingerprint(original), _fingerprint(replayed)
    differing = [name for name in before if before[name] != after[name]]
    if differing:
        detail = f"status {before['status']} -> {after['status']}"
        if before["status"] == after["status"]:
            detail = "same status, different " + ", ".join(differing)
        elif len(differing) > 1:
            detail += " (also " + ", ".join(name for name in differing if name != "status") + ")"
        if not original.status.is_deterministic or not replayed.status.is_deterministic:
            detail += "; a timeout, out_of_memory or internal verdict depends on load, not only on"
            detail += " the proof"
        reasons.append("verdict differs: " + detail)
    return reasons


_NO_PINS = Pins(lean="?", mathlib="?", repl="?", proofgate="?", checker="?", environment="?")

_SIGNATURE_REASONS: dict[str, str] = {
    "invalid": "signature invalid: the report was edited after it was signed",
    "missing": "signature invalid: the report carries no signature",
}


async def replay(loaded: LoadedRecord, key: ReportKey, check: Check) -> ReplayResult:
    """Check the report's signature, run `check` on its submission, and compare the verdicts."""
    signature = loaded.signature(key)
    reasons: list[str] = []
    if signature in _SIGNATURE_REASONS:
        reasons.append(_SIGNATURE_REASONS[signature])
    elif signature == "unknown_key":
        signed_with = (loaded.record.get("signature") or {}).get("key_id")
        reasons.append(
            f"signature not verifiable here: signed with key {signed_with}, this machine's key is "
            f"{key.key_id}; replay where the report was signed, or set PROOFGATE_REPORT_KEY to "
            "that key"
        )
    if loaded.markdown_edited and signature == "valid":
        reasons.append("signature invalid: the Markdown around the signed record was edited")
    original = record_verdict(loaded.record)
    replayed = await check(record_submission(loaded.record))
    reasons.extend(compare_verdicts(original, replayed))
    return ReplayResult(signature, original, replayed, reasons)
