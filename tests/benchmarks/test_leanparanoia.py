"""benchmarks/leanparanoia.py on a miniature LeanParanoia checkout built in tmp_path (no Lean)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from proofgate.config import SOURCE_ROOT
from proofgate.models import Submission, Verdict, VerdictStatus


def load_script() -> ModuleType:
    path = SOURCE_ROOT / "benchmarks" / "leanparanoia.py"
    spec = importlib.util.spec_from_file_location("leanparanoia_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


lp = load_script()

FILES = {
    "tests/lean_exploit_files/Valid/Simple.lean": "-- fine\ntheorem simple_theorem : True := trivial\n",
    "tests/benchmark/references/Valid/Simple.lean": "theorem simple_theorem : True := trivial\n",
    "tests/lean_exploit_files/Sorry/Direct.lean": (
        "namespace LeanTestProject.Sorry.Direct\n\ntheorem exploit_theorem : False := sorry\n\n"
        "end LeanTestProject.Sorry.Direct\n"
    ),
    "tests/benchmark/references/Sorry/Direct.lean": (
        "namespace LeanTestProject.Sorry.Direct\n\ntheorem exploit_theorem : False := sorry\n\n"
        "end LeanTestProject.Sorry.Direct\n"
    ),
    "tests/lean_exploit_files/Transitive/BadLib.lean": (
        "import Lean\nnamespace BadLib\naxiom hiddenAssumption : ∀ n : Nat, n + 1 = n + 2\nend BadLib\n"
    ),
    "tests/lean_exploit_files/Transitive/UsesBadLib.lean": (
        "-- Uses a bad dependency\nimport LeanTestProject.Transitive.BadLib\nimport Lean\n\n"
        "theorem exploit_theorem : 1 + 1 = 3 := by\n  exact BadLib.hiddenAssumption 1\n"
    ),
    "tests/benchmark/references/Transitive/UsesBadLib.lean": "theorem exploit_theorem : 1 + 1 = 3 := sorry\n",
    "tests/lean_exploit_files/Extern/NoReference.lean": "theorem exploit_theorem : False := sorry\n",
    "tests/exploits/test_valid.py": 'CASES = [("LeanTestProject.Valid.Simple", "simple_theorem")]\n',
    "VERIFIER_COMPARISON.md": (
        "# Exploit Test Files\n\n| Exploit | LeanParanoia | lean4checker |\n|---------|--------------|--------------|\n"
        "| Sorry/Direct [↗](tests/lean_exploit_files/Sorry/Direct.lean) | 🛑 1ms | 🟢 2ms |\n"
        "| Valid/Simple [↗](tests/lean_exploit_files/Valid/Simple.lean) | 🟢 1ms | 🟢 2ms |\n---\nlegend\n"
    ),
}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for relative, text in FILES.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


class MarkerChecker:
    """Proved unless the code says `sorry` or declares an `axiom`."""

    def __init__(self) -> None:
        self.seen: list[Submission] = []

    async def check(self, submission: Submission) -> Verdict:
        self.seen.append(submission)
        code = submission.code or ""
        status = (
            VerdictStatus.incomplete
            if "sorry" in code
            else (VerdictStatus.axiom_violation if "axiom " in code else VerdictStatus.proved)
        )
        return Verdict(
            status=status, kind="check", target=submission.target, reason=f"judged {status.value}"
        )


def test_cases_follow_leanparanoias_own_naming(checkout: Path) -> None:
    cases = {c.name: c for c in lp.collect_cases(checkout)}
    assert set(cases) == {
        "Valid/Simple",
        "Sorry/Direct",
        "Transitive/UsesBadLib",
        "Extern/NoReference",
    }
    assert cases["Valid/Simple"].theorem == "simple_theorem" and cases["Valid/Simple"].expect_proved
    assert (
        cases["Sorry/Direct"].theorem == "exploit_theorem"
        and not cases["Sorry/Direct"].expect_proved
    )


def test_local_imports_are_inlined_once_with_imports_on_top(checkout: Path) -> None:
    case = next(c for c in lp.collect_cases(checkout) if c.name == "Transitive/UsesBadLib")
    submission = lp.submission_for(case, checkout)
    code = submission.code
    assert code.startswith("import Lean\n\n")
    assert code.count("import Lean") == 1 and "LeanTestProject" not in code
    assert code.index("axiom hiddenAssumption") < code.index("theorem exploit_theorem")
    assert submission.statement.rstrip().endswith("theorem exploit_theorem : 1 + 1 = 3 := sorry")


def test_the_target_gets_its_full_name(checkout: Path) -> None:
    case = next(c for c in lp.collect_cases(checkout) if c.name == "Sorry/Direct")
    assert (
        lp.submission_for(case, checkout).target == "LeanTestProject.Sorry.Direct.exploit_theorem"
    )


async def test_table_adds_a_proofgate_column(checkout: Path) -> None:
    cases = lp.collect_cases(checkout)
    outcomes = await lp.run_cases(cases, checkout, MarkerChecker())
    by_case = {o.case: o for o in outcomes}
    assert by_case["Extern/NoReference"].status == "n/a"
    assert by_case["Valid/Simple"].detected is False and by_case["Sorry/Direct"].detected is True
    assert by_case["Transitive/UsesBadLib"].status == "axiom_violation"
    table = lp.comparison_table(outcomes, (checkout / "VERIFIER_COMPARISON.md").read_text())
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert rows[0] == "| Exploit | LeanParanoia | lean4checker | proofgate |"
    assert all(row.count("|") == rows[0].count("|") for row in rows[2:]), rows
    direct = next(row for row in rows if row.startswith("| Sorry/Direct"))
    assert (
        direct.endswith("🛑 " + direct.split("🛑 ")[-1])
        and "incomplete: judged incomplete" in direct
    )
    assert any(row.startswith("| Transitive/UsesBadLib | – | – |") for row in rows)
    assert "2/3 exploit files detected, 1/1 valid files proved, 1 not run" in table
