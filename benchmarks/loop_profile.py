"""Where the event loop's thread spends its time under load, with the audit on (issue 21, item 1).

Runs `proofgate bench --quick` (the SIMULATED REPL and audit model, the jail as deployed: no Lean
runs), waits for its "concurrency 16, with audit" throughput run, and samples the bench server with
py-spy (`--threads --idle`, raw stacks) for `--seconds`, and its spawn server alongside. It prints
the share of the loop thread's samples that were not waiting in `select` (its busy share), the
frames that busy time was spent in, and whether any sample of the loop thread was inside
`subprocess.Popen._execute_child` (a process start: the service's own fork and exec) — and the
same count for the spawn server, where starts belong.

    pip install py-spy   # a sampling profiler; run as root or with ptrace allowed
    python benchmarks/loop_profile.py [--seconds 15] [--out DIR]

Exit status 1 if the loop thread was seen starting a process.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

#: The bench's log line that opens the run this profile samples.
PHASE = "concurrency 16, with audit"
#: Frames in which a thread waits (not busy): the loop's poll, queue and lock waits, socket reads.
WAITING = ("select (selectors", "wait (threading", "recvmsg", "get (queue", "_wait_for_tstate")
PROCESS_START = "Popen._execute_child"


def _find(predicate: str, parent: psutil.Process | None = None, seconds: float = 60.0) -> int:
    """The pid of the first process (below `parent`, if given) whose command line holds `predicate`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pool = parent.children(recursive=True) if parent else list(psutil.process_iter())
        for process in pool:
            try:
                if predicate in " ".join(process.cmdline()):
                    return process.pid
            except psutil.Error:
                continue
        time.sleep(0.2)
    raise SystemExit(f"no process running {predicate!r} appeared")


def stacks(text: str, thread: str) -> list[tuple[list[str], int]]:
    """py-spy's raw lines (`--threads`) as (frames, count), of the thread named `thread`."""
    rows = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if frames[0].endswith(f": {thread}") and len(frames) > 1:
            rows.append((frames[1:], int(count)))
    return rows


def summarize(rows: list[tuple[list[str], int]], label: str, top: int) -> int:
    """Print the busy share and the busiest frames; return the samples inside a process start."""
    total = sum(count for _, count in rows)
    busy = [(frames, count) for frames, count in rows if not any(w in frames[-1] for w in WAITING)]
    busy_total = sum(count for _, count in busy) or 1
    starts = sum(count for frames, count in rows if any(PROCESS_START in f for f in frames))
    print(f"{label}: {total} samples, busy {busy_total} ({100 * busy_total / max(total, 1):.1f}%)")
    print(f"  samples inside {PROCESS_START}: {starts}")
    innermost: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()  # proofgate's frames, inclusive
    for frames, count in busy:
        innermost[frames[-1].split(" (")[0]] += count
        for name in {frame.split(" (")[0] for frame in frames if "proofgate/" in frame}:
            ours[name] += count
    print("  busy time by innermost frame:")
    for name, count in innermost.most_common(top):
        print(f"  {100 * count / busy_total:5.1f}%  {name}")
    print("  busy time under each proofgate function:")
    for name, count in ours.most_common(top):
        print(f"  {100 * count / busy_total:5.1f}%  {name}")
    return starts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15, help="how long to sample")
    parser.add_argument("--top", type=int, default=12, help="frames to list in each table")
    parser.add_argument("--out", type=Path, default=None, help="keep the raw stacks here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        raise SystemExit("py-spy not found: pip install py-spy")
    out = args.out or Path(tempfile.mkdtemp(prefix="proofgate-loop-profile-"))
    out.mkdir(parents=True, exist_ok=True)
    log = out / "bench.log"
    with log.open("w") as sink:
        bench = subprocess.Popen(
            [sys.executable, "-m", "proofgate", "bench", "--quick", "--out", str(out / "bench")],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 600
        while PHASE not in log.read_text():
            if bench.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the bench ended before its {PHASE!r} run: see {log}")
            time.sleep(0.2)
        server = _find("proofgate.bench.server", psutil.Process(bench.pid))
        spawner = _find("spawn_server.py", psutil.Process(server))
        time.sleep(1.0)  # into the run's steady state
        samplers = [
            subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "-p",
                    str(pid),
                    "-r",
                    "250",
                    "-d",
                    str(args.seconds),
                    "--threads",
                    "--idle",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "-o",
                    str(path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, path in ((server, out / "server.raw"), (spawner, out / "spawn-server.raw"))
        ]
        for sampler in samplers:
            sampler.wait(args.seconds + 60)
    finally:
        bench.wait(900)
    print(f"`python benchmarks/loop_profile.py --seconds {args.seconds}` (raw stacks in {out})")
    server_stacks = stacks((out / "server.raw").read_text(), "MainThread")
    loop_starts = summarize(server_stacks, "event loop thread", args.top)
    summarize(stacks((out / "spawn-server.raw").read_text(), "MainThread"), "spawn server", 8)
    return 1 if loop_starts else 0


if __name__ == "__main__":
    sys.exit(main())
