"""The bench's HTTP server: the real app and `CheckerService` over the SIMULATED backend.

`python -m proofgate.bench.server CONFIG.json` runs in its own process, so the bench can read the
server's own CPU time and RSS (its workers are separate processes and are not counted). The service
is the real one (assembly, policy, result cache, REPL pool, verdict, HTTP middleware and logging,
uvicorn as `proofgate serve` runs it). The REPL is simulated (`SimulatedReplLauncher`); the audit
is the real `Auditor` in the jail the service selects, over a simulated Lean (the audit model,
`proofgate.bench.audit_model`), except for requests marked audit-off (`SwitchedAuditor`). It binds
a random loopback port, writes it to a file, and stops (draining its pool) on SIGTERM. `BenchServer`
starts and stops it from the bench.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from proofgate.bench.audit_model import AuditModel
from proofgate.bench.workload import BackendProfile
from proofgate.exceptions import ProofgateError
from proofgate.sandbox.spawn_client import SERVER_SCRIPT

__all__ = ["BenchServer", "BenchServerError", "ServerConfig", "main"]

#: Seconds the server may take to start and warm every worker, beyond the import time.
START_SECONDS = 40.0
#: How the server's spawn server shows in its command line.
SPAWN_SERVER_MARK = SERVER_SCRIPT.name
STOP_SECONDS = 15.0


class BenchServerError(ProofgateError):
    """The bench server did not start, or died; the message quotes its log."""


@dataclass
class ServerConfig:
    """What the server process builds: settings fields, the backend profile, extra REPL options."""

    settings: dict[str, Any]
    profile: BackendProfile
    repl_extra_options: list[str] = field(default_factory=list)
    audit: AuditModel = field(default_factory=AuditModel)

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "profile": self.profile.__dict__,
            "repl_extra_options": self.repl_extra_options,
            "audit": self.audit.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerConfig:
        return cls(
            data["settings"],
            BackendProfile(**data["profile"]),
            list(data["repl_extra_options"]),
            AuditModel.from_json(data.get("audit") or {"enabled": False}),
        )


# --- the server process ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Serve the app over the simulated backend until SIGTERM; the port goes to `PORT_FILE`."""

    from proofgate.api.app import create_app
    from proofgate.api.server import Server, uvicorn_config
    from proofgate.bench.auditor import SimulatedAuditor, SwitchedAuditor
    from proofgate.bench.simulated_repl import SimulatedReplLauncher
    from proofgate.config import Settings
    from proofgate.logs import configure_logging
    from proofgate.sandbox import select_spawner
    from proofgate.sandbox.group import ProcessGroupSpawner
    from proofgate.service import CheckerService
    from proofgate.verify.audit import Auditor

    config_path, port_file = (argv if argv is not None else sys.argv[1:])[:2]
    config = ServerConfig.from_json(json.loads(Path(config_path).read_text("utf-8")))
    # the service runs the audit model's settings (with zygotes, /v1/check takes their path)
    settings = Settings(
        **{**config.settings, **(config.audit.service_settings() if config.audit.enabled else {})}
    )
    configure_logging(settings.log_level, json=settings.log_json)
    launcher = SimulatedReplLauncher(
        settings, config.profile.repl_options() + config.repl_extra_options
    )
    real = None
    if config.audit.enabled:
        # The audit as deployed: the spawner the service selects for its `sandbox` setting (the
        # REPL workers stay on the process-group spawner: the simulated REPL is not jailable).
        jailed = Settings(
            **{
                **config.settings,
                "sandbox": config.audit.jail,
                **config.audit.service_settings(),
            }
        )
        real = Auditor(jailed, spawner=select_spawner(jailed))
    service = CheckerService(
        settings,
        spawner=ProcessGroupSpawner(),
        launcher=launcher,
        auditor=SwitchedAuditor(real, SimulatedAuditor(config.profile.audit_seconds)),
    )
    app = create_app(settings, service=service)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose `proto` says TCP, and
    # without it every response waits ~40 ms on delayed ACKs (uvicorn's own bind gets this right).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    Path(port_file).write_text(str(sock.getsockname()[1]), "utf-8")
    server = Server(uvicorn_config(app, log_level=settings.log_level, lifespan="on"))
    server.run(sockets=[sock])


def _is_live_audit(argv: list[str]) -> bool:
    """A warm checker (`proofgate-checker --serve`) or a zygote (`proofgate-elab --zygote`), or
    the jail around one (bwrap's command line holds the program's)."""
    return "--serve" in argv or "--zygote" in argv


def _scheduler_seconds(pid: int) -> float | None:
    """Run time of every live thread of `pid` from /proc/PID/task/*/schedstat (ns), or None."""
    total = 0
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            try:
                with open(f"{task.path}/schedstat", "rb") as stat:
                    total += int(stat.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended meanwhile
    except OSError:
        return None
    return total / 1e9 if total else None


# --- the bench's handle on it ----------------------------------------------------------------


class BenchServer:
    """Starts the server process in `workdir`, waits until every worker is warm, stops it."""

    def __init__(
        self, config: ServerConfig, workdir: Path, name: str, *, source: Path | None = None
    ) -> None:
        self.config = config
        self.source = source  # another proofgate's src/ to run the server from (None: this one)
        self.workdir = workdir
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._psutil: psutil.Process | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        config_path = self.workdir / f"{self.name}.json"
        port_file = self.workdir / f"{self.name}.port"
        config_path.write_text(json.dumps(self.config.to_json()), "utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFGATE_")}
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        if self.source is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(self.source), env.get("PYTHONPATH")])
            )
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "proofgate.bench.server", str(config_path), str(port_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.workdir,
            )
        self._psutil = psutil.Process(self._process.pid)
        deadline = time.monotonic() + START_SECONDS + self.config.profile.import_seconds
        while not port_file.exists() or not port_file.read_text("utf-8").strip():
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise BenchServerError(f"the bench server did not bind a port: {self.log_tail()}")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(port_file.read_text('utf-8'))}"
        self.wait_warm(deadline)

    def wait_warm(self, deadline: float) -> dict[str, Any]:
        """Block until `/readyz` shows every worker process idle and warm."""
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while True:
                self._check_alive()
                try:
                    response = client.get("/readyz")
                    pool = response.json().get("pool", {})
                    if response.status_code == 200 and pool.get("idle_workers") == pool.get(
                        "max_processes"
                    ):
                        return pool
                except (httpx.HTTPError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise BenchServerError(
                        f"the bench server's pool did not warm up: {self.log_tail()}"
                    )
                time.sleep(0.05)

    def pool_stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/readyz", timeout=10.0)
        return dict(response.json().get("pool", {}))

    def _processes(self) -> list[psutil.Process]:
        """The server process and its spawn server, which starts (and reaps) every child of the
        service: the service's own work is in both."""
        assert self._psutil is not None
        found = [self._psutil]
        with contextlib.suppress(psutil.Error):
            for child in self._psutil.children():
                with contextlib.suppress(psutil.Error):
                    if SPAWN_SERVER_MARK in " ".join(child.cmdline()):
                        found.append(child)
        return found

    def cpu_seconds(self) -> float:
        """CPU time of the server process and its spawn server (every thread), not of workers or
        the audit's processes: the scheduler's nanosecond count where Linux gives it, else user +
        system time in clock ticks (100 a second: too coarse for a few seconds' window of a few
        ms per request)."""
        total = 0.0
        for process in self._processes():
            precise = _scheduler_seconds(process.pid)
            if precise is None:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    precise = times.user + times.system
            total += precise or 0.0
        return total

    def children_cpu_seconds(self) -> float:
        """CPU time of the audit's processes (user + system, clock ticks): the server's reaped
        descendants (the spawn server reaps them: one-shot audit processes, and any REPL worker
        that ended, which the caller must rule out), and the long-lived ones still running
        (warm checkers, zygotes), with the children those reaped (a zygote's forks). A process
        that ends moves its time from the one sum to the other: nothing is counted twice."""
        total = 0.0
        for process in self._processes():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.children_user + times.children_system
        for server in self._processes()[1:]:
            with contextlib.suppress(psutil.Error):
                for process in server.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        if _is_live_audit(process.cmdline()):
                            times = process.cpu_times()
                            total += times.user + times.system
                            total += times.children_user + times.children_system
        return total

    def rss_bytes(self) -> int:
        assert self._psutil is not None
        return int(self._psutil.memory_info().rss)

    def worker_pids(self) -> list[int]:
        """The server's live simulated-REPL processes (children of it or of its spawn server)."""
        pids = []
        for parent in self._processes():
            with contextlib.suppress(psutil.Error):
                for child in parent.children():
                    with contextlib.suppress(psutil.Error):
                        if child.status() != psutil.STATUS_ZOMBIE and any(
                            "simulated_repl" in w for w in child.cmdline()
                        ):
                            pids.append(child.pid)
        return pids

    def _check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise BenchServerError(
                f"the bench server exited with status {self._process.returncode}: {self.log_tail()}"
            )

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_events(self, since: int = 0) -> list[dict[str, Any]]:
        """The server's JSON log lines written after byte `since` (other lines are skipped)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                lines = log.read().decode("utf-8", errors="replace").splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        """SIGTERM (uvicorn drains and the pool kills its workers), then SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)

    def __enter__(self) -> BenchServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
