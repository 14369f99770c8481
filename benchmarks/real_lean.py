"""Real-Lean throughput and latency: proofgate (and optionally a Kimina Lean Server) on honest proofs.

NEEDS A REAL LEAN TOOLCHAIN AND MATHLIB (`proofgate setup`), or a running proofgate server: it
cannot run on machines without Lean, and it is untested against real Lean where proofgate is
developed. `proofgate bench` measures proofgate's own machinery on the simulated REPL instead.

The sample, `benchmarks/data/minif2f_style.jsonl`, holds small honest Mathlib proofs in the
miniF2F / DeepSeek-Prover shape (header, `set_option`, `open`, a theorem `:= by sorry` as the
locked statement, and a proof). Each system gets the same texts: proofgate as locked checks
(statement + proof, through its trusted audit), Kimina as the assembled file
(`POST /api/check`, one snippet a request). Every round appends `-- round N` to each proof, so a
result cache never answers a later round. Concurrency defaults to the number of cores.

    python benchmarks/real_lean.py                                   # in-process proofgate
    python benchmarks/real_lean.py --server http://127.0.0.1:8000    # a running proofgate
    python benchmarks/real_lean.py --kimina http://127.0.0.1:9000    # and Kimina, side by side
    python benchmarks/real_lean.py --rounds 3 --concurrency 8 --out benchmarks/results

Per system: checks accepted (proofgate `proved`; Kimina: no error, no error message, no sorry),
failures, proofs/s, proofs/s per core, and latency p50/p90/p99 after a warm-up request per header
(the first, cold request's latency is reported on its own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from proofgate.bench.stats import latency_summary
from proofgate.lean.header import split_header
from proofgate.models import Submission
from proofgate.verify.assemble import assemble

DATA = Path(__file__).resolve().parent / "data" / "minif2f_style.jsonl"


@dataclass(frozen=True)
class Case:
    name: str
    statement: str
    proof: str

    def submission(self, round_: int) -> Submission:
        return Submission(statement=self.statement, proof=f"{self.proof}\n  -- round {round_}")

    def code(self, round_: int) -> str:
        """The file proofgate checks for this case, as one Kimina snippet."""
        return assemble(self.submission(round_)).text


@dataclass
class Outcome:
    name: str
    accepted: bool
    seconds: float
    detail: str = ""


@dataclass
class SystemResult:
    system: str
    outcomes: list[Outcome] = field(default_factory=list)
    cold_seconds: float | None = None
    wall_seconds: float = 0.0

    def summary(self, cores: int) -> dict[str, Any]:
        accepted = sum(1 for o in self.outcomes if o.accepted)
        rate = len(self.outcomes) / self.wall_seconds if self.wall_seconds else 0.0
        return {
            "system": self.system,
            "checks": len(self.outcomes),
            "accepted": accepted,
            "rejected_or_failed": len(self.outcomes) - accepted,
            "proofs_per_s": round(rate, 3),
            "proofs_per_s_per_core": round(rate / cores, 3),
            "cold_first_request_s": round(self.cold_seconds, 3) if self.cold_seconds else None,
            "latency": latency_summary([o.seconds for o in self.outcomes]),
            "not_accepted": [
                f"{o.name}: {o.detail[:160]}" for o in self.outcomes if not o.accepted
            ][:10],
        }


Check = Callable[[Case, int], Awaitable[Outcome]]


def load_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            cases.append(Case(str(data["name"]), str(data["statement"]), str(data["proof"])))
    if not cases:
        raise SystemExit(f"{path}: no cases (one JSON object a line, with name, statement, proof)")
    return cases


async def _timed(case: Case, work: Awaitable[tuple[bool, str]]) -> Outcome:
    began = time.perf_counter()
    try:
        accepted, detail = await work
    except Exception as exc:  # noqa: BLE001 - one broken check is a result, not the end of the run
        accepted, detail = False, f"{type(exc).__name__}: {exc}"
    return Outcome(case.name, accepted, time.perf_counter() - began, detail)


async def run_system(
    system: str, check: Check, cases: list[Case], *, rounds: int, concurrency: int
) -> SystemResult:
    """Warm up on one case per header (timed apart), then every case `rounds` times."""
    result = SystemResult(system)
    seen: set[str] = set()
    for case in cases:
        header = split_header(case.statement).header
        if header not in seen:
            seen.add(header)
            warm = await check(case, -1)
            result.cold_seconds = result.cold_seconds or warm.seconds
    jobs = [(case, round_) for round_ in range(rounds) for case in cases]
    queue: asyncio.Queue[tuple[Case, int]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def worker() -> None:
        while not queue.empty():
            case, round_ = queue.get_nowait()
            result.outcomes.append(await check(case, round_))

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_seconds = time.perf_counter() - began
    return result


# --- the systems -----------------------------------------------------------------------------


Close = Callable[[], Awaitable[None]]


def proofgate_server(url: str, api_key: str | None) -> tuple[Check, Close]:
    from proofgate.client import AsyncClient

    client = AsyncClient(url, api_key=api_key, timeout=600.0)

    async def check(case: Case, round_: int) -> Outcome:
        async def work() -> tuple[bool, str]:
            verdict = await client.check(case.submission(round_))
            return verdict.status.value == "proved", f"{verdict.status.value}: {verdict.reason}"

        return await _timed(case, work())

    return check, client.aclose


async def proofgate_local() -> tuple[Check, Close]:
    """An in-process `CheckerService` from the environment's settings (needs Lean and setup)."""
    from proofgate.config import Settings
    from proofgate.service import CheckerService

    service = CheckerService(Settings())
    await service.start()
    state = service.readiness()
    if not state.ready:
        await service.close()
        raise SystemExit("proofgate cannot verify here: " + "; ".join(state.reasons))

    async def check(case: Case, round_: int) -> Outcome:
        async def work() -> tuple[bool, str]:
            verdict = await service.check(case.submission(round_))
            return verdict.status.value == "proved", f"{verdict.status.value}: {verdict.reason}"

        return await _timed(case, work())

    return check, service.close


def kimina(url: str, api_key: str | None, timeout: int) -> tuple[Check, Close]:
    """Kimina Lean Server's `POST /api/check`, one snippet a request."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    client = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout + 120.0)

    async def check(case: Case, round_: int) -> Outcome:
        async def work() -> tuple[bool, str]:
            body = {
                "snippets": [{"id": f"{case.name}-{round_}", "code": case.code(round_)}],
                "timeout": timeout,
                "debug": False,
                "reuse": True,
            }
            response = await client.post("/api/check", json=body)
            response.raise_for_status()
            result = response.json()["results"][0]
            if result.get("error"):
                return False, str(result["error"])
            answer = result.get("response") or {}
            errors = [m for m in answer.get("messages", []) if m.get("severity") == "error"]
            if errors or answer.get("sorries"):
                return False, str((errors or answer["sorries"])[0])
            return True, "valid"

        return await _timed(case, work())

    return check, client.aclose


def markdown(summaries: list[dict[str, Any]], *, cores: int, rounds: int, cases: int) -> str:
    rows = [
        f"{cases} honest proofs x {rounds} round(s), {cores} core(s).",
        "",
        "| system | checks | accepted | proofs/s | proofs/s per core | p50 s | p90 s | p99 s | cold first s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lat = s["latency"]
        rows.append(
            f"| {s['system']} | {s['checks']} | {s['accepted']} | {s['proofs_per_s']} | "
            f"{s['proofs_per_s_per_core']} | {lat.get('p50_ms', 0) / 1000:.2f} | "
            f"{lat.get('p90_ms', 0) / 1000:.2f} | {lat.get('p99_ms', 0) / 1000:.2f} | "
            f"{s['cold_first_request_s']} |"
        )
    return "\n".join(rows) + "\n"


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="JSONL of name/statement/proof")
    parser.add_argument("--server", help="a running proofgate (default: in-process service)")
    parser.add_argument("--api-key", default=os.environ.get("PROOFGATE_API_KEY"))
    parser.add_argument("--kimina", help="a Kimina Lean Server URL, to run the same sample against")
    parser.add_argument("--kimina-api-key", default=os.environ.get("LEAN_SERVER_API_KEY"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--cores", type=int, default=os.cpu_count() or 1, help="for proofs/s per core"
    )
    parser.add_argument("--concurrency", type=int, default=None, help="default: --cores")
    parser.add_argument("--timeout", type=int, default=120, help="Kimina's per-snippet timeout, s")
    parser.add_argument("--out", type=Path, help="write real-lean.json and real-lean.md here")
    args = parser.parse_args(argv)
    cases = load_cases(args.data)
    concurrency = args.concurrency or args.cores
    systems: list[tuple[str, Callable[[], Awaitable[tuple[Check, Close]]]]] = []

    async def ours() -> tuple[Check, Close]:
        return (
            proofgate_server(args.server, args.api_key) if args.server else await proofgate_local()
        )

    async def theirs() -> tuple[Check, Close]:
        return kimina(args.kimina, args.kimina_api_key, args.timeout)

    systems.append(("proofgate", ours))
    if args.kimina:
        systems.append(("Kimina Lean Server", theirs))
    summaries = []
    for name, connect in systems:  # one after the other: they would share the machine's cores
        check, close = await connect()
        try:
            result = await run_system(
                name, check, cases, rounds=args.rounds, concurrency=concurrency
            )
        finally:
            await close()
        summaries.append(result.summary(args.cores))
    table = markdown(summaries, cores=args.cores, rounds=args.rounds, cases=len(cases))
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "real-lean.json").write_text(json.dumps(summaries, indent=1) + "\n", "utf-8")
        (args.out / "real-lean.md").write_text(table, "utf-8")
    print(json.dumps(summaries, separators=(",", ":")))
    return 0 if all(s["accepted"] == s["checks"] for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
