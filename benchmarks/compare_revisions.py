"""Before/after on one machine: `proofgate bench --quick` with the server of two git revisions.

Each revision is checked out as a git worktree; the bench server runs from its `src/`
(`--server-source`) while the harness (load, clients, health prober, CPU clock) is this checkout's,
so only the server differs. Runs alternate (before, after, before, after, ...) so that a change in
the machine's load hits both alike; the table gives each figure's median and after/before ratio.

    python benchmarks/compare_revisions.py f43d0dd HEAD
    python benchmarks/compare_revisions.py f43d0dd HEAD --rounds 3 --out benchmarks/results
    python benchmarks/compare_revisions.py 919f4dc HEAD --audit-compiler zygote

Only server-side figures are compared: the bench's driver and pool overhead rows run inside the
harness, which is the same code for both. Everything runs on the simulated REPL (no Lean). A
server older than the audit model ignores it and audits nothing: compare its audit-off figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: (label, path into the bench's JSON, lower is better)
FIGURES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (
        "server CPU ms/request, load, audit off",
        ("summary", "server_cpu_ms_per_request_audit_off"),
        True,
    ),
    (
        "server CPU ms/request, load, with audit",
        ("summary", "server_cpu_ms_per_request_with_audit"),
        True,
    ),
    ("CPU ms/request with audit processes", ("summary", "cpu_ms_per_request_with_children"), True),
    (
        "server CPU ms/request, back to back, audit off",
        ("server_cpu", "ms_per_request_sequential_audit_off"),
        True,
    ),
    ("HTTP-added p50 ms, audit off", ("summary", "http_added_p50_ms_audit_off"), True),
    ("HTTP-added p99 ms, audit off", ("summary", "http_added_p99_ms_audit_off"), True),
    ("audit-added p50 ms", ("summary", "audit_added_p50_ms"), True),
    ("completed/ideal c=2, with audit", ("summary", "throughput_of_ideal_with_audit_c2"), False),
    ("completed/ideal c=16, with audit", ("summary", "throughput_of_ideal_with_audit_c16"), False),
    ("completed/ideal c=16, audit off", ("summary", "throughput_of_ideal_audit_off_c16"), False),
    ("health p99 ms, with audit", ("summary", "health_p99_ms_with_audit"), True),
    ("server RSS idle MiB", ("summary", "server_rss_idle_mib"), True),
    ("lost requests under kills", ("summary", "recovery_lost"), True),
)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _checkout(revision: str, into: Path) -> Path:
    commit = _git("rev-parse", "--verify", f"{revision}^{{commit}}")
    target = into / commit[:12]
    if not target.exists():
        _git("worktree", "add", "--detach", "--force", str(target), commit)
    return target


def _bench(source: Path, extra: list[str]) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "proofgate",
        "bench",
        "--quick",
        "--server-source",
        str(source / "src"),
        *extra,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(
            f"the bench gave no figures (exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    return dict(json.loads(lines[-1]))


def _figure(results: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: Any = results
    for key in path:
        if isinstance(value, list):
            index = int(key)
            value = value[index] if index < len(value) else None
        elif isinstance(value, dict):
            value = value.get(key)
        if value is None:
            return None
    return float(value) if isinstance(value, (int, float)) else None


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="git revision of the 'before' server")
    parser.add_argument("after", help="git revision of the 'after' server")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each (alternating)")
    parser.add_argument("--out", type=Path, help="directory for compare-<before>-<after>.json/.md")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--audit-compiler", choices=("lean", "zygote"), default="lean", help="both sides' setting"
    )
    args = parser.parse_args(argv)

    worktrees = Path(tempfile.mkdtemp(prefix="proofgate-compare-"))
    sources = {
        name: _checkout(rev, worktrees)
        for name, rev in (("before", args.before), ("after", args.after))
    }
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    try:
        for round_index in range(args.rounds):
            for name in ("before", "after"):
                print(
                    f"round {round_index + 1}/{args.rounds}: {name} ({sources[name].name})",
                    file=sys.stderr,
                )
                extra = ["--seed", str(args.seed), "--audit-compiler", args.audit_compiler]
                runs[name].append(_bench(sources[name], extra))
    finally:
        for source in sources.values():
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source)], check=False
            )

    rows = []
    for label, path, lower_is_better in FIGURES:
        before = _median([_figure(r, path) for r in runs["before"]])
        after = _median([_figure(r, path) for r in runs["after"]])
        ratio = after / before if before and after is not None else None
        rows.append(
            {
                "figure": label,
                "before": before,
                "after": after,
                "after_over_before": ratio,
                "lower_is_better": lower_is_better,
            }
        )
    command = (
        f"python benchmarks/compare_revisions.py {args.before} {args.after} --rounds {args.rounds}"
        f" --audit-compiler {args.audit_compiler}"
    )
    table = [
        f"`{command}` ({args.rounds} alternating runs of `proofgate bench --quick` each, medians)",
        "",
        f"| figure | before ({sources['before'].name}) | after ({sources['after'].name}) | after / before |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        cells = [
            f"{row[k]:.3f}" if isinstance(row[k], float) else "n/a"
            for k in ("before", "after", "after_over_before")
        ]
        table.append(f"| {row['figure']} | " + " | ".join(cells) + " |")
    print("\n".join(table))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.out / f"compare-{sources['before'].name[:7]}-{sources['after'].name[:7]}"
        stem.with_suffix(".json").write_text(
            json.dumps({"command": command, "rows": rows, "runs": runs}, indent=1) + "\n", "utf-8"
        )
        stem.with_suffix(".md").write_text("\n".join(table) + "\n", "utf-8")
        print(f"wrote {stem}.json and {stem}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
