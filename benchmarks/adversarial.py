"""Run proofgate end to end (policy, pool, audit) over adversarial cases and compare expectations.

Each line of a cases file is a JSON object with an `id`, `expect` (`accept` or `reject`) and the
submission's fields (`statement`, `code` or `proof`, optionally `target`, `answer_holes`,
`allowed_axioms`, `environment`, `policy`). An `accept` case must end `proved` (or `compiled`, for a
free compile); a `reject` case must end in any other verdict of the submission. `internal`,
`timeout` and `out_of_memory` answer neither and are counted as errors.

    python benchmarks/adversarial.py tests/data/adversarial.jsonl --out benchmarks/results/adversarial

Needs the real toolchain (or --server): untested against real Lean on the development machines.
Exit 0 when every case met its expectation, 1 otherwise, 3 when proofgate could not check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from proofgate.backends import open_backend
from proofgate.ci.checkers import Checker
from proofgate.config import Settings
from proofgate.exceptions import ProofgateError
from proofgate.models import Submission, VerdictStatus

_FIELDS = set(Submission.model_fields)
_NOT_AN_ANSWER = {VerdictStatus.internal, VerdictStatus.timeout, VerdictStatus.out_of_memory}


def load_cases(paths: list[Path]) -> list[dict[str, Any]]:
    cases = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                case = json.loads(line)
                case.setdefault("id", f"{path.name}:{number}")
                cases.append(case)
    return cases


async def judge(case: dict[str, Any], checker: Checker) -> dict[str, Any]:
    """One case's verdict and whether it met the expectation (`met` is None for errors)."""
    started = time.perf_counter()
    row: dict[str, Any] = {
        "id": case["id"],
        "expect": case.get("expect"),
        "category": case.get("category"),
    }
    try:
        submission = Submission(**{k: v for k, v in case.items() if k in _FIELDS})
        verdict = await checker.check(submission)
    except (ValidationError, ProofgateError) as exc:
        row.update(status="error", reason=str(exc).splitlines()[0], met=None)
    else:
        status = verdict.status
        met = (
            None
            if status in _NOT_AN_ANSWER
            else (status.is_success == (case.get("expect") == "accept"))
        )
        row.update(status=status.value, reason=verdict.reason, axioms=verdict.axioms, met=met)
    row["time_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return row


def markdown(rows: list[dict[str, Any]], audit: str = "") -> str:
    """The cases' table, under a line naming the audit configuration that judged them (`audit`,
    as `audit_configuration` says it) when given."""
    marks = {True: "✅", False: "❌", None: "⚠️"}
    lines = [f"Audit: {audit}.", ""] if audit else []
    lines += ["| case | category | expect | verdict | ms |  |", "|---|---|---|---|---:|---|"]
    for row in rows:
        reason = " ".join(str(row.get("reason", "")).split()).replace("|", "\\|")[:160]
        lines.append(
            f"| {row['id']} | {row.get('category') or ''} | {row.get('expect')} | "
            f"{row['status']}: {reason} | {row.get('time_ms', '')} | {marks[row['met']]} |"
        )
    met = sum(1 for r in rows if r["met"])
    errors = sum(1 for r in rows if r["met"] is None)
    lines.append("")
    lines.append(f"{met}/{len(rows)} cases met their expectation; {errors} could not be judged.")
    times = [r["time_ms"] for r in rows if isinstance(r.get("time_ms"), (int, float))]
    if times:
        lines.append(
            f"Time per case: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms."
        )
    return "\n".join(lines) + "\n"


def audit_configuration(settings: Settings) -> str:
    """The audit the cases go through, in its settings' words (the server's own when --server)."""
    return (
        f"PROOFGATE_AUDIT_COMPILER={settings.audit_compiler}, "
        f"PROOFGATE_AUDIT_CHECKER={settings.audit_checker}"
    )


async def main_async(args: argparse.Namespace) -> int:
    cases = load_cases(args.cases)
    settings = Settings()
    opener = open_backend(settings, server=args.server, require_ready=True)
    try:
        async with opener as checker:
            rows = []
            for case in cases:
                rows.append(await judge(case, checker))
                print(
                    f"[{len(rows)}/{len(cases)}] {case['id']}: {rows[-1]['status']}",
                    file=sys.stderr,
                    flush=True,
                )
    except ProofgateError as exc:
        print(f"cannot check: {exc}", file=sys.stderr)
        return 3
    table = markdown(rows, "" if args.server else audit_configuration(settings))
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "verdicts.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        )
        (args.out / "summary.md").write_text(table)
    return 0 if all(r["met"] for r in rows) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", type=Path, nargs="+", help="JSONL files of cases")
    parser.add_argument(
        "--server", help="check against this proofgate server instead of in-process"
    )
    parser.add_argument("--out", type=Path, help="write verdicts.jsonl and summary.md here")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
