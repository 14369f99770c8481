"""The jail every Lean process runs in (bubblewrap), how to pick a spawner, and how to detect it.

`BwrapSpawner` starts each process tree in fresh user, network, PID, mount, IPC, UTS and cgroup
namespaces with every capability dropped, an empty environment, and only the system's /usr, the
dynamic linker's files and the paths the `SpawnSpec` names mounted (read-only unless listed as
writable), plus a private, size-capped tmpfs at /tmp (also /scratch, HOME and TMPDIR): no host
directory is writable unless the spec names it. Memory and tasks are capped by a cgroup (v1 or v2, see
`proofgate.sandbox.cgroups`), or by an RSS watchdog when no cgroup is writable; open files, file size and
core dumps by rlimits. Killing the jail kills its namespace's init, and with it every process inside.
docs/sandbox.md says what is isolated, how, and what was not tested.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from proofgate.config import Settings
from proofgate.exceptions import ConfigError, SandboxUnavailable, SpawnFailed
from proofgate.logs import get_logger
from proofgate.sandbox import launch
from proofgate.sandbox.cgroups import Cgroup, CgroupTree, find_cgroup_tree
from proofgate.sandbox.jail import BWRAP_OWN_TASKS, JailedProcess, remove_tree
from proofgate.sandbox.process import Limits, ManagedProcess, Spawner, SpawnSpec

__all__ = [
    "BwrapSpawner",
    "JailedProcess",
    "JailedResult",
    "SandboxStatus",
    "detect_sandbox",
    "run_jailed",
    "select_spawner",
]

#: The jail's private tmpfs, and /scratch, a link to it kept for specs that name it (cwd, HOME).
JAIL_TMP = Path("/tmp")
SCRATCH = Path("/scratch")
JAIL_PATH = "/usr/local/bin:/usr/bin:/bin"
#: Host-side scratch directories of older versions, `<tmp>/proofgate-scratch-<pid>-<random>`: swept.
SCRATCH_PREFIX = "proofgate-scratch-"
#: Top-level system directories a dynamically linked program needs (symlinks on merged-/usr systems).
_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
#: Only what the dynamic linker reads from /etc (and the alternatives symlinks of /usr/bin).
_SYSTEM_ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives")
_INSTALL_HINT = (
    "apt-get install bubblewrap (or set PROOFGATE_SANDBOX=none for local development only)"
)
_DOCKER_HINT = (
    "in Docker run with --security-opt seccomp=unconfined --security-opt apparmor=unconfined "
    "(see docs/sandbox.md); on Ubuntu 24.04 set sysctl kernel.apparmor_restrict_unprivileged_userns=0"
)

_log = get_logger(__name__)


@dataclass(frozen=True)
class SandboxStatus:
    """What `doctor` and `/readyz` report: which sandbox, whether it works, how limits are held."""

    kind: str  # "bwrap" or "none"
    ok: bool
    detail: str
    limits: str = ""  # "cgroup v1 (...)", "cgroup v2 (...)" or "RSS watchdog (...)"


@lru_cache(maxsize=8)
def _bwrap_options(bwrap: str) -> frozenset[str]:
    """The options this bwrap understands (--disable-userns and --size are newer than some distros')."""
    try:
        run = subprocess.run(
            [bwrap, "--help"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(word for word in (run.stdout + run.stderr).split() if word.startswith("--"))


def tmpfs_bytes(limits: Limits) -> int:
    """The size cap of a jail's /tmp: the file size cap, and never more than the memory cap (under
    a cgroup its pages are charged to the jail's memory too)."""
    cap = limits.file_size_bytes
    if limits.memory_bytes is not None:
        cap = min(cap, limits.memory_bytes)
    return max(cap, 4096)  # bwrap takes no 0: no file may be written anyway (RLIMIT_FSIZE)


def _is_within(path: str, directory: str) -> bool:
    """`PurePath(path).is_relative_to(directory)` for normalized absolute paths (realpath's)."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _sweep_stale_scratch() -> None:
    """Remove host scratch directories a dead service left (older versions bound one per jail)."""
    for entry in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        owner = entry.name.removeprefix(SCRATCH_PREFIX).partition("-")[0]
        if owner.isdigit() and int(owner) != os.getpid() and not Path(f"/proc/{owner}").exists():
            remove_tree(entry)


class BwrapSpawner:
    """Starts every process tree in its own bubblewrap jail, capped by a cgroup or a watchdog."""

    name = "bwrap"

    def __init__(
        self,
        settings: Settings,
        *,
        cgroup_root: Path | None = None,
        bwrap: str | None = None,
        poll_interval: float = 0.1,
    ) -> None:
        found = bwrap or shutil.which("bwrap")
        if found is None:
            raise SandboxUnavailable(f"bubblewrap (bwrap) not found: {_INSTALL_HINT}")
        self.bwrap = found
        self._options = _bwrap_options(found)
        try:
            self.prlimit = launch.find_prlimit()
        except OSError as exc:
            raise SandboxUnavailable(str(exc)) from exc
        if os.geteuid() == 0 and "--disable-userns" not in self._options:
            # As root the jail's uid is the host's root; a nested user namespace would give it a
            # fresh procfs with writable global sysctls.
            raise SandboxUnavailable(
                f"{found} has no --disable-userns (bubblewrap 0.8 or later), which a service running "
                "as root needs: upgrade bubblewrap, or run proofgate as an unprivileged user"
            )
        self._hidden = (settings.data_dir, Path.home())
        #: What `_check` compares every mount with, resolved once (not per path, per spawn).
        self._hidden_resolved = tuple((hidden, os.path.realpath(hidden)) for hidden in self._hidden)
        self._system_args: list[str] | None = None  # the argv's fixed part, built on first use
        self._poll_interval = poll_interval
        self.cgroups: CgroupTree | None
        self.cgroups, reason = find_cgroup_tree(cgroup_root)
        if self.cgroups is None and "--size" not in self._options:
            # Without a cgroup nothing else would bound what a submission writes to /tmp.
            raise SandboxUnavailable(
                f"{found} has no --size (bubblewrap 0.5 or later), which a size-capped /tmp needs "
                f"when no cgroup is writable ({reason}): upgrade bubblewrap"
            )
        _sweep_stale_scratch()
        if self.cgroups is not None:
            self.cgroups.remove_stale()
            self.limits_mode = reason
        else:
            self.limits_mode = f"RSS watchdog ({reason})"

    def command(self, spec: SpawnSpec, limits: Limits) -> list[str]:
        """The bwrap argv that runs `spec` jailed (checks the spec first; raises ConfigError)."""
        self._check(spec)
        argv = list(self._fixed_args())
        # Read-only /proc: a jail started by root runs as the host's uid 0, and the kernel lets that
        # uid write global sysctls (kernel.core_pattern, ...) with no capability at all.
        argv += ["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev"]
        if "--size" in self._options:
            argv += ["--size", str(tmpfs_bytes(limits))]
        # The jail's only writable place of its own, in memory: private to this jail, gone with it.
        argv += [
            "--perms",
            "1777",
            "--tmpfs",
            str(JAIL_TMP),
            "--symlink",
            str(JAIL_TMP),
            str(SCRATCH),
        ]
        for path in spec.read_only:
            argv += ["--ro-bind", str(path), str(path)]
        for path in spec.writable:
            argv += ["--bind", str(path), str(path)]
        if not spec.scratch:  # after the binds, which may need mount points made in /tmp
            argv += ["--remount-ro", str(JAIL_TMP)]
        argv += ["--remount-ro", "/", "--chdir", str(spec.cwd)]
        environment = {
            "PATH": JAIL_PATH,
            "HOME": str(JAIL_TMP),
            "TMPDIR": str(JAIL_TMP),
            **spec.env,
        }
        for key, value in environment.items():
            argv += ["--setenv", key, value]
        return [*argv, "--", *spec.argv]

    def _fixed_args(self) -> list[str]:
        """The part of every jail's argv that depends on nothing per spawn (the namespaces, the
        system directories as they are linked on this host): built once per spawner."""
        if self._system_args is None:
            argv: list[str] = [
                self.bwrap,
                "--unshare-all",
                "--unshare-user",
                "--cap-drop",
                "ALL",
                "--die-with-parent",
                "--new-session",
                "--clearenv",
                "--hostname",
                "proofgate",
            ]
            if "--disable-userns" in self._options:
                # no nested user namespace to regain capabilities in
                argv.append("--disable-userns")
            for name in _SYSTEM_DIRS:
                path = Path("/") / name
                if path.is_symlink():
                    argv += ["--symlink", os.readlink(path), str(path)]
                elif path.is_dir():
                    argv += ["--ro-bind", str(path), str(path)]
            for path_text in _SYSTEM_ETC:
                argv += ["--ro-bind-try", path_text, path_text]
            self._system_args = argv
        return self._system_args

    def _check(self, spec: SpawnSpec) -> None:
        if not spec.argv:
            raise ConfigError("SpawnSpec.argv is empty: name the program to run")
        bound = [*spec.read_only, *spec.writable]
        for path in bound:
            text = str(path)
            if not path.is_absolute() or not os.path.exists(text):
                raise ConfigError(
                    f"cannot mount {path} into the jail: it must be an existing absolute path"
                )
            # strings, not PurePaths: this runs for every bound path of every spawn
            resolved = os.path.realpath(text)
            for hidden, hidden_resolved in self._hidden_resolved:
                if resolved == "/" or _is_within(hidden_resolved, resolved):
                    raise ConfigError(
                        f"refusing to mount {path} into the jail: it would expose {hidden}; "
                        "mount a narrower directory (the toolchain, the project, Mathlib)"
                    )
        for key in spec.env:
            if not key or "=" in key:
                raise ConfigError(f"invalid environment variable name {key!r} for the jail")
        visible = [*bound, SCRATCH, JAIL_TMP]
        if not spec.cwd.is_absolute() or not any(spec.cwd.is_relative_to(root) for root in visible):
            raise ConfigError(
                f"working directory {spec.cwd} is not inside the jail: add it (or a parent) to "
                "SpawnSpec.read_only or .writable, or use /scratch"
            )

    async def spawn(self, spec: SpawnSpec, limits: Limits) -> JailedProcess:
        """Start `spec` jailed under `limits`. Raises ConfigError (bad spec), SpawnFailed (no
        cgroup, bwrap or the child's setup before exec failed)."""
        cgroup: Cgroup | None = None
        try:
            argv = self.command(spec, limits)
            if self.cgroups is not None:
                tasks = (
                    None if limits.max_processes is None else limits.max_processes + BWRAP_OWN_TASKS
                )
                cgroup = self.cgroups.create()
                cgroup.set_limits(
                    memory_bytes=limits.memory_bytes, max_tasks=tasks, oom_group=limits.oom_group
                )
                if limits.member_cgroups and not self._prepare_nesting(cgroup):
                    limits = dataclasses.replace(limits, member_cgroups=False)
            # The launcher joins the cgroup and sets the rlimits before it execs bwrap, and
            # raises the jail's oom_score_adj: under global memory pressure the kernel should
            # pick a jail before the service.
            process = await launch.start(
                argv,
                limits=limits,
                cwd="/",
                env={"PATH": JAIL_PATH},  # bwrap itself never sees the service's environment
                join_files=cgroup.join_files() if cgroup else (),
                oom_score_adj=1000,
                prlimit=self.prlimit,
                stream_limit=16 << 20,  # a REPL reply can be one long line
                pass_fds=spec.pass_fds,  # bwrap and the launcher keep them open for the program
            )
        except ConfigError:
            self._discard(cgroup)
            raise
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            self._discard(cgroup)
            raise SpawnFailed(
                f"could not start the jail ({exc}): run `proofgate doctor`",
                killed=isinstance(exc, launch.LaunchKilled),
            ) from exc
        _log.debug(
            "jail_started",
            pid=process.pid,
            argv0=spec.argv[0],
            limits=self.limits_mode.split(" (")[0],
        )
        return JailedProcess(
            process,
            limits=limits,
            cgroup=cgroup,
            poll_interval=self._poll_interval,
        )

    @staticmethod
    def _prepare_nesting(cgroup: Cgroup) -> bool:
        """Make room for members' cgroups; False where the kernel refuses (said in the log): the
        tree then runs without them, each member capped by the looks alone."""
        try:
            cgroup.prepare_nesting()
        except OSError as exc:
            _log.warning("cgroup_nesting_refused", cgroup=cgroup.name, error=str(exc))
            return False
        return True

    @staticmethod
    def _discard(cgroup: Cgroup | None) -> None:
        if cgroup is not None:
            cgroup.remove(timeout=1.0)


def _probe_jail(spawner: BwrapSpawner) -> str | None:
    """None when the very jail `spawner` builds can run `true` here; else bwrap's complaint."""
    try:
        argv = spawner.command(SpawnSpec(argv=["true"], cwd=SCRATCH), Limits())
        run = subprocess.run(
            argv, capture_output=True, text=True, timeout=10, check=False, env={"PATH": JAIL_PATH}
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if run.returncode == 0 else (run.stderr.strip() or f"bwrap exited {run.returncode}")


def detect_sandbox(settings: Settings) -> SandboxStatus:
    """Which sandbox will wrap Lean processes, whether it works here, and how limits are held."""
    if settings.sandbox == "none":
        return SandboxStatus(
            "none", True, "DISABLED by PROOFGATE_SANDBOX=none: local development only", "none"
        )
    try:
        spawner = BwrapSpawner(settings)
    except SandboxUnavailable as exc:
        return SandboxStatus("bwrap", False, str(exc))
    problem = _probe_jail(spawner)
    if problem:
        return SandboxStatus(
            "bwrap",
            False,
            f"bwrap at {spawner.bwrap} cannot build the jail: {problem} ({_DOCKER_HINT})",
        )
    return SandboxStatus(
        "bwrap",
        True,
        f"bubblewrap at {spawner.bwrap}; limits by {spawner.limits_mode}",
        spawner.limits_mode,
    )


def select_spawner(settings: Settings) -> Spawner:
    """The jail when it works; the unjailed spawner only on explicit opt-out; else refuse."""
    if settings.sandbox == "none":
        from proofgate.sandbox.group import ProcessGroupSpawner  # only the opt-out needs it

        _log.warning(
            "sandbox_disabled",
            message="PROOFGATE_SANDBOX=none: Lean runs UNJAILED with the service's own rights; "
            "submissions can read files, open sockets and run programs. Local development only.",
        )
        return ProcessGroupSpawner()
    status = detect_sandbox(settings)
    if not status.ok:
        raise SandboxUnavailable(f"refusing untrusted input without a sandbox: {status.detail}")
    return BwrapSpawner(settings)


@dataclass(frozen=True)
class JailedResult:
    """What one run of a jailed program came to (the audit's checker, say)."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    out_of_memory: bool
    duration_ms: int
    output_truncated: bool = False  # stdout or stderr went past max_output; the tree was killed
    #: "memory" or "processes" when the sandbox killed the tree for going over that cap.
    limit_exceeded: str | None = None


async def run_jailed(
    spawner: Spawner,
    spec: SpawnSpec,
    limits: Limits,
    *,
    timeout: float,
    stdin: bytes = b"",
    max_output: int = 16 << 20,
) -> JailedResult:
    """Run `spec` to completion under `timeout`; the tree is killed on timeout, overflow or cancel."""
    started = time.monotonic()
    process: ManagedProcess = await spawner.spawn(spec, limits)
    buffers = (bytearray(), bytearray())
    truncated = timed_out = False

    async def feed() -> None:
        try:
            if stdin:
                process.stdin.write(stdin)
                await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            process.stdin.close()

    async def collect(reader: asyncio.StreamReader, buffer: bytearray) -> None:
        nonlocal truncated
        while chunk := await reader.read(1 << 16):
            buffer += chunk[: max_output - len(buffer)]
            if len(buffer) >= max_output:
                truncated = True
                process.kill()
                return

    steps = [collect(process.stdout, buffers[0]), collect(process.stderr, buffers[1])]
    if stdin:
        steps.append(feed())
    else:  # nothing to write: no task for it
        process.stdin.close()
    collecting = asyncio.gather(*steps, process.wait())
    try:
        # not wait_for: on Python 3.11 it swallows a cancellation that meets the run's end
        done, _ = await asyncio.wait({collecting}, timeout=timeout)
        timed_out = not done
        if done:
            collecting.result()  # a reader's own error
    finally:
        collecting.cancel()  # its steps, on a timeout or a cancelled caller
        process.kill()  # stragglers holding the pipes, or a cancelled caller: nothing outlives the run
        await process.wait()
    return JailedResult(
        returncode=process.returncode,
        stdout=bytes(buffers[0]),
        stderr=bytes(buffers[1]),
        timed_out=timed_out,
        out_of_memory=process.out_of_memory(),
        duration_ms=int((time.monotonic() - started) * 1000),
        output_truncated=truncated,
        limit_exceeded=process.limit_exceeded,
    )
