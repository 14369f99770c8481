"""Adversarial and honest cases (shared/adversarial/cases.jsonl, tests/data/adversarial.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The project's own cases: every class, run end to end by the real-Lean workflow too.
OWN_CASES = Path(__file__).resolve().parents[1] / "data" / "adversarial.jsonl"
CLASSES = ("sorry", "axiom", "kernel", "checker", "statement", "host", "resource", "honest")
FIELDS = {"id", "category", "statement", "code", "expect", "stage", "why"}


def load_cases(path: Path) -> list[dict[str, Any]]:
    """One JSON object a line; blank lines skipped."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            cases.append(json.loads(line))
    return cases
