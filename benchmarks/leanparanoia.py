"""Run proofgate over LeanParanoia's exploit and valid files and print a comparison table.

LeanParanoia (oOo0oOo/LeanParanoia) collects Lean files that fool proof checkers
(`tests/lean_exploit_files/CATEGORY/NAME.lean`), each with a reference statement
(`tests/benchmark/references/CATEGORY/NAME.lean`), and compares verifiers in its
`VERIFIER_COMPARISON.md`. This script checks every case with proofgate as a locked submission and
prints that table with a proofgate column added (or a table of its own when the file is absent).

The checkout is never copied into proofgate's repository: the real-Lean workflow clones it at a
pinned commit and points this script at it.

    git clone https://github.com/oOo0oOo/LeanParanoia /tmp/lp
    git -C /tmp/lp checkout 11c2385ade3cc417d69ce837bfda9d2c5b1d61ab
    python benchmarks/leanparanoia.py /tmp/lp --out benchmarks/results/leanparanoia

How a case becomes a submission: the target theorem is the one LeanParanoia's own tests name
(default `exploit_theorem`); its local imports (`import LeanTestProject.X.Y`) are inlined, since a
submission is one file; the statement is the reference with the target's proof cut to `sorry`
(the reference as it is when the target is not a theorem, e.g. `def exploit_theorem : False`).
Needs the real toolchain (or --server): untested against real Lean here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from proofgate.backends import open_backend
from proofgate.ci.checkers import Checker
from proofgate.ci.discover import discover_text
from proofgate.config import Settings
from proofgate.exceptions import ProofgateError
from proofgate.models import Submission

EXPLOITS = Path("tests/lean_exploit_files")
REFERENCES = Path("tests/benchmark/references")
COMPARISON = Path("VERIFIER_COMPARISON.md")
#: Modules that only serve others (LeanParanoia's benchmark skips them too).
HELPER_MODULES = frozenset(
    {
        "LeanTestProject.Transitive.BadLib",
        "LeanTestProject.Transitive.DeepAxiom_L0",
        "LeanTestProject.Transitive.DeepSorry_L0",
        "LeanTestProject.Transitive.Level0_Clean",
        "LeanTestProject.Transitive.Level1_UsesClean",
    }
)
_NAMED_THEOREM = re.compile(r'"(LeanTestProject\.[^"]+)",\s*"([^"]+)"')
_LOCAL_IMPORT = re.compile(r"^import\s+LeanTestProject\.(\S+)\s*$", re.M)
_ANY_IMPORT = re.compile(r"^import\s+\S+\s*$", re.M)


@dataclass(frozen=True)
class Case:
    """One LeanParanoia file to check."""

    name: str  # CATEGORY/NAME, as in VERIFIER_COMPARISON.md
    module: str
    theorem: str  # short name, as LeanParanoia's tests give it
    expect_proved: bool  # the Valid category


@dataclass
class Outcome:
    """proofgate's answer for one case."""

    case: str
    theorem: str
    status: str  # a verdict status, or `n/a` when no submission could be made
    reason: str
    time_ms: float
    expect_proved: bool

    @property
    def detected(self) -> bool | None:
        return None if self.status == "n/a" else self.status != "proved"


def named_theorems(checkout: Path) -> dict[str, str]:
    """module -> theorem, from LeanParanoia's own tests (the last mention wins, as there)."""
    names: dict[str, str] = {}
    for test in sorted((checkout / "tests" / "exploits").glob("test_*.py")):
        for module, theorem in _NAMED_THEOREM.findall(test.read_text(encoding="utf-8")):
            names[module] = theorem
    return names


def collect_cases(checkout: Path) -> list[Case]:
    names = named_theorems(checkout)
    cases = []
    root = checkout / EXPLOITS
    for path in sorted(root.rglob("*.lean")):
        parts = path.relative_to(root).with_suffix("").parts
        if len(parts) < 2:
            continue
        module = "LeanTestProject." + ".".join(parts)
        if module in HELPER_MODULES and module not in names:
            continue
        cases.append(
            Case("/".join(parts), module, names.get(module, "exploit_theorem"), parts[0] == "Valid")
        )
    return cases


def inline_imports(text: str, base: Path, *, seen: set[str] | None = None) -> str:
    """`text` with each `import LeanTestProject.X` replaced by X's own text (once), imports on top."""
    seen = set() if seen is None else seen
    imports: list[str] = []
    bodies: list[str] = []
    for match in _LOCAL_IMPORT.finditer(text):
        module = match.group(1)
        if module in seen:
            continue
        seen.add(module)
        source = base.joinpath(*module.split(".")).with_suffix(".lean")
        if not source.is_file():
            raise FileNotFoundError(f"local import {module} not found at {source}")
        bodies.append(inline_imports(source.read_text(encoding="utf-8"), base, seen=seen))
    own = _LOCAL_IMPORT.sub("", text)
    for chunk in [*bodies, own]:
        imports.extend(line.strip() for line in _ANY_IMPORT.findall(chunk))
    body = "\n\n".join(_ANY_IMPORT.sub("", chunk).strip("\n") for chunk in [*bodies, own])
    header = "\n".join(dict.fromkeys(imports))
    return (header + "\n\n" if header else "") + body.strip("\n") + "\n"


def full_name(code: str, short: str) -> str:
    """The target's full name in `code`: the theorem whose name ends in `short`."""
    for theorem in discover_text(code):
        if theorem.name == short or theorem.name.endswith("." + short):
            return theorem.name
    return short


def submission_for(case: Case, checkout: Path) -> Submission:
    """The locked submission for a case; FileNotFoundError when its files are missing."""
    code = inline_imports(
        (checkout / EXPLOITS / case.name).with_suffix(".lean").read_text(encoding="utf-8"),
        checkout / EXPLOITS,
    )
    reference_path = (checkout / REFERENCES / case.name).with_suffix(".lean")
    if not reference_path.is_file():
        raise FileNotFoundError(f"no reference statement at {reference_path}")
    reference = inline_imports(reference_path.read_text(encoding="utf-8"), checkout / EXPLOITS)
    target = full_name(reference, case.theorem)
    located = next((t for t in discover_text(reference) if t.name == target), None)
    statement = located.statement if located is not None else reference
    return Submission(statement=statement, code=code, target=target)


async def run_cases(cases: list[Case], checkout: Path, checker: Checker) -> list[Outcome]:
    outcomes = []
    for case in cases:
        started = time.perf_counter()
        try:
            verdict = await checker.check(submission_for(case, checkout))
        except (FileNotFoundError, ValueError, ProofgateError) as exc:
            status, reason = "n/a", str(exc)
        else:
            status, reason = verdict.status.value, verdict.reason
        elapsed = (time.perf_counter() - started) * 1000
        outcomes.append(
            Outcome(case.name, case.theorem, status, reason, elapsed, case.expect_proved)
        )
        print(f"[{len(outcomes)}/{len(cases)}] {case.name}: {status}", file=sys.stderr, flush=True)
    return outcomes


def _cell_text(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def cell(outcome: Outcome | None) -> str:
    """A table cell in VERIFIER_COMPARISON.md's style."""
    if outcome is None:
        return "<details><summary>🟡 N/A</summary>not run</details>"
    if outcome.detected is None:
        return f"<details><summary>🟡 N/A</summary>{_cell_text(outcome.reason)}</details>"
    if not outcome.detected:
        return f"🟢 {outcome.time_ms:.0f}ms"
    detail = _cell_text(f"{outcome.status}: {outcome.reason}" if outcome.reason else outcome.status)
    return f"<details><summary>🛑 {outcome.time_ms:.0f}ms</summary>{detail}</details>"


def comparison_table(outcomes: list[Outcome], existing: str | None) -> str:
    """LeanParanoia's table with a proofgate column, or a table of proofgate's own."""
    by_case = {o.case: o for o in outcomes}
    lines: list[str] = []
    if existing:
        rows = [line for line in existing.splitlines() if line.startswith("|")]
        if len(rows) >= 2:
            lines.append(rows[0].rstrip().rstrip("|").rstrip() + " | proofgate |")
            lines.append(rows[1].rstrip().rstrip("|").rstrip() + "|-----------|")
            listed = set()
            for row in rows[2:]:
                name = row.strip("| ").split(" ", 1)[0]
                listed.add(name)
                lines.append(row.rstrip().rstrip("|").rstrip() + f" | {cell(by_case.get(name))} |")
            columns = rows[0].count("|") - 1
            for outcome in outcomes:
                if outcome.case not in listed:
                    blanks = " | ".join(["–"] * (columns - 1))
                    lines.append(f"| {outcome.case} | {blanks} | {cell(outcome)} |")
    if not lines:
        lines = ["| Exploit | proofgate |", "|---------|-----------|"]
        lines.extend(f"| {o.case} | {cell(o)} |" for o in outcomes)
    return "\n".join(lines) + "\n\n" + summary(outcomes) + "\n"


def summary(outcomes: list[Outcome]) -> str:
    exploits = [o for o in outcomes if not o.expect_proved]
    valid = [o for o in outcomes if o.expect_proved]
    detected = sum(1 for o in exploits if o.detected)
    passed = sum(1 for o in valid if o.detected is False)
    unknown = sum(1 for o in outcomes if o.detected is None)
    return (
        f"proofgate: {detected}/{len(exploits)} exploit files detected, {passed}/{len(valid)} "
        f"valid files proved, {unknown} not run (🟡)."
    )


async def main_async(args: argparse.Namespace) -> int:
    checkout = args.checkout.resolve()
    cases = [c for c in collect_cases(checkout) if not args.filter or args.filter in c.name]
    if not cases:
        print(f"no LeanParanoia cases under {checkout / EXPLOITS}", file=sys.stderr)
        return 2
    opener = open_backend(Settings(), server=args.server, require_ready=True)
    try:
        async with opener as checker:
            outcomes = await run_cases(cases, checkout, checker)
    except ProofgateError as exc:
        print(f"cannot check: {exc}", file=sys.stderr)
        return 3
    existing = (
        (checkout / COMPARISON).read_text(encoding="utf-8")
        if (checkout / COMPARISON).is_file()
        else None
    )
    table = comparison_table(outcomes, existing)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "verdicts.json").write_text(
            json.dumps([asdict(o) for o in outcomes], indent=2) + "\n"
        )
        (args.out / "VERIFIER_COMPARISON.md").write_text(table)
    missed = [o for o in outcomes if o.detected is not None and o.detected == o.expect_proved]
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a LeanParanoia checkout")
    parser.add_argument(
        "--server", help="check against this proofgate server instead of in-process"
    )
    parser.add_argument(
        "--out", type=Path, help="write verdicts.json and VERIFIER_COMPARISON.md here"
    )
    parser.add_argument("--filter", help="only cases whose CATEGORY/NAME contains this")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
