"""benchmarks/adversarial.py with a marker checker (no Lean): expectations met, missed, errors."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from proofgate.config import SOURCE_ROOT
from proofgate.exceptions import Busy
from proofgate.models import Submission, Verdict, VerdictStatus


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "adversarial_bench", SOURCE_ROOT / "benchmarks" / "adversarial.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


adv = load_script()


class MarkerChecker:
    async def check(self, submission: Submission) -> Verdict:
        code = submission.code or submission.proof or ""
        if "busy" in code:
            raise Busy("all workers are busy")
        status = VerdictStatus.incomplete if "sorry" in code else VerdictStatus.proved
        return Verdict(status=status, kind="check", target=submission.target, reason=status.value)


async def test_rows_say_whether_each_case_met_its_expectation(tmp_path: Path) -> None:
    statement = "theorem t : True := sorry"
    cases = [
        {
            "id": "honest",
            "expect": "accept",
            "statement": statement,
            "code": "theorem t : True := trivial",
        },
        {
            "id": "cheat",
            "expect": "reject",
            "statement": statement,
            "code": "theorem t : True := sorry",
        },
        {
            "id": "missed",
            "expect": "reject",
            "statement": statement,
            "code": "theorem t : True := trivial",
            "why": "not a Submission field, ignored",
        },
        {"id": "down", "expect": "accept", "statement": statement, "code": "busy"},
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    rows = [await adv.judge(case, MarkerChecker()) for case in adv.load_cases([path])]
    assert [(r["id"], r["status"], r["met"]) for r in rows] == [
        ("honest", "proved", True),
        ("cheat", "incomplete", True),
        ("missed", "proved", False),
        ("down", "error", None),
    ]
    table = adv.markdown(rows, "PROOFGATE_AUDIT_COMPILER=zygote, PROOFGATE_AUDIT_CHECKER=warm")
    assert "2/4 cases met their expectation; 1 could not be judged." in table
    assert table.startswith("Audit: PROOFGATE_AUDIT_COMPILER=zygote, PROOFGATE_AUDIT_CHECKER=warm.")
    assert "Time per case: median" in table
