"""proofgate and the Kimina Lean Server side by side, on the same SIMULATED REPL (issue 21, item 5).

No Lean runs here. Both services get the same simulated REPL (`proofgate.bench.simulated_repl`,
a 2 s header import, a fixed check time per request), the same fake `lake` (`lake env CMD` runs
CMD, from `proofgate.bench.audit_model`: Kimina starts each REPL through it, proofgate's bench
starts the REPL program directly and its audit's processes through it), the same closed-loop
load (`proofgate.bench.load`), and the same figures (`proofgate.bench.scenarios.measure_throughput`),
interleaved point by point.
proofgate runs as `proofgate bench` runs it (`proofgate.bench.server`: the real app and service,
its audit model ON as deployed: three jailed processes a request over a SIMULATED lean and checker),
and its audit-off side (a simulated 0 s `ok`) is reported too, labelled. Kimina runs from a
checkout given on the command line (never vendored), in its own virtual environment, as its README
runs it from source (`python -m server`), pointed at the simulated REPL by its own settings
(`LEAN_SERVER_REPL_PATH`, `LEAN_SERVER_PROJECT_DIR`); it starts each REPL as `lake env REPL_PATH`,
which finds the fake `lake` first on PATH. Everything listens and connects on 127.0.0.1 only.

    python benchmarks/side_by_side.py --kimina /tmp/kimina-lean-server \\
        --kimina-python /tmp/kimina-venv/bin/python --out benchmarks/results [--quick]

Points (each side in turn, the order rotating; both services of a REPL count up at once):

- added latency: one client, 5 ms checks, requests alternating between the sides; the p50 and
  p99 of (latency - check time);
- completed / ideal at R2 C2, R2 C16 and R4 C16 (R REPL workers, C closed-loop clients, 200 ms
  checks): requests answered OK inside a steady-state window over the ideal (`measure_throughput`:
  min(R / check, C / (check + modelled audit)), the audit's time 0 on Kimina and audit off);
- server CPU per request at each of those points, of the server process alone, and with its
  children, which are the audit's processes only (never REPL workers, on either side: Kimina starts
  no other process, so its figure with children is its own);
- `/healthz` p99 (Kimina's `/health`) probed every 0.1 s through the load and the kills;
- kills: SIGKILL of a random REPL process of the service (busy, idle or importing, as a real crash
  picks) every 5 s on average for 60 s, R2 C2; requests that failed.

Kimina's deployed setting `LEAN_SERVER_ENVIRONMENT=prod` (its Dockerfile's) is the default here;
its Cloud Logging client is pointed at a closed loopback port so it falls back to console logging
without leaving the machine. Kimina's database is off (no `LEAN_SERVER_DATABASE_URL`); when its
Prisma client was never generated (`prisma generate` downloads engines), an import-only stand-in of
the `prisma` package is put on its PYTHONPATH, and the results say so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import psutil

from proofgate.__about__ import __version__
from proofgate.bench.audit_model import AuditModel, install_toolchain
from proofgate.bench.load import (
    HealthProber,
    Kill,
    Sample,
    Send,
    WorkerKiller,
    _sleeping,
    closed_loop,
    send_job,
)
from proofgate.bench.report import statements_text
from proofgate.bench.runner import (
    LEAN_VERSION,
    BenchConfig,
    _server_settings,
    load_average,
    machine_facts,
)
from proofgate.bench.scenarios import measure_throughput, project_dir
from proofgate.bench.server import BenchServer, BenchServerError, ServerConfig
from proofgate.bench.simulated_repl import SCRIPT as SIMULATED_REPL
from proofgate.bench.stats import latency_summary, percentile
from proofgate.bench.workload import BackendProfile, Job, JobFactory, parse_worker_report

#: The sides, in the table's column order.
SIDES = ("kimina", "proofgate_audit_on", "proofgate_audit_off")
LABELS = {
    "kimina": "Kimina",
    "proofgate_audit_on": "proofgate /v1/check, audit on",
    "proofgate_audit_off": "proofgate, audit off",
}
HEALTH_PATHS = {
    "kimina": "/health",
    "proofgate_audit_on": "/healthz",
    "proofgate_audit_off": "/healthz",
}
#: Seconds Kimina may take to import its modules and warm its REPLs, beyond the REPL imports.
KIMINA_START_SECONDS = 60.0
STOP_SECONDS = 15.0
Progress = Callable[[str], None]


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SideBySideConfig:
    """Sizes and durations of one run; `quick()` shortens every window, not the points."""

    mode: str = "full"
    header: str = "import Mathlib\nimport Aesop"
    import_seconds: float = 2.0
    check_seconds: float = 0.2
    added_check_seconds: float = 0.005
    points: tuple[tuple[int, int], ...] = ((2, 2), (2, 16), (4, 16))
    warmup_seconds: float = 1.0
    window_seconds: float = 10.0
    added_requests: int = 40  # per side, after one warm-up request each
    added_requests_audited: int = 8  # audit-on requests take the audit's ~6 s each
    kill_workers: int = 2
    kill_concurrency: int = 2
    kill_seconds: float = 60.0
    kill_every_seconds: float = 5.0
    probe_interval: float = 0.1
    rounds: int = 1
    seed: int = 0
    kimina_environment: str = "prod"
    audit_jail: str = "auto"
    audit_checker: str = "oneshot"  # the service's audit_checker setting (its default)
    audit_compiler: str = "lean"  # the service's audit_compiler setting (its default)
    #: Consecutive proofgate requests sharing one statement (a reward group's completions: the
    #: reference is compiled once a group); 1, every statement new. Kimina has no audit to share.
    statement_group: int = 1
    #: Another proofgate `src/` to run the proofgate server from (e.g. an export of a commit,
    #: so that uncommitted work in this checkout is not measured); None: this checkout.
    proofgate_source: Path | None = None

    @classmethod
    def quick(cls) -> SideBySideConfig:
        """The same points with shorter windows, fewer requests and 20 s of kills."""
        return cls(
            mode="quick",
            warmup_seconds=0.5,
            window_seconds=5.0,
            added_requests=15,
            added_requests_audited=3,
            kill_seconds=20.0,
        )

    def profile(self, check_seconds: float) -> BackendProfile:
        """The simulated REPL's profile with a fixed check time (a lognormal of sigma 0)."""
        return BackendProfile(
            import_seconds=self.import_seconds,
            check_mu=math.log(check_seconds),
            check_sigma=0.0,
        )

    def audit(self) -> AuditModel:
        return AuditModel(
            jail=self.audit_jail,  # type: ignore[arg-type]  # checked by argparse
            checker=self.audit_checker,  # type: ignore[arg-type]  # checked by argparse
            compiler=self.audit_compiler,  # type: ignore[arg-type]  # checked by argparse
        )

    def describe(self) -> dict[str, Any]:
        described = asdict(self)
        described["points"] = [{"repls": r, "clients": c} for r, c in self.points]
        described["proofgate_source"] = (
            str(self.proofgate_source) if self.proofgate_source else None
        )
        return described


@dataclass(frozen=True)
class KiminaInstall:
    """A Kimina Lean Server checkout and the Python of its own virtual environment."""

    checkout: Path
    python: Path

    def commit(self) -> str | None:
        return _git(self.checkout, "rev-parse", "HEAD") or None

    def has_prisma_client(self) -> bool:
        """Whether Kimina's Prisma client was generated (its `server.prisma_client` imports it)."""
        done = subprocess.run(
            [str(self.python), "-c", "from prisma import Prisma"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        return done.returncode == 0


def kimina_header(header: str) -> str:
    """The header Kimina keys a REPL by (`server/split.py`): any `import Mathlib...` becomes one
    `import Mathlib`, the other imports follow in order."""
    imports = [line.strip() for line in header.splitlines() if line.strip().startswith("import ")]
    others = list(dict.fromkeys(i for i in imports if not i.startswith("import Mathlib")))
    mathlib = ["import Mathlib"] if any(i.startswith("import Mathlib") for i in imports) else []
    return "\n".join(mathlib + others)


#: An import-only stand-in for the `prisma` package, used only when Kimina's client was never
#: generated: Kimina imports `Prisma` at start and calls it only with a database configured.
PRISMA_SHIM = '''"""Stand-in for Prisma's generated client (proofgate's side-by-side bench): no database."""


class Prisma:
    def __init__(self, *args, **kwargs):
        pass

    async def connect(self):
        raise RuntimeError("no database in the side-by-side bench")

    async def disconnect(self):
        pass
'''

#: `REPL_PATH`, as Kimina runs it through `lake env`: the simulated REPL, as proofgate starts it.
REPL_WRAPPER = """#!/bin/sh
# The SIMULATED Lean REPL (proofgate.bench.simulated_repl) for Kimina, as proofgate's bench runs it.
exec {python} {script} --import-seconds {seconds:g} "$@"
"""


def install_kimina_repl(directory: Path, import_seconds: float) -> Path:
    path = directory / "repl" / ".lake" / "build" / "bin" / "repl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        REPL_WRAPPER.format(python=sys.executable, script=SIMULATED_REPL, seconds=import_seconds),
        "utf-8",
    )
    path.chmod(0o755)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class KiminaServer(BenchServer):
    """The Kimina Lean Server in its own venv, on the simulated REPL; the bench's server handle
    (CPU, RSS, REPL pids) with no pool statistics and no audit children."""

    def __init__(
        self,
        install: KiminaInstall,
        workdir: Path,
        *,
        repls: int,
        header: str,
        repl_path: Path,
        project: Path,
        lake_bin: Path,
        environment: str,
        import_seconds: float,
        prisma_shim: Path | None,
    ) -> None:
        super().__init__(
            ServerConfig({}, BackendProfile(import_seconds=import_seconds)),
            workdir,
            f"kimina-r{repls}",
        )
        self.install = install
        self.repls = repls
        self.header = header
        self.repl_path = repl_path
        self.project = project
        self.lake_bin = lake_bin
        self.environment = environment
        self.prisma_shim = prisma_shim
        self._seen_workers: set[int] = set()

    def environ(self, port: int) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LEAN_SERVER_", "PROOFGATE_", "GOOGLE_", "PYTHON"))
        }
        empty = self.workdir / "gcloud-config"
        empty.mkdir(exist_ok=True)
        env.update(
            PATH=f"{self.lake_bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            LEAN_SERVER_HOST="127.0.0.1",
            LEAN_SERVER_PORT=str(port),
            LEAN_SERVER_ENVIRONMENT=self.environment,
            LEAN_SERVER_LOG_LEVEL="INFO",
            LEAN_SERVER_MAX_REPLS=str(self.repls),
            LEAN_SERVER_MAX_REPL_USES="-1",
            LEAN_SERVER_INIT_REPLS=json.dumps({kimina_header(self.header): self.repls}),
            LEAN_SERVER_REPL_PATH=str(self.repl_path),
            LEAN_SERVER_PROJECT_DIR=str(self.project),
            # prod's Cloud Logging client looks for credentials, then a metadata server: keep it
            # on a closed loopback port, so it falls back to console logging at once.
            GCE_METADATA_HOST="127.0.0.1:9",
            GCE_METADATA_IP="127.0.0.1:9",
            NO_GCE_CHECK="True",
            CLOUDSDK_CONFIG=str(empty),
            PYTHONUNBUFFERED="1",
        )
        if self.prisma_shim is not None:
            env["PYTHONPATH"] = str(self.prisma_shim)
        return env

    def start(self) -> None:
        port = _free_port()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [str(self.install.python), "-m", "server"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=self.environ(port),
                cwd=self.install.checkout,
            )
        self._psutil = psutil.Process(self._process.pid)
        self.url = f"http://127.0.0.1:{port}"
        self.wait_warm(time.monotonic() + KIMINA_START_SECONDS + self.config.profile.import_seconds)

    def wait_warm(self, deadline: float) -> dict[str, Any]:
        """Kimina answers only once its lifespan has imported every initial REPL's header."""
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while True:
                self._check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/health").status_code == 200:
                        return {}
                if time.monotonic() > deadline:
                    self.stop()
                    raise BenchServerError(f"Kimina did not start: {self.log_tail()}")
                time.sleep(0.1)

    def pool_stats(self) -> dict[str, Any]:
        return {}

    def children_cpu_seconds(self) -> float:
        """Kimina's reaped children are REPL workers only, which no side counts."""
        return 0.0

    def worker_pids(self) -> list[int]:
        pids = super().worker_pids()
        self._seen_workers.update(pids)
        return pids

    def stop(self) -> None:
        """SIGTERM (Kimina's cleanup kills its REPLs' process groups), then any REPL left over:
        each runs in a session of its own, so it can outlive a server that died."""
        with contextlib.suppress(psutil.Error, AssertionError):
            self.worker_pids()
        super().stop()
        for pid in self._seen_workers:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if SIMULATED_REPL in " ".join(process.cmdline()):
                    process.kill()


async def send_kimina(client: httpx.AsyncClient, job: Job) -> Sample:
    """POST the job's file to Kimina's `/api/check` as one snippet; OK means no `error`, no REPL
    error and no error message (the check's `sorry` is the proof's, replaced)."""
    body = {
        "snippets": [{"id": job.request_id, "code": job.code}],
        "timeout": 60,
        "debug": False,
        "reuse": True,
    }
    sent = time.monotonic()
    try:
        response = await client.post("/api/check", json=body)
    except httpx.HTTPError as exc:
        return Sample(job, sent, time.monotonic(), 0, None, error=f"{type(exc).__name__}: {exc}")
    received = time.monotonic()
    try:
        data = response.json()
    except ValueError:
        return Sample(job, sent, received, response.status_code, None, error=response.text[:200])
    if response.status_code != 200:
        return Sample(job, sent, received, response.status_code, None, error=str(data)[:300])
    result = (data.get("results") or [{}])[0]
    answer = result.get("response") or {}
    messages = answer.get("messages", []) if isinstance(answer, dict) else []
    errors = [m for m in messages if m.get("severity") == "error"]
    problem = result.get("error") or answer.get("message") or (errors[0] if errors else None)
    return Sample(
        job,
        sent,
        received,
        200,
        "error" if problem else "proved",
        error=str(problem)[:300] if problem else None,
        worker=parse_worker_report(messages),
    )


# --- the sides ---------------------------------------------------------------------------------


@dataclass
class Target:
    """One side of the comparison: its server, how a job is sent, whether the audit runs."""

    side: str
    server: BenchServer
    send: Send
    audit: AuditModel | None = None
    health: list[float] = field(default_factory=list)  # every probe's seconds, load and kills

    def factory(self, profile: BackendProfile, run: str, config: SideBySideConfig) -> JobFactory:
        return JobFactory(
            profile,
            run=f"{run}_{self.side}",
            seed=config.seed,
            header_mix=((config.header, 1.0),),
            audit=self.side != "proofgate_audit_off",  # Kimina ignores the marker's absence
            statement_group=config.statement_group,
        )


def _ordered(targets: Sequence[Target], turn: int) -> list[Target]:
    """The sides rotated by `turn`, so no side always goes first."""
    shift = turn % len(targets)
    return list(targets[shift:]) + list(targets[:shift])


def _p(values: Sequence[float], q: float) -> float | None:
    return round(percentile(values, q) * 1000, 3) if values else None


async def measure_added(
    targets: Sequence[Target], config: SideBySideConfig, *, run: str
) -> dict[str, dict[str, Any]]:
    """One client, 5 ms checks, one request per side in turn: latency beyond the check time."""
    profile = config.profile(config.added_check_seconds)
    factories = {t.side: t.factory(profile, run, config) for t in targets}
    beyond: dict[str, list[float]] = {t.side: [] for t in targets}
    failed: Counter[str] = Counter()
    clients = {t.side: httpx.AsyncClient(base_url=t.server.url, timeout=120.0) for t in targets}
    try:
        for index in range(config.added_requests + 1):  # the first request of each side warms up
            for target in targets:
                if target.audit is not None and index > config.added_requests_audited:
                    continue
                sample = await target.send(clients[target.side], factories[target.side].next())
                if not sample.ok:
                    failed[target.side] += 1
                elif index > 0:
                    beyond[target.side].append(sample.latency - sample.job.backend_seconds)
    finally:
        for client in clients.values():
            await client.aclose()
    return {
        side: {
            "check_seconds": config.added_check_seconds,
            "beyond_check": latency_summary(values),
            "failed": failed[side],
        }
        for side, values in beyond.items()
    }


async def measure_point(
    target: Target,
    config: SideBySideConfig,
    *,
    repls: int,
    clients: int,
    run: str,
    audit_seconds: float | None,
) -> dict[str, Any]:
    """One (R, C) throughput point on one side, with the health prober running."""
    factory = target.factory(config.profile(config.check_seconds), run, config)
    with HealthProber(
        target.server, interval=config.probe_interval, path=HEALTH_PATHS[target.side]
    ) as prober:
        point = await measure_throughput(
            target.server,
            factory,
            workers=repls,
            concurrency=clients,
            warmup=config.warmup_seconds,
            window=config.window_seconds,
            audit=target.audit,
            audit_seconds=audit_seconds if target.audit is not None else None,
            send=target.send,
        )
    point.pop("_raw_ms", None)
    point["side"] = target.side
    point["health_p99_ms"] = _p(prober.latencies, 99)
    point["health_failures"] = prober.failures
    target.health += prober.latencies
    return point


#: A sleeping REPL younger than its import time plus this is counted as importing, not busy.
IMPORT_MARGIN_SECONDS = 1.0


class RandomKiller(WorkerKiller):
    """SIGKILLs a REPL process of the server chosen uniformly, whatever it is doing (busy, idle,
    importing), and records what it was doing: `idle` (blocked reading its stdin), `importing`
    (sleeping, younger than the import time plus a second), `busy` (sleeping, older)."""

    def __init__(
        self, server: BenchServer, *, every: float, import_seconds: float, seed: int = 0
    ) -> None:
        super().__init__(server, every=every, import_seconds=import_seconds, seed=seed)
        self.states: list[str] = []

    def _state(self, pid: int) -> str:
        try:
            age = time.time() - psutil.Process(pid).create_time()
        except psutil.Error:
            return "gone"
        sleeping = _sleeping(pid)
        if sleeping is None:
            return "unknown"
        if not sleeping:
            return "idle"
        return "importing" if age < self.import_seconds + IMPORT_MARGIN_SECONDS else "busy"

    async def kill_one(self, *, patience: float = 0.0) -> Kill | None:
        pids = sorted(self.server.worker_pids())
        if not pids:
            return None
        victim = self._rng.choice(pids)
        state = self._state(victim)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        self.kills.append(Kill(time.monotonic(), victim, state == "busy"))
        self.states.append(state)
        return self.kills[-1]


async def measure_kills(target: Target, config: SideBySideConfig, *, run: str) -> dict[str, Any]:
    """`kill_concurrency` clients for `kill_seconds` while a random REPL is SIGKILLed every
    `kill_every_seconds` on average: requests that failed, and how."""
    factory = target.factory(config.profile(config.check_seconds), run, config)
    await asyncio.to_thread(target.server.wait_warm, time.monotonic() + config.import_seconds + 60)
    killer = RandomKiller(
        target.server,
        every=config.kill_every_seconds,
        import_seconds=config.import_seconds,
        seed=config.seed,
    )
    with HealthProber(
        target.server, interval=config.probe_interval, path=HEALTH_PATHS[target.side]
    ) as prober:
        cpu_before = target.server.cpu_seconds()
        kill_task = asyncio.ensure_future(killer.run(config.kill_seconds))
        samples = await closed_loop(
            target.server.url,
            factory,
            concurrency=config.kill_concurrency,
            seconds=config.kill_seconds,
            send=target.send,
        )
        await kill_task
        cpu_after = target.server.cpu_seconds()
    target.health += prober.latencies
    failed = [s for s in samples if not s.ok]
    return {
        "side": target.side,
        "repls": config.kill_workers,
        "clients": config.kill_concurrency,
        "seconds": config.kill_seconds,
        "kill_every_s": config.kill_every_seconds,
        "kills": len(killer.kills),
        "kills_by_state": dict(Counter(killer.states)),
        "requests": len(samples),
        "failed": len(failed),
        "failed_by_status": {str(k): v for k, v in Counter(s.http_status for s in failed).items()},
        "first_failure": failed[0].error if failed else None,
        "latency": latency_summary([s.latency for s in samples if s.ok]),
        "health_p99_ms": _p(prober.latencies, 99),
        "health_failures": prober.failures,
        "server_cpu_ms_per_request": round(
            (cpu_after - cpu_before) * 1000 / max(1, len(samples)), 3
        ),
    }


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Workspace:
    """What both services share: the project, the fake toolchain (its `lake` included), the
    REPL wrapper; made in `directory` when constructed."""

    directory: Path
    install: KiminaInstall
    prisma_shim: Path | None
    config: SideBySideConfig
    repl_path: Path = field(init=False)

    def __post_init__(self) -> None:
        install_toolchain(
            self.directory / "elan",
            project_dir(self.directory),
            self.config.audit(),
            repl_import_seconds=self.config.import_seconds,
            lean_version=LEAN_VERSION,
        )
        self.repl_path = install_kimina_repl(self.directory / "kimina", self.config.import_seconds)

    def proofgate(self, config: SideBySideConfig, repls: int, name: str) -> BenchServer:
        bench = BenchConfig(header_mix=((config.header, 1.0),))
        settings = _server_settings(bench, self.directory, repls)
        settings["data_dir"] = str(self.directory / f"data-{name}")
        server_config = ServerConfig(
            settings, config.profile(config.check_seconds), [], config.audit()
        )
        return BenchServer(server_config, self.directory, name, source=config.proofgate_source)

    def kimina(self, config: SideBySideConfig, repls: int) -> KiminaServer:
        return KiminaServer(
            self.install,
            self.directory,
            repls=repls,
            header=config.header,
            repl_path=self.repl_path,
            project=project_dir(self.directory),
            lake_bin=self.directory / "elan" / "bin",
            environment=config.kimina_environment,
            import_seconds=config.import_seconds,
            prisma_shim=self.prisma_shim,
        )


async def run_round(
    workspace: Workspace, config: SideBySideConfig, round_: int, say: Progress
) -> dict[str, Any]:
    """Every point once, the sides interleaved; two services (one per side) up at a time."""
    record: dict[str, Any] = {"round": round_, "added": {}, "throughput": [], "kills": []}
    health: dict[str, list[float]] = {side: [] for side in SIDES}
    audit_seconds: float | None = None
    turn = round_
    by_repls: dict[int, list[tuple[int, int]]] = {}
    for repls, clients in config.points:
        by_repls.setdefault(repls, []).append((repls, clients))
    by_repls.setdefault(config.kill_workers, [])
    first = True
    for repls, points in by_repls.items():
        say(f"round {round_}: starting Kimina and proofgate with {repls} REPL worker(s)")
        kimina = workspace.kimina(config, repls)
        proofgate = workspace.proofgate(config, repls, f"proofgate-r{repls}-round{round_}")
        with contextlib.ExitStack() as stack:
            for server in (kimina, proofgate):
                await asyncio.to_thread(server.start)
                stack.callback(server.stop)
            targets = [
                Target("kimina", kimina, send_kimina),
                Target("proofgate_audit_on", proofgate, send_job, config.audit()),
                Target("proofgate_audit_off", proofgate, send_job),
            ]
            if first:
                say(
                    f"round {round_}: added latency, one client, {config.added_check_seconds * 1000:g} ms checks"
                )
                record["added"] = await measure_added(
                    _ordered(targets, turn), config, run=f"r{round_}_added"
                )
                on = record["added"]["proofgate_audit_on"]["beyond_check"].get("p50_ms")
                audit_seconds = on / 1000 if on is not None else None
                first = False
            for repls_, clients in points:
                turn += 1
                for target in _ordered(targets, turn):
                    say(f"round {round_}: R{repls_} C{clients}, {LABELS[target.side]}")
                    point = await measure_point(
                        target,
                        config,
                        repls=repls_,
                        clients=clients,
                        run=f"r{round_}_R{repls_}C{clients}",
                        audit_seconds=audit_seconds,
                    )
                    point["round"] = round_
                    record["throughput"].append(point)
            if repls == config.kill_workers and config.kill_seconds > 0:
                turn += 1
                for target in _ordered(targets, turn):
                    say(
                        f"round {round_}: SIGKILL a random REPL every ~{config.kill_every_seconds:g} s "
                        f"for {config.kill_seconds:g} s, {LABELS[target.side]}"
                    )
                    kills = await measure_kills(target, config, run=f"r{round_}_kills")
                    kills["round"] = round_
                    record["kills"].append(kills)
            for target in targets:
                health[target.side] += target.health
    record["health_s"] = health
    return record


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return round(statistics.median(present), 4) if present else None


def summarize(rounds: Sequence[dict[str, Any]], config: SideBySideConfig) -> dict[str, Any]:
    """Per side: medians over rounds of each point's figures; health p99 over every probe."""
    summary: dict[str, Any] = {}
    last_repls, last_clients = config.points[-1]
    for side in SIDES:
        figures: dict[str, Any] = {}
        for repls, clients in config.points:
            chosen = [
                p
                for r in rounds
                for p in r["throughput"]
                if p["side"] == side and (p["workers"], p["concurrency"]) == (repls, clients)
            ]
            key = f"r{repls}_c{clients}"
            figures[f"throughput_of_ideal_{key}"] = _median(
                [p["achieved_over_ideal"] for p in chosen]
            )
            figures[f"achieved_rps_{key}"] = _median([p["achieved_rps"] for p in chosen])
            figures[f"ideal_rps_{key}"] = _median([p["ideal_rps"] for p in chosen])
            figures[f"server_cpu_ms_per_request_{key}"] = _median(
                [p["server_cpu_ms_per_request"] for p in chosen]
            )
            figures[f"cpu_ms_per_request_with_children_{key}"] = _median(
                [p["cpu_ms_per_request_with_children"] for p in chosen]
            )
            figures[f"failed_{key}"] = sum(p["failed"] for p in chosen)
        figures["server_cpu_ms_per_request"] = figures[
            f"server_cpu_ms_per_request_r{last_repls}_c{last_clients}"
        ]
        figures["cpu_ms_per_request_with_children"] = figures[
            f"cpu_ms_per_request_with_children_r{last_repls}_c{last_clients}"
        ]
        added = [r["added"][side]["beyond_check"] for r in rounds if side in r.get("added", {})]
        figures["added_p50_ms"] = _median([a.get("p50_ms") for a in added])
        figures["added_p99_ms"] = _median([a.get("p99_ms") for a in added])
        figures["added_requests"] = sum(int(a.get("count", 0)) for a in added)
        kills = [k for r in rounds for k in r["kills"] if k["side"] == side]
        figures["kills"] = sum(k["kills"] for k in kills)
        states: Counter[str] = Counter()
        for k in kills:
            states.update(k["kills_by_state"])
        figures["kills_by_state"] = dict(states)
        figures["requests_under_kills"] = sum(k["requests"] for k in kills)
        figures["failed_under_kills"] = sum(k["failed"] for k in kills)
        probes = [v for r in rounds for v in r.get("health_s", {}).get(side, [])]
        figures["health_p99_ms"] = _p(probes, 99)
        figures["health_probes"] = len(probes)
        summary[side] = figures
    return summary


def run_side_by_side(
    install: KiminaInstall,
    config: SideBySideConfig,
    *,
    progress: Progress | None = None,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Every round, then the summary; the results as one JSON-able dict."""
    say = progress or (lambda _message: None)
    started = time.monotonic()
    load_before = load_average()
    prisma = install.has_prisma_client()
    with tempfile.TemporaryDirectory(prefix="proofgate-side-by-side-") as scratch:
        directory = workdir or Path(scratch)
        shim = None
        if not prisma:
            shim = directory / "prisma-shim"
            (shim / "prisma").mkdir(parents=True, exist_ok=True)
            (shim / "prisma" / "__init__.py").write_text(PRISMA_SHIM, "utf-8")
        workspace = Workspace(directory, install, shim, config)
        rounds = [
            asyncio.run(run_round(workspace, config, index, say)) for index in range(config.rounds)
        ]
    summary = summarize(rounds, config)
    for record in rounds:
        record.pop("health_s", None)
    return {
        "side_by_side": 1,
        "proofgate": __version__,
        "proofgate_server": _proofgate_revision(config.proofgate_source),
        "kimina": {
            "checkout": str(install.checkout),
            "commit": install.commit(),
            "python": str(install.python),
            "environment": config.kimina_environment,
            "prisma": "generated client"
            if prisma
            else "import-only stand-in (client never generated); database off",
            "database": "off (no LEAN_SERVER_DATABASE_URL)",
        },
        "backend": {
            "repl": "SIMULATED (proofgate.bench.simulated_repl), the same on both sides",
            "import_seconds": config.import_seconds,
            "check_seconds": config.check_seconds,
            "added_check_seconds": config.added_check_seconds,
            "lake": "SIMULATED `lake env CMD` (runs CMD), the same on both sides",
            "audit": config.audit().describe(config.import_seconds),
        },
        "config": config.describe(),
        "machine": machine_facts(load_before),
        "rounds": rounds,
        "summary": summary,
        "duration_s": round(time.monotonic() - started, 1),
    }


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _proofgate_revision(source: Path | None) -> dict[str, Any]:
    """Which proofgate the server ran: this checkout's commit and its uncommitted source files,
    or the `--proofgate-source` tree."""
    if source is not None:
        return {"source": str(source)}
    root = Path(__file__).resolve().parent.parent
    changed = _git(root, "status", "--porcelain", "--", "src")
    return {
        "source": "this checkout",
        "commit": _git(root, "rev-parse", "HEAD"),
        "uncommitted_source_files": [line[3:] for line in (changed or "").splitlines()],
    }


# --- the table ---------------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else str(value)
    return f"{text}{unit}"


def _ratio(on: Any, kimina: Any) -> str:
    if not isinstance(on, (int, float)) or not isinstance(kimina, (int, float)) or not kimina:
        return ""
    return f"{on / kimina:.2f}x"


def _revision(results: dict[str, Any]) -> str:
    server = results.get("proofgate_server") or {}
    if server.get("source") not in (None, "this checkout"):
        return f"from {server['source']}"
    text = (server.get("commit") or "?")[:12]
    changed = server.get("uncommitted_source_files") or []
    if changed:
        text += f" with uncommitted changes to {len(changed)} source file(s)"
    return text


def render_table(results: dict[str, Any]) -> str:
    """The issue's table from a results dict: one column per side, audit-on over Kimina last."""
    summary = results["summary"]
    config = results["config"]
    check_ms = config["check_seconds"] * 1000
    added_ms = config["added_check_seconds"] * 1000
    header = (
        f"| SIMULATED REPL ({config['import_seconds']:g} s import), {check_ms:g} ms checks | "
        + " | ".join(LABELS[side] for side in SIDES)
        + " | audit on / Kimina |"
    )
    lines = [header, "|---|" + "---:|" * (len(SIDES) + 1)]

    def row(label: str, key: str, unit: str = "", digits: int = 2) -> None:
        values = [summary[side].get(key) for side in SIDES]
        cells = [_fmt(v, unit, digits) for v in values]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {_ratio(values[1], values[0])} |")

    for point in config["points"]:
        repls, clients = point["repls"], point["clients"]
        row(f"completed / ideal, R{repls} C{clients}", f"throughput_of_ideal_r{repls}_c{clients}")
    row(f"added latency p50, one client, {added_ms:g} ms checks", "added_p50_ms", " ms", 1)
    row("added latency p99, one client", "added_p99_ms", " ms", 1)
    last = config["points"][-1]
    where = f"R{last['repls']} C{last['clients']}"
    row(
        f"server CPU per request, {where}, children excluded", "server_cpu_ms_per_request", " ms", 1
    )
    row(
        f"server CPU per request, {where}, with children (the audit's processes)",
        "cpu_ms_per_request_with_children",
        " ms",
        1,
    )
    row("`/healthz` p99 through load and kills (Kimina: `/health`)", "health_p99_ms", " ms", 1)
    cells = []
    for side in SIDES:
        figures = summary[side]
        cells.append(
            f"{figures.get('failed_under_kills')} of {figures.get('requests_under_kills')} "
            f"({figures.get('kills')} kills)"
        )
    lines.append(
        f"| failed requests under SIGKILLs of a random REPL every "
        f"~{config['kill_every_seconds']:g} s for {config['kill_seconds']:g} s, "
        f"R{config['kill_workers']} C{config['kill_concurrency']} | " + " | ".join(cells) + " | |"
    )
    load = results.get("machine", {}).get("load_average_1m", {})
    note = (
        f"Mode `{config['mode']}`, {config['rounds']} round(s) (medians); proofgate's audit "
        f"checker `{config.get('audit_checker', 'oneshot')}`, compiler "
        f"`{config.get('audit_compiler', 'lean')}`, "
        + statements_text(config.get("statement_group", 1))
        + f"; {results.get('machine', {}).get('cpus')} CPUs, 1-minute load average "
        f"{load.get('before')} before and {load.get('after')} after; Kimina "
        f"{(results.get('kimina', {}).get('commit') or '?')[:12]} in "
        f"`{results.get('kimina', {}).get('environment')}` mode; proofgate {_revision(results)}."
    )
    return "\n".join(lines) + "\n\n" + note + "\n"


def write_results(results: dict[str, Any], directory: Path) -> list[Path]:
    """`side_by_side-MODE.json` and `side_by_side-MODE.md` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"side_by_side-{results['config']['mode']}"
    written = [directory / f"{stem}.json", directory / f"{stem}.md"]
    written[0].write_text(json.dumps(results, indent=1) + "\n", "utf-8")
    command = results.get("command")
    text = render_table(results)
    if command:
        text = f"`{command}`\n\n{text}"
    written[1].write_text(text, "utf-8")
    return written


# --- the command line --------------------------------------------------------------------------


@dataclass(frozen=True)
class Arguments:
    install: KiminaInstall
    config: SideBySideConfig
    out: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Arguments:
    """The Kimina checkout comes from `--kimina` or PROOFGATE_KIMINA_CHECKOUT; its Python from
    `--kimina-python`, PROOFGATE_KIMINA_PYTHON or CHECKOUT/.venv/bin/python."""
    parser = argparse.ArgumentParser(
        prog="side_by_side.py", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--kimina",
        type=Path,
        default=os.environ.get("PROOFGATE_KIMINA_CHECKOUT") or None,
        help="a checkout of project-numina/kimina-lean-server (or PROOFGATE_KIMINA_CHECKOUT)",
    )
    parser.add_argument(
        "--kimina-python",
        type=Path,
        default=os.environ.get("PROOFGATE_KIMINA_PYTHON") or None,
        help="the Python of Kimina's own venv (default: CHECKOUT/.venv/bin/python)",
    )
    parser.add_argument("--quick", action="store_true", help="shorter windows, 20 s of kills")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every point (medians)")
    parser.add_argument("--out", type=Path, help="write side_by_side-MODE.{json,md} here")
    parser.add_argument("--kimina-environment", choices=("prod", "dev"), default="prod")
    parser.add_argument("--audit-jail", choices=("auto", "bwrap", "none"), default="auto")
    parser.add_argument("--audit-checker", choices=("oneshot", "warm"), default="oneshot")
    parser.add_argument("--audit-compiler", choices=("lean", "zygote"), default="lean")
    parser.add_argument(
        "--statement-group",
        type=int,
        default=1,
        help="consecutive requests sharing one statement (1: every statement new)",
    )
    parser.add_argument("--kill-seconds", type=float, help="how long REPLs are killed")
    parser.add_argument("--window", type=float, help="seconds of each throughput window")
    parser.add_argument(
        "--proofgate-source",
        type=Path,
        help="another proofgate src/ to run the proofgate server from (default: this checkout)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.kimina is None:
        parser.error(
            "give a Kimina Lean Server checkout: --kimina PATH or PROOFGATE_KIMINA_CHECKOUT "
            "(git clone it outside this repository and install it in a venv of its own)"
        )
    checkout = args.kimina.resolve()
    if not (checkout / "server" / "__main__.py").is_file():
        parser.error(f"{checkout} is not a Kimina Lean Server checkout (no server/__main__.py)")
    python = args.kimina_python or checkout / ".venv" / "bin" / "python"
    if not Path(python).exists():
        parser.error(
            f"no Python for Kimina at {python}: make its venv (`python -m venv`, then "
            "`pip install -r requirements.txt` and `pip install .` in the checkout) and pass "
            "--kimina-python or PROOFGATE_KIMINA_PYTHON"
        )
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.statement_group < 1:
        parser.error("--statement-group must be at least 1")
    config = SideBySideConfig.quick() if args.quick else SideBySideConfig()
    changes: dict[str, Any] = {
        "rounds": args.rounds,
        "seed": args.seed,
        "kimina_environment": args.kimina_environment,
        "audit_jail": args.audit_jail,
        "audit_checker": args.audit_checker,
        "audit_compiler": args.audit_compiler,
        "statement_group": args.statement_group,
    }
    if args.kill_seconds is not None:
        changes["kill_seconds"] = args.kill_seconds
    if args.window is not None:
        changes["window_seconds"] = args.window
    if args.proofgate_source is not None:
        source = args.proofgate_source.resolve()
        if not (source / "proofgate" / "__init__.py").is_file():
            parser.error(f"{source} is not a proofgate src/ directory (no proofgate/__init__.py)")
        changes["proofgate_source"] = source
    return Arguments(KiminaInstall(checkout, Path(python)), replace(config, **changes), args.out)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_args(argv)

    def say(message: str) -> None:
        print(f"[side-by-side] {message}", file=sys.stderr, flush=True)

    try:
        results = run_side_by_side(arguments.install, arguments.config, progress=say)
    except BenchServerError as exc:
        print(f"side_by_side: {exc}", file=sys.stderr)
        return 3
    shown = list(argv) if argv is not None else sys.argv[1:]
    results["command"] = " ".join(["python benchmarks/side_by_side.py", *shown])
    print(render_table(results))
    if arguments.out is not None:
        for path in write_results(results, arguments.out):
            say(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
