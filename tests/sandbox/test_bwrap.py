"""Real hostile programs through the very BwrapSpawner the pool uses: each escape is tried and fails.

These run, never skip, in CI (`CI` set); elsewhere they skip only when bwrap is not installed.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
import types
import warnings
from pathlib import Path

import psutil
import pytest

from proofgate.config import Settings
from proofgate.exceptions import ConfigError, SandboxUnavailable
from proofgate.sandbox import (
    BwrapSpawner,
    JailedProcess,
    detect_sandbox,
    jail,
    run_jailed,
    select_spawner,
)
from proofgate.sandbox import bwrap as bwrap_module
from proofgate.sandbox.cgroups import JAIL_LEAF, CgroupV2
from proofgate.sandbox.process import Limits, ManagedProcess, SpawnSpec
from proofgate.sandbox.proctree import living, sample_tree
from proofgate.verify.audit import killed_by
from tests.support.fake_cgroup import FakeV2Tree, make_fake_v2_root
from tests.support.jail import NEEDS_BWRAP, PYTHON, PYTHON_HOME, MiB
from tests.support.waiting import DEADLINE_SECONDS, until, until_async

pytestmark = NEEDS_BWRAP


def python(code: str, *, read_only: tuple[Path, ...] = (), **kwargs: object) -> SpawnSpec:
    return SpawnSpec(
        argv=[PYTHON, "-c", textwrap.dedent(code)],
        cwd=Path("/scratch"),
        read_only=(PYTHON_HOME, *read_only),
        **kwargs,  # type: ignore[arg-type]
    )


def with_marker(marker: str) -> list[psutil.Process]:
    """Every process on the host whose command line mentions `marker`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in process.info["cmdline"] or []):
            found.append(process)
    return living(found)


def sleepers(stamp: str) -> list[psutil.Process]:
    """The `sleep` processes whose argument carries `stamp`."""
    found = []
    for process in with_marker(stamp):
        try:
            if process.name() == "sleep":
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def spawner(settings: Settings) -> BwrapSpawner:
    """The spawner as the service builds it: a cgroup when one is writable, else the watchdog."""
    return BwrapSpawner(settings)


@pytest.fixture
def watchdog_spawner(settings: Settings, tmp_path: Path) -> BwrapSpawner:
    """The same jail with no cgroup at all: limits held by the RssAnon watchdog alone."""
    jail = BwrapSpawner(settings, cgroup_root=tmp_path / "no-cgroups-here")
    assert jail.cgroups is None and jail.limits_mode.startswith("RSS watchdog")
    return jail


@pytest.fixture(params=["default", "watchdog"])
def any_spawner(request: pytest.FixtureRequest) -> BwrapSpawner:
    return request.getfixturevalue("spawner" if request.param == "default" else "watchdog_spawner")


async def test_a_jailed_program_gets_the_passed_descriptors_and_can_receive_more(
    any_spawner: BwrapSpawner,
) -> None:
    """The jail keeps a passed socket open as the program's fd 3 (a zygote's channel): the
    program receives a pipe over it and writes to that pipe, outside the jail."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    code = """
        import array, os, socket
        channel = socket.socket(fileno=3)
        _, ancillary, _, _ = channel.recvmsg(16, socket.CMSG_SPACE(4))
        given = array.array("i", ancillary[0][2][:4])[0]
        os.write(given, b"from inside the jail")
    """
    with ours, theirs:
        spec = python(code, pass_fds=(theirs.fileno(),))
        result_task = asyncio.ensure_future(run_jailed(any_spawner, spec, Limits(), timeout=60))
        read_end, write_end = os.pipe()
        ours.sendmsg(
            [b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, write_end.to_bytes(4, sys.byteorder))]
        )
        os.close(write_end)
        result = await result_task
    assert result.returncode == 0, result.stderr
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read() == b"from inside the jail"


# --- isolation ------------------------------------------------------------------------------------


async def test_no_connection_to_a_server_on_host_loopback(spawner: BwrapSpawner) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    abstract = socket.socket(socket.AF_UNIX)
    abstract_name = f"\0proofgate-test-{secrets.token_hex(4)}"
    abstract.bind(abstract_name)
    abstract.listen()
    abstract.setblocking(False)
    port = server.getsockname()[1]
    try:
        result = await run_jailed(
            spawner,
            python(f"""
            import socket
            for family, address in ((socket.AF_INET, ("127.0.0.1", {port})), (socket.AF_UNIX, {abstract_name!r})):
                s = socket.socket(family)
                s.settimeout(2)
                try:
                    s.connect(address)
                    print("CONNECTED", address)
                except OSError as exc:
                    print("FAILED", type(exc).__name__)
            print("interfaces", [line.split(":")[0].strip() for line in open("/proc/net/dev") if ":" in line])
        """),
            Limits(),
            timeout=15,
        )
        assert result.returncode == 0, result.stderr
        assert b"CONNECTED" not in result.stdout
        assert result.stdout.count(b"FAILED") == 2
        assert b"interfaces ['lo']" in result.stdout  # a namespace of its own, with only loopback
        for listener in (server, abstract):
            with pytest.raises(BlockingIOError):  # nobody ever reached the listeners
                listener.accept()
        # control: the server does accept connections from outside the jail
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            await asyncio.sleep(0.05)
            accepted, _ = server.accept()
            accepted.close()
    finally:
        server.close()
        abstract.close()


async def test_secrets_outside_the_mounted_paths_cannot_be_read(
    spawner: BwrapSpawner, settings: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret-in-tmp")
    settings.data_dir.mkdir(parents=True)
    keys = settings.data_dir / "keys.json"
    keys.write_text("s3cret-in-data-dir")
    allowed = tmp_path / "project"
    allowed.mkdir()
    (allowed / "visible.lean").write_text("theorem visible : True := trivial")
    targets = [
        str(secret),
        str(keys),
        str(allowed / "visible.lean"),
        "/etc/shadow",
        "/etc/passwd",
        "/root",
        "/home",
        str(Path.home()),
    ]
    result = await run_jailed(
        spawner,
        python(
            f"""
        import json, os
        out = {{}}
        for path in {targets!r}:
            try:
                out[path] = open(path).read() if os.path.isfile(path) else sorted(os.listdir(path))
            except OSError as exc:
                out[path] = type(exc).__name__
        print(json.dumps(out))
    """,
            read_only=(allowed,),
        ),
        Limits(),
        timeout=15,
    )
    seen = json.loads(result.stdout)
    assert seen[str(allowed / "visible.lean")].startswith("theorem visible")  # control: mounts work
    for path in targets[:2] + targets[3:5]:
        assert seen[path] == "FileNotFoundError", (path, seen[path])
    for directory in targets[5:]:
        # a directory exists inside only as the skeleton leading to a mounted path (the interpreter's)
        skeleton = sorted(
            {
                p.relative_to(directory).parts[0]
                for p in (PYTHON_HOME, allowed)
                if p.is_relative_to(directory) and p != Path(directory)
            }
        )
        assert seen[directory] == (skeleton or "FileNotFoundError"), (directory, seen[directory])
    assert b"s3cret" not in result.stdout


async def test_writes_land_only_in_scratch_tmp_and_writable_paths(
    spawner: BwrapSpawner, settings: Settings, tmp_path: Path
) -> None:
    read_only, writable = tmp_path / "toolchain", tmp_path / "out"
    read_only.mkdir()
    writable.mkdir()
    settings.data_dir.mkdir(parents=True)
    at_root = Path(f"/proofgate-pwned-{secrets.token_hex(4)}")
    refused = [read_only / "pwned", at_root, Path("/usr/pwned"), settings.data_dir / "pwned"]
    private = [
        tmp_path / "pwned",
        Path("/scratch/ok"),
        Path("/tmp/ok"),
    ]  # land in the jail's own tmpfs/scratch
    process = await spawner.spawn(
        python(
            f"""
        import json
        out = {{}}
        for path in {[str(t) for t in [*refused, *private, writable / "ok"]]!r}:
            try:
                with open(path, "w") as handle:
                    handle.write("x")
                out[path] = "written"
            except OSError as exc:
                out[path] = type(exc).__name__
        print(json.dumps(out))
    """,
            read_only=(read_only,),
            writable=(writable,),
        ),
        Limits(),
    )
    seen = json.loads(await process.stdout.read())
    await process.wait()
    for path in refused:
        assert seen[str(path)] in {"OSError", "PermissionError", "FileNotFoundError"}, (
            path,
            seen[str(path)],
        )
    for path in private:
        assert seen[str(path)] == "written", path
    for path in [*refused, tmp_path / "pwned", Path("/tmp/ok")]:
        assert not path.exists(), f"{path} reached the host"
    assert (writable / "ok").read_text() == "x"  # the one host path that was meant to be writable


async def test_kernel_settings_cannot_be_written(spawner: BwrapSpawner) -> None:
    # Opened for writing, never written: even a broken jail leaves the host's settings alone.
    targets = [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/panic",
        "/proc/sys/vm/drop_caches",
        "/proc/sysrq-trigger",
        "/proc/self/oom_score_adj",
        "/sys/kernel/uevent_helper",
    ]
    result = await run_jailed(
        spawner,
        python(f"""
        import json, os
        out = {{}}
        for path in {targets!r}:
            try:
                os.close(os.open(path, os.O_WRONLY))
                out[path] = "OPENED"
            except OSError as exc:
                out[path] = exc.strerror
        out["control"] = open("/proc/sys/kernel/ostype").read().strip()
        print(json.dumps(out))
    """),
        Limits(),
        timeout=15,
    )
    seen = json.loads(result.stdout)
    assert seen.pop("control") == "Linux"  # /proc/sys is there and readable
    assert "OPENED" not in seen.values(), seen


async def test_service_environment_is_not_visible(
    spawner: BwrapSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = secrets.token_hex(8)
    monkeypatch.setenv("PROOFGATE_SECRET", token)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", token)
    result = await run_jailed(
        spawner,
        python(
            """
        import glob, json, os
        environs = []
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                environs.append(open(path, "rb").read().decode(errors="replace"))
            except OSError:
                pass
        print(json.dumps({"env": dict(os.environ), "proc": environs}))
    """,
            env={"LEAN_PATH": "/toolchain/lib"},
        ),
        Limits(),
        timeout=15,
    )
    seen = json.loads(result.stdout)
    assert token.encode() not in result.stdout
    assert "PROOFGATE_SECRET" not in seen["env"] and "PROOFGATE_DATA_DIR" not in seen["env"]
    assert (
        seen["env"]["LEAN_PATH"] == "/toolchain/lib"
    )  # control: the spec's own variables do arrive
    assert seen["env"]["HOME"] == "/tmp" and seen["env"]["TMPDIR"] == "/tmp"
    assert seen["proc"], "no /proc/*/environ was readable: the check proved nothing"


async def test_no_capabilities_and_no_host_processes_inside(spawner: BwrapSpawner) -> None:
    result = await run_jailed(
        spawner,
        python("""
        import json, os
        caps = dict(line.split(":") for line in open("/proc/self/status") if line.startswith("Cap"))
        pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
        print(json.dumps({"caps": {key: int(value, 16) for key, value in caps.items()}, "pids": pids}))
    """),
        Limits(),
        timeout=15,
    )
    seen = json.loads(result.stdout)
    assert seen["caps"] == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": 0, "CapAmb": 0}
    assert seen["pids"] and max(seen["pids"]) < 10  # a fresh PID namespace: bwrap's init and us


# --- limits ---------------------------------------------------------------------------------------

FORK_FLOOD = """
    import os, sys, time
    forked = 0
    try:
        for _ in range(3000):
            if os.fork() == 0:
                time.sleep(120)
                os._exit(0)
            forked += 1
        print("ALL", forked, flush=True)
    except OSError as exc:
        print("REFUSED", forked, flush=True)
    time.sleep(120)
"""


async def test_fork_flood_is_contained_and_cleaned_up(any_spawner: BwrapSpawner) -> None:
    marker = f"flood-{secrets.token_hex(4)}"
    cap = 16
    process = await any_spawner.spawn(
        python(f"# {marker}\n" + textwrap.dedent(FORK_FLOOD)), Limits(max_processes=cap)
    )
    seen: dict[int, psutil.Process] = {}
    line = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.returncode is None:
        seen.update(sample_tree(process.pid).members)
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 0.02)
            break
        except asyncio.TimeoutError:
            continue
    seen.update(sample_tree(process.pid).members)
    process.kill()
    await process.wait()
    assert not line.startswith(b"ALL"), "the flood forked 3000 times unchecked"
    if any_spawner.cgroups is not None:  # the pids cgroup refuses the fork itself
        assert line.startswith(b"REFUSED"), line
        assert int(line.split()[1]) <= cap
        assert len(seen) <= cap + 3  # the flood's processes, the program, bwrap and its init
        assert len(seen) > 3, "never saw the flood: the test proved nothing"
    else:  # the watchdog saw the tree go over and killed the namespace (maybe before we looked)
        assert process.limit_exceeded == "processes"
    assert living(seen.values()) == []
    assert with_marker(marker) == []


HOG = """
    import time
    chunks = []
    for step in range(1, 257):  # up to 2 GiB, 8 MiB at a time, every page touched
        chunks.append(bytearray(b"x" * (8 << 20)))
        print(step * 8, flush=True)
        time.sleep(0.005)
    print("SURVIVED", flush=True)
"""


async def test_a_killed_jail_is_waited_out_to_its_last_process(
    any_spawner: BwrapSpawner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under cgroup v1 the namespace's init leaves the cgroup before it is done dying, so the
    # release outwaits what the jail's own look at the tree saw; that look must come before any
    # signal, since once bwrap is dead its children are no longer in its tree. A busy machine is
    # played by a group kill that returns only when bwrap is dead.
    real_killpg = os.killpg

    def bwrap_dead(group: int) -> bool:  # a zombie, or already reaped by the spawn server
        try:
            return psutil.Process(group).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    def killpg_and_let_bwrap_die(group: int, sig: int) -> None:
        real_killpg(group, sig)
        until(lambda: bwrap_dead(group))

    monkeypatch.setattr(jail.os, "killpg", killpg_and_let_bwrap_die)
    process = await any_spawner.spawn(
        python("import os, time\nos.fork()\nprint('UP', flush=True)\ntime.sleep(120)"), Limits()
    )
    assert (await asyncio.wait_for(process.stdout.readline(), DEADLINE_SECONDS)).startswith(b"UP")
    assert await until_async(lambda: len(sample_tree(process.pid).members) >= 4)
    before = list(sample_tree(process.pid).members.values())
    process.kill()
    # what the release will outwait: the whole tree as it was (the init dies after bwrap, by its
    # parent-death signal, and need not be dead yet)
    assert {p.pid for p in process._tree.seen} >= {p.pid for p in before}
    await asyncio.wait_for(process.wait(), DEADLINE_SECONDS)
    assert living(before) == [], [(p.pid, p.name()) for p in living(before)]


async def test_memory_hog_is_killed_and_reported(any_spawner: BwrapSpawner) -> None:
    cap_mib = 128
    result = await run_jailed(
        any_spawner, python(HOG), Limits(memory_bytes=cap_mib * MiB), timeout=60
    )
    assert result.out_of_memory
    assert not result.timed_out
    assert b"SURVIVED" not in result.stdout
    allocated = [int(line) for line in result.stdout.split()]
    assert allocated and allocated[-1] < 1024, "killed far too late"


async def test_private_memory_counts_anonymous_memory_not_mapped_files(
    any_spawner: BwrapSpawner, tmp_path: Path
) -> None:
    data = tmp_path / "oleans"
    data.mkdir()
    (data / "Mathlib.olean").write_bytes(b"o" * (96 * MiB))
    process = await any_spawner.spawn(
        python(
            """
        import mmap, sys
        with open("{path}", "rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, prot=mmap.PROT_READ)
        total = sum(mapped[offset] for offset in range(0, len(mapped), 4096))  # touch every page
        print("mapped", flush=True)
        sys.stdin.readline()
        private = bytearray(b"p" * (64 << 20))
        print("allocated", flush=True)
        sys.stdin.readline()
    """.replace("{path}", str(data / "Mathlib.olean")),
            read_only=(data,),
        ),
        Limits(memory_bytes=1 << 30),
    )
    try:
        assert await asyncio.wait_for(process.stdout.readline(), 15) == b"mapped\n"
        after_map = process.private_memory_bytes()
        process.stdin.write(b"go\n")
        assert await asyncio.wait_for(process.stdout.readline(), 15) == b"allocated\n"
        after_alloc = process.private_memory_bytes()
    finally:
        process.kill()
        await process.wait()
    assert after_map is not None and after_alloc is not None
    assert after_map < 64 * MiB, "the 96 MiB mapped file was counted as private memory"
    assert after_alloc - after_map >= 60 * MiB, "64 MiB of anonymous memory went unseen"


SLEEPERS = """
    sleep {t}1 &
    setsid sleep {t}2 &
    ( sleep {t}3 & ) &
    nohup sleep {t}4 >/dev/null 2>&1 &
    exec sleep {t}5
"""


@pytest.mark.parametrize("how", ["run_jailed timeout", "kill"])
async def test_sleeper_and_children_die_past_timeout(any_spawner: BwrapSpawner, how: str) -> None:
    stamp = f"300.{secrets.randbelow(10**8):08d}"  # sleep accepts a fraction: a unique marker
    spec = SpawnSpec(argv=["/bin/sh", "-c", SLEEPERS.format(t=stamp)], cwd=Path("/scratch"))
    seen: list[psutil.Process] = []

    async def watch() -> None:
        while len(seen) < 5:
            seen[:] = sleepers(stamp)
            await asyncio.sleep(0.02)

    watcher = asyncio.ensure_future(watch())
    # The sleepers sleep for 300 s: a run or a wait that waited for them would hit the deadline.
    try:
        if how == "kill":
            process = await any_spawner.spawn(spec, Limits())
            await asyncio.wait_for(asyncio.shield(watcher), DEADLINE_SECONDS)
            process.kill()
            assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) != 0
        else:
            result = await asyncio.wait_for(
                run_jailed(any_spawner, spec, Limits(), timeout=1.0), DEADLINE_SECONDS
            )
            assert result.timed_out
            assert watcher.done(), "the sleepers never all started"
    finally:
        watcher.cancel()
    assert len(seen) == 5
    assert living(seen) == [], [p.pid for p in living(seen)]
    assert with_marker(stamp) == []


def test_jail_dies_with_the_service_and_its_cgroup_is_swept(
    settings: Settings, tmp_path: Path
) -> None:
    stamp = f"300.{secrets.randbelow(10**8):08d}"
    service = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import asyncio, os
            from pathlib import Path
            from proofgate.config import Settings
            from proofgate.sandbox.process import Limits, ManagedProcess, SpawnSpec
            from proofgate.sandbox import BwrapSpawner

            async def main():
                jail = await BwrapSpawner(Settings(data_dir=Path({str(settings.data_dir)!r}))).spawn(
                    SpawnSpec(argv=["sleep", "{stamp}"], cwd=Path("/scratch")), Limits())
                print("JAIL", jail.cgroup.name if jail.cgroup else "-", flush=True)
                await asyncio.sleep(120)

            asyncio.run(main())
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout
        line = next(
            line for line in service.stdout if line.startswith("JAIL ")
        )  # past any log lines
        _, cgroup_name = line.split()
        jailed: list[psutil.Process] = []
        for _ in range(500):
            if jailed := sleepers(stamp):
                break
            time.sleep(0.01)
        assert len(jailed) == 1
        service.send_signal(signal.SIGKILL)
        service.wait(5)
        _, alive = psutil.wait_procs(jailed, timeout=5)
        assert alive == [], "the jail outlived the service that started it"
    finally:
        service.kill()
        service.wait(5)
    # The dead service could not clean up after itself; the next spawner sweeps what it left.
    jail = BwrapSpawner(settings)
    if cgroup_name != "-":
        assert jail.cgroups is not None
        assert all(not (parent / cgroup_name).exists() for parent in jail.cgroups._parents())


async def test_fake_v2_cgroup_oom_record_kills_the_jail(settings: Settings, tmp_path: Path) -> None:
    root = make_fake_v2_root(tmp_path / "cgroup")
    jail = BwrapSpawner(settings, cgroup_root=root)
    assert jail.limits_mode == f"cgroup v2 (memory and pids under {root})"
    assert (root / "cgroup.subtree_control").read_text() == "+memory +pids"
    jail.cgroups = FakeV2Tree(root)  # the kernel's part: control files in each new cgroup
    stamp = f"300.{secrets.randbelow(10**8):08d}"
    process = await jail.spawn(
        SpawnSpec(argv=["sleep", stamp], cwd=Path("/scratch")),
        Limits(memory_bytes=64 * MiB, max_processes=8),
    )
    assert process.cgroup is not None
    group = root / process.cgroup.name
    assert (group / "memory.max").read_text() == str(64 * MiB)
    assert (group / "pids.max").read_text() == "10"  # 8 for the program, 2 for bwrap itself
    assert (group / "memory.swap.max").read_text() == "0" and (
        group / "memory.oom.group"
    ).read_text() == "1"
    assert (group / "cgroup.procs").read_text() == "0"  # the child joined before it exec'd bwrap
    (group / "memory.events").write_text(
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"
    )  # as the kernel would
    # The watcher's next look finds the record and kills the jail; its `sleep` would otherwise
    # outlive the test, so the exit itself is the event to wait for.
    assert await until_async(lambda: process.limit_exceeded is not None)
    await asyncio.wait_for(process.wait(), DEADLINE_SECONDS)
    assert process.out_of_memory() and process.limit_exceeded == "memory"
    assert with_marker(stamp) == []
    assert not group.exists()  # removed once the jail was gone


async def test_fake_v2_oom_record_of_an_independent_tree_leaves_the_jail_running(
    settings: Settings, tmp_path: Path
) -> None:
    """`Limits.oom_group` False (a zygote and its children): the kernel killed one process,
    the rest go on; the record is there to read, and the jail is not out of memory itself."""
    root = make_fake_v2_root(tmp_path / "cgroup")
    jail = BwrapSpawner(settings, cgroup_root=root)
    jail.cgroups = FakeV2Tree(root)
    stamp = f"300.{secrets.randbelow(10**8):08d}"
    process = await jail.spawn(
        SpawnSpec(argv=["sleep", stamp], cwd=Path("/scratch")),
        Limits(memory_bytes=64 * MiB, max_processes=8, oom_group=False),
    )
    try:
        assert process.cgroup is not None
        group = root / process.cgroup.name
        assert (group / "memory.oom.group").read_text() == "0"
        assert process.oom_kills() == 0
        (group / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
        assert process.oom_kills() == 1
        process._scheduled_check()  # the watcher's look (every CGROUP_POLL_SECONDS), now
        await asyncio.sleep(0)
        assert process.limit_exceeded is None and not process.out_of_memory()
        assert process.returncode is None and with_marker(stamp) != []
    finally:
        process.kill()
        await asyncio.wait_for(process.wait(), DEADLINE_SECONDS)
    assert not process.out_of_memory() and process.oom_kills() == 1  # read before removal
    assert not group.exists()


async def test_fake_v2_jail_of_capped_members_joins_a_leaf_and_nests_a_cgroup_per_member(
    settings: Settings, tmp_path: Path
) -> None:
    """`Limits.member_cgroups` (a zygote's jail): v2 allows no process in a cgroup beside
    children with controllers, so the launcher joins a leaf; `confine` nests a member's cgroup
    with its own caps and moves the process there. A jail that did not ask nests none."""
    root = make_fake_v2_root(tmp_path / "cgroup")
    jail = BwrapSpawner(settings, cgroup_root=root)
    jail.cgroups = FakeV2Tree(root)
    stamp = f"300.{secrets.randbelow(10**8):08d}"
    limits = Limits(memory_bytes=64 * MiB, max_processes=8, oom_group=False, member_cgroups=True)
    process = await jail.spawn(SpawnSpec(argv=["sleep", stamp], cwd=Path("/scratch")), limits)
    plain = await jail.spawn(SpawnSpec(argv=["sleep", stamp], cwd=Path("/scratch")), Limits())
    try:
        assert process.cgroup is not None
        group = root / process.cgroup.name
        assert (group / "cgroup.subtree_control").read_text() == "+memory +pids"
        assert (group / JAIL_LEAF / "cgroup.procs").read_text() == "0"  # the launcher's join
        assert (group / "cgroup.procs").read_text() == ""
        member = process.confine(process.pid, memory_bytes=32 * MiB, max_tasks=5)
        assert isinstance(member, CgroupV2) and member.directory.parent == group
        assert (member.directory / "memory.max").read_text() == str(32 * MiB)
        assert (member.directory / "pids.max").read_text() == "5"
        assert (member.directory / "cgroup.procs").read_text() == str(process.pid)
        # the kernel's part once the jail is killed: a fake file would list its pid for ever,
        # and the jail's release would signal that number until its timeout, reused or not
        (member.directory / "cgroup.procs").write_text("")
        assert plain.confine(plain.pid, memory_bytes=None, max_tasks=5) is None
    finally:
        for started in (process, plain):
            started.kill()
            await asyncio.wait_for(started.wait(), DEADLINE_SECONDS)
    assert not group.exists()  # the member's cgroup removed with the jail's


async def test_a_jail_whose_cgroup_cannot_nest_runs_without_member_cgroups(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel refusing the jail's nesting does not refuse the jail: it runs, each member
    capped by the looks alone, and `confine` says None instead of failing every request."""
    root = make_fake_v2_root(tmp_path / "cgroup")
    jail = BwrapSpawner(settings, cgroup_root=root)
    jail.cgroups = FakeV2Tree(root)

    def refused(self: CgroupV2) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(CgroupV2, "prepare_nesting", refused)
    stamp = f"300.{secrets.randbelow(10**8):08d}"
    limits = Limits(max_processes=8, oom_group=False, member_cgroups=True)
    process = await jail.spawn(SpawnSpec(argv=["sleep", stamp], cwd=Path("/scratch")), limits)
    try:
        assert process.cgroup is not None and process.returncode is None
        assert process.confine(process.pid, memory_bytes=None, max_tasks=5) is None
    finally:
        process.kill()
        await asyncio.wait_for(process.wait(), DEADLINE_SECONDS)


# --- run_jailed, spec checks, selection -----------------------------------------------------------


async def test_run_jailed_feeds_stdin_and_collects_output(spawner: BwrapSpawner) -> None:
    result = await run_jailed(
        spawner,
        SpawnSpec(argv=["sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"], cwd=Path("/scratch")),
        Limits(),
        timeout=10,
        stdin=b"lean\n",
    )
    assert (result.returncode, result.stdout, result.stderr) == (3, b"LEAN\n", b"oops\n")
    assert not result.timed_out and not result.out_of_memory and not result.output_truncated


async def test_run_jailed_says_which_cap_the_watchdog_enforced(
    watchdog_spawner: BwrapSpawner,
) -> None:
    """A tree killed for its task count ends by SIGKILL like an outside kill: the result says it
    was the cap, so the audit reports the submission's failure instead of retrying a fault."""
    marker = f"flood-{secrets.token_hex(4)}"
    result = await run_jailed(
        watchdog_spawner,
        python(f"# {marker}\n" + textwrap.dedent(FORK_FLOOD)),
        Limits(max_processes=8),
        timeout=DEADLINE_SECONDS,
    )
    assert result.limit_exceeded == "processes" and not result.timed_out
    assert result.returncode is not None and result.returncode != 0
    assert killed_by(result) is None
    assert with_marker(marker) == []


async def test_run_jailed_stops_a_flood_of_output(spawner: BwrapSpawner) -> None:
    result = await run_jailed(
        spawner,
        SpawnSpec(argv=["yes"], cwd=Path("/scratch")),
        Limits(),
        timeout=20,
        max_output=1 * MiB,
    )
    assert result.output_truncated and not result.timed_out
    assert len(result.stdout) == 1 * MiB


async def test_cancelled_run_leaves_nothing_behind(spawner: BwrapSpawner) -> None:
    stamp = f"300.{secrets.randbelow(10**8):08d}"
    run = asyncio.ensure_future(
        run_jailed(
            spawner, SpawnSpec(argv=["sleep", stamp], cwd=Path("/scratch")), Limits(), timeout=60
        )
    )
    for _ in range(500):
        if jailed := sleepers(stamp):
            break
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert len(jailed) == 1
    assert living(jailed) == []


def test_a_jail_left_to_its_loops_shutdown_is_seen_out_before_the_loop_closes(
    any_spawner: BwrapSpawner,
) -> None:
    """A caller that gives up on a running jail leaves it to the event loop's shutdown, which
    cancels the jail's watcher. The watcher kills the tree and waits until asyncio saw it exit
    and its pipes end, so asyncio closes the subprocess transport while its loop still runs:
    left open, the transport warns ("unclosed transport", then "Event loop is closed") in
    whichever later test happens to collect it."""
    stamp = f"300.{secrets.randbelow(10**8):08d}"
    loop = asyncio.new_event_loop()
    try:
        jail = loop.run_until_complete(
            any_spawner.spawn(SpawnSpec(argv=["sleep", stamp], cwd=Path("/scratch")), Limits())
        )
        # What asyncio.run and pytest-asyncio do at the end: cancel every task, run them to
        # their end, close the loop (not one pass more).
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    finally:
        loop.close()
    assert jail.returncode is not None  # its exit was seen while the loop ran
    pid = jail.pid
    assert until(lambda: with_marker(stamp) == [] and not psutil.pid_exists(pid))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del jail, tasks
        gc.collect()
    assert [str(w.message) for w in caught if "transport" in str(w.message)] == []


def test_command_mounts_only_what_a_program_needs(
    spawner: BwrapSpawner, settings: Settings, tmp_path: Path
) -> None:
    argv = spawner.command(python("pass"), Limits())
    joined = " ".join(argv)
    for flag in (
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ):
        assert flag in argv
    assert argv[argv.index("--cap-drop") + 1] == "ALL"
    mounted = {
        argv[i + 1] for i, arg in enumerate(argv) if arg in {"--bind", "--ro-bind", "--ro-bind-try"}
    }
    assert not {"/", "/etc", "/root", "/home", str(settings.data_dir), str(Path.home())} & mounted
    assert "--share-net" not in argv and "/etc/shadow" not in joined


@pytest.mark.parametrize(
    "change",
    [
        {"read_only": "data_parent"},
        {"read_only": "/"},
        {"writable": "home"},
        {"cwd": "/usr"},
        {"read_only": "missing"},
    ],
)
def test_specs_that_would_weaken_the_jail_are_refused(
    spawner: BwrapSpawner, settings: Settings, tmp_path: Path, change: dict[str, str]
) -> None:
    paths = {
        "data_parent": settings.data_dir.parent,
        "/": Path("/"),
        "home": Path.home(),
        "missing": tmp_path / "missing",
    }
    key, value = next(iter(change.items()))
    if key == "cwd":
        spec = SpawnSpec(argv=["true"], cwd=Path(value))
    else:
        spec = SpawnSpec(argv=["true"], cwd=Path("/scratch"), **{key: (paths[value],)})  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        spawner.command(spec, Limits())


def test_detect_reports_bwrap_and_how_limits_are_held(settings: Settings) -> None:
    status = detect_sandbox(settings)
    assert status.kind == "bwrap" and status.ok, status.detail
    assert status.limits.startswith(("cgroup v1", "cgroup v2", "RSS watchdog"))
    assert status.limits in status.detail


def _fake_bwrap(tmp_path: Path, script: str, *, options: str = "--disable-userns --size") -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bwrap").write_text(
        f'#!/bin/sh\nif [ "$1" = --help ]; then echo "{options}"; exit 0; fi\n{script}\n'
    )
    (bin_dir / "bwrap").chmod(0o755)


def test_broken_bwrap_is_refused_with_a_fix(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What an unprivileged Docker container says (bubblewrap issue 505).
    _fake_bwrap(
        tmp_path,
        "echo 'bwrap: Can'\"'\"'t mount proc on /newroot/proc: Operation not permitted' >&2; exit 1",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    status = detect_sandbox(settings)
    assert (
        not status.ok
        and "Can't mount proc" in status.detail
        and "seccomp=unconfined" in status.detail
    )
    with pytest.raises(SandboxUnavailable, match="apparmor_restrict_unprivileged_userns=0"):
        select_spawner(settings)


def test_old_bwrap_is_refused_for_a_root_service(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_bwrap(tmp_path, "exit 0", options="--unshare-all --size")  # bubblewrap before 0.8
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    status = detect_sandbox(settings)
    assert (
        not status.ok
        and "--disable-userns" in status.detail
        and "unprivileged user" in status.detail
    )


def test_missing_bwrap_is_refused_with_a_fix(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not detect_sandbox(settings).ok
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        select_spawner(settings)


def test_select_gives_bwrap_when_it_works(settings: Settings) -> None:
    assert isinstance(select_spawner(settings), BwrapSpawner)


def test_opt_out_gives_the_unjailed_spawner_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class StandIn:
        name = "none"

    fake = types.ModuleType("proofgate.sandbox.group")
    fake.ProcessGroupSpawner = StandIn  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "proofgate.sandbox.group", fake)
    monkeypatch.setenv("PATH", str(tmp_path))  # even with no bwrap at all
    import structlog.testing

    # An earlier test in this process may have configured logging at `error` (the CLI's
    # default), whose level filter is part of every bound logger and drops a warning before
    # capture_logs sees it: a logger bound now, at every level, for this test only.
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    monkeypatch.setattr(bwrap_module, "_log", structlog.get_logger("proofgate.sandbox.bwrap"))
    try:
        with structlog.testing.capture_logs() as logs:
            chosen = select_spawner(Settings(sandbox="none", data_dir=tmp_path / "d"))
    finally:
        structlog.configure(**saved)
    assert isinstance(chosen, StandIn)
    assert any(
        entry["event"] == "sandbox_disabled" and entry["log_level"] == "warning" for entry in logs
    )
    assert detect_sandbox(Settings(sandbox="none", data_dir=tmp_path / "d")).detail.startswith(
        "DISABLED"
    )


async def test_jailed_process_is_a_managed_process(spawner: BwrapSpawner) -> None:
    process = await spawner.spawn(SpawnSpec(argv=["true"], cwd=Path("/scratch")), Limits())
    assert isinstance(process, ManagedProcess) and isinstance(process, JailedProcess)
    assert await process.wait() == 0 and process.returncode == 0
    process.kill()  # idempotent after exit
