"""Isolation between requests, on bubblewrap: a hostile stand-in REPL runs the shell script its
submission carries (`-- standin: shell`), as Lean code with code execution could, through the very
pool and jail the service uses (issue 23, items 2, 3 and 4). Every test first checks the attack ran.

These run, never skip, in CI (`CI` set); elsewhere they skip only when bwrap is not installed.
"""

from __future__ import annotations

import dataclasses
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest

from proofgate.config import Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import ReplOutOfMemory
from proofgate.lean.pool import ReplPool, ReplRun
from proofgate.sandbox import BwrapSpawner
from proofgate.sandbox.process import SpawnSpec
from proofgate.sandbox.proctree import living
from tests.standins.repl import standin_launcher
from tests.support.jail import NEEDS_BWRAP, PYTHON, PYTHON_HOME
from tests.support.waiting import DEADLINE_SECONDS, until_async

pytestmark = NEEDS_BWRAP

HEADER = "import Mathlib"


class JailedStandinLauncher:
    """The stand-in REPL as a jailed worker: the launcher's spec, with the interpreter visible."""

    def __init__(self, settings: Settings) -> None:
        self._inner = standin_launcher(settings)

    def spawn_spec(self, environment: Environment) -> SpawnSpec:
        spec = self._inner.spawn_spec(environment)
        return dataclasses.replace(
            spec, argv=[PYTHON, *spec.argv[1:]], read_only=(*spec.read_only, PYTHON_HOME)
        )


@pytest.fixture(params=["default", "watchdog"])
def cgroup_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path | None:
    """A cgroup when one is writable here (else the watchdog), and the watchdog alone."""
    return None if request.param == "default" else tmp_path / "no-cgroups-here"


@asynccontextmanager
async def jailed_pool(
    tmp_path: Path, cgroup_root: Path | None, **overrides: Any
) -> AsyncIterator[tuple[ReplPool, Settings]]:
    values: dict[str, Any] = {
        "workers": 1,
        "spare_workers": 0,
        "prewarm_headers": [],
        "request_timeout": 30.0,
        "queue_wait": DEADLINE_SECONDS,
        "import_timeout": DEADLINE_SECONDS,
        "memory_limit_mb": 256,
        "recycle_after": 100,
    }
    values.update(overrides)
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan", **values)
    spawner = BwrapSpawner(settings, cgroup_root=cgroup_root)
    pool = ReplPool(settings, spawner=spawner, launcher=JailedStandinLauncher(settings))
    await pool.start()
    try:
        yield pool, settings
    finally:
        await pool.close(drain_timeout=2.0)


def shell(script: str, *, header: str = HEADER) -> str:
    return f"{header}\n-- standin: shell {script}\n"


def output(run: ReplRun) -> str:
    """What the submission's script printed (the stand-in's `shell exit N: ...` info)."""
    [text] = [m.data for m in run.reply.messages if m.data.startswith("shell exit ")]
    return text


def left_on_host(settings: Settings, name: str) -> list[Path]:
    """Files named `name*` in the data directory, or where jails' host scratch directories were."""
    temp = Path(tempfile.gettempdir())
    places = [settings.data_dir, *temp.glob("proofgate-scratch-*")]
    found = [path for root in places if root.is_dir() for path in root.glob(f"**/{name}*")]
    return found + list(temp.glob(f"{name}*"))


def with_marker(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in process.info["cmdline"] or []):
            found.append(process)
    return living(found)


async def test_a_daemon_dies_with_its_request_and_never_reads_a_later_one(
    tmp_path: Path, cgroup_root: Path | None
) -> None:
    stamp = f"3000.{secrets.randbelow(10**9)}"  # a `sleep` argument only this test uses
    secret = f"victim-{secrets.token_hex(8)}"
    # A daemon in a new session that steals the REPL's stdin (its pid is the script's parent).
    daemon = (
        "setsid sh -c 'echo $$ > /tmp/daemon; "
        "while :; do cat /proc/'$PPID'/fd/0 >> /tmp/stolen; sleep 0.01; done & "
        f"exec sleep {stamp}' </dev/null >/dev/null 2>&1 & "
        "while [ ! -s /tmp/daemon ]; do :; done; echo daemon $(cat /tmp/daemon)"
    )
    async with jailed_pool(tmp_path, cgroup_root) as (pool, _):
        first = await pool.run(shell(daemon))
        assert output(first).startswith("shell exit 0: daemon "), output(first)  # it ran
        # The kill happens before the reply comes back; the kernel finishes it a moment later.
        assert await until_async(lambda: not with_marker(stamp)), "the daemon outlived its request"
        victim = await pool.run(f"{HEADER}\ntheorem t : True := trivial -- {secret}\n")
        check = await pool.run(
            shell(
                "if kill -0 $(cat /tmp/daemon) 2>/dev/null; then echo ALIVE; else echo GONE; fi; "
                # the daemon may die before its first read: no file is no leak either
                f"cat /tmp/stolen 2>/dev/null | grep -c {secret} || true"
            )
        )
        assert first.worker_pid == victim.worker_pid == check.worker_pid  # one worker throughout
        assert output(check) == "shell exit 0: GONE\n0\n"


async def test_scratch_is_private_to_a_worker_and_gone_with_it(
    tmp_path: Path, cgroup_root: Path | None
) -> None:
    name, content = f"left-{secrets.token_hex(6)}", f"secret-{secrets.token_hex(6)}"
    write = (
        f'echo {content} > /tmp/{name} && echo {content} > "$TMPDIR/{name}-t" && '
        f'echo {content} > "$HOME/{name}-h" && ls /tmp "$TMPDIR" "$HOME" | grep -c {name}'
    )
    read = f'cat /tmp/{name} "$TMPDIR/{name}-t" "$HOME/{name}-h" 2>&1; ls -a /tmp "$TMPDIR"'
    async with jailed_pool(tmp_path, cgroup_root, workers=2) as (pool, settings):
        writer = await pool.run(shell(write))
        assert output(writer).startswith("shell exit 0: "), output(writer)  # all three written
        reader = await pool.run(shell(read, header="import Mathlib.Tactic"))
        assert writer.worker_pid != reader.worker_pid  # another worker (another header)
        seen = output(reader)
        assert content not in seen and "No such file" in seen  # it did look
        assert name not in seen[seen.index("/tmp:") :]  # nor listed
    assert left_on_host(settings, name) == [], "a worker's file reached the host"


async def test_writing_past_the_scratch_cap_fails_that_request_and_leaves_nothing(
    tmp_path: Path, cgroup_root: Path | None
) -> None:
    name = f"big-{secrets.token_hex(6)}"
    fill = f'echo started; head -c 2000000000 /dev/zero > "$TMPDIR/{name}"; echo "head exit $?"'
    async with jailed_pool(tmp_path, cgroup_root, memory_limit_mb=128) as (pool, settings):
        try:
            run = await pool.run(shell(fill))
        except ReplOutOfMemory:
            pass  # under a cgroup the tmpfs pages count in the worker's memory: killed
        else:  # the tmpfs is full first: the write fails, the request is answered
            text = output(run)
            assert text.startswith("shell exit 0: started\n"), text
            assert "head exit 0" not in text and "No space left" in text, text
        after = await pool.run(shell("echo alive"))
        assert output(after) == "shell exit 0: alive\n"
    assert left_on_host(settings, name) == []


async def test_the_jail_environment_has_nothing_of_the_host(
    tmp_path: Path, cgroup_root: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", "/root")
    monkeypatch.setenv("PROOFGATE_API_KEYS", "hunter2-never-inside")
    async with jailed_pool(tmp_path, cgroup_root) as (pool, settings):
        run = await pool.run(shell("env"))
    text = output(run)
    assert text.startswith("shell exit 0: ") and "PWD=" in text  # it printed the environment
    lines = text.removeprefix("shell exit 0: ").splitlines()
    env = dict(line.split("=", 1) for line in lines if "=" in line)
    assert (env["HOME"], env["TMPDIR"], env["PATH"]) == ("/tmp", "/tmp", "/usr/bin:/bin")
    assert "hunter2" not in text and "PROOFGATE" not in text
    assert str(settings.data_dir) not in text and "/root" not in text
    assert str(Path(sys.executable).parent) not in text  # the service's own PATH


async def test_one_tenants_worker_never_sees_or_answers_another_tenants_submission(
    tmp_path: Path, cgroup_root: Path | None
) -> None:
    token = secrets.token_hex(8)
    secret = f"victim-{token}"
    forged = f"forged-{secrets.token_hex(4)}"
    # The attacker keeps what it can inside its worker (a file in its scratch), takes the worker
    # over (every later reply carries a forged error), then hunts for the victim's text.
    plant = f"echo planted > /tmp/trap; echo ok\n-- standin: taken-over {forged}"
    hunt = (  # the secret is joined in a file, so no command line the hunt sees carries it
        f"cat /tmp/trap; printf %s%s victim- {token} > /tmp/pattern; "
        "grep -rls --exclude=pattern -f /tmp/pattern /tmp /proc/[0-9]*/cmdline "
        "/proc/[0-9]*/environ 2>/dev/null | wc -l"
    )
    async with jailed_pool(tmp_path, cgroup_root, workers=2, max_workers_per_tenant=1) as (
        pool,
        _,
    ):
        planted = await pool.run(shell(plant), tenant="attacker")
        assert output(planted) == "shell exit 0: ok\n"  # it ran
        victim = await pool.run(
            f"{HEADER}\ntheorem t : True := trivial -- {secret}\n", tenant="victim"
        )
        looked = await pool.run(shell(hunt), tenant="attacker")
    assert planted.worker_pid == looked.worker_pid != victim.worker_pid
    assert any(forged in m.data for m in looked.reply.messages)  # the take-over held...
    assert not any(forged in m.data for m in victim.reply.messages)  # ...in its own worker only
    assert output(looked) == "shell exit 0: planted\n0\n"  # it looked, and found nothing
