"""The spawn server starts, reaps and (when the service goes) kills the service's children; the
service's side hands each answer to the loop that asked and survives the server's death."""

from __future__ import annotations

import array
import asyncio
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psutil
import pytest

from proofgate.sandbox.spawn_client import KILLED_WITH_SERVER, SpawnServerClient, spawn_server
from proofgate.sandbox.spawned import SpawnedProcess
from tests.support.waiting import DEADLINE_SECONDS, until, until_async

ENV = {"PATH": os.environ["PATH"]}
#: The environment variable a test's children carry, so the test can find them.
TAG_VARIABLE = "PROOFGATE_TEST_TAG"


@pytest.fixture
def client() -> SpawnServerClient:
    """A spawn server of the test's own (not the process's shared one), closed after it."""
    own = SpawnServerClient()
    yield own
    own.close()


def _tagged(tag: str) -> list[int]:
    """Live processes started with `tag` in their environment (it survives their exec)."""
    found = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and (
                process.environ().get(TAG_VARIABLE) == tag
            ):
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


async def _sleeper(client: SpawnServerClient, tag: str) -> SpawnedProcess:
    """A child that waits for ever, findable by `tag`."""
    env = {**ENV, TAG_VARIABLE: tag}
    process = await client.spawn(["sh", "-c", "exec sleep 600"], cwd="/", env=env)
    return process


async def test_a_child_runs_under_the_server_and_its_exit_status_comes_back(
    client: SpawnServerClient, tmp_path: Path
) -> None:
    process = await client.spawn(
        ["sh", "-c", 'read line; echo "got $line in $PWD"; echo oops >&2; exit 3'],
        cwd=str(tmp_path),
        env=ENV,
    )
    assert psutil.Process(process.pid).ppid() == client.pid  # the server is the parent
    assert os.getpgid(process.pid) == process.pid  # a session and group of its own
    process.stdin.write(b"hello\n")
    await process.stdin.drain()
    out = await asyncio.wait_for(process.stdout.read(), DEADLINE_SECONDS)
    err = await asyncio.wait_for(process.stderr.read(), DEADLINE_SECONDS)
    assert out == f"got hello in {tmp_path}\n".encode()
    assert err == b"oops\n"
    assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == 3
    assert process.returncode == 3


async def test_a_killed_child_reports_the_signal_and_a_later_kill_is_refused(
    client: SpawnServerClient,
) -> None:
    process = await _sleeper(client, f"pg-test-{uuid.uuid4()}")
    assert process.returncode is None
    process.kill()
    assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == -signal.SIGKILL
    with pytest.raises(ProcessLookupError):
        process.kill()  # its pidfd is closed: no signal can reach a process that reused the pid


async def test_a_program_that_cannot_be_run_is_the_exec_error(client: SpawnServerClient) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        await client.spawn(["/nonexistent/program"], cwd="/", env=ENV)
    assert caught.value.errno == errno.ENOENT
    with pytest.raises(OSError, match="nonexistent-directory"):
        await client.spawn(["true"], cwd="/nonexistent-directory", env=ENV)
    # the server serves on after a refusal
    process = await client.spawn(["true"], cwd="/", env=ENV)
    assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == 0


async def test_many_starts_leave_no_descriptor_open_in_the_service(
    client: SpawnServerClient,
) -> None:
    async def one() -> None:
        process = await client.spawn(["sh", "-c", "cat; echo done"], cwd="/", env=ENV)
        process.stdin.close()
        assert await asyncio.wait_for(process.stdout.read(), DEADLINE_SECONDS) == b"done\n"
        await asyncio.wait_for(process.stderr.read(), DEADLINE_SECONDS)
        assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == 0

    await one()  # the first start opens what stays (the loop's own descriptors)
    before = len(os.listdir("/proc/self/fd"))
    await asyncio.gather(*(one() for _ in range(20)))
    assert await until_async(lambda: len(os.listdir("/proc/self/fd")) <= before)


async def test_a_start_cancelled_in_flight_leaves_no_process(client: SpawnServerClient) -> None:
    tag = f"pg-test-{uuid.uuid4()}"
    started = asyncio.ensure_future(_sleeper(client, tag))
    await asyncio.sleep(0)  # the request is sent; the answer is not in yet
    started.cancel()
    with pytest.raises(asyncio.CancelledError):
        await started
    # The server answers in order: once a later start is answered, the cancelled one was started.
    later = await client.spawn(["true"], cwd="/", env=ENV)
    assert await asyncio.wait_for(later.wait(), DEADLINE_SECONDS) == 0
    # whether the answer came before or after the cancel, the child does not stay
    assert await until_async(lambda: not _tagged(tag))


def test_two_event_loops_each_get_their_own_children(client: SpawnServerClient) -> None:
    results: dict[str, bytes] = {}

    def run(name: str) -> None:
        async def main() -> None:
            process = await client.spawn(["echo", name], cwd="/", env=ENV)
            results[name] = await asyncio.wait_for(process.stdout.read(), DEADLINE_SECONDS)
            await asyncio.wait_for(process.wait(), DEADLINE_SECONDS)

        asyncio.run(main())

    threads = [threading.Thread(target=run, args=(f"loop-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    assert results == {f"loop-{i}": f"loop-{i}\n".encode() for i in range(4)}


async def test_when_the_server_dies_its_children_die_and_the_next_start_gets_a_new_one() -> None:
    shared = spawn_server()
    tag = f"pg-test-{uuid.uuid4()}"
    process = await _sleeper(shared, tag)
    os.kill(shared.pid, signal.SIGKILL)
    assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == KILLED_WITH_SERVER
    assert not _tagged(tag)
    assert shared.closed
    with pytest.raises(ChildProcessError, match="spawn server"):
        await shared.spawn(["true"], cwd="/", env=ENV)
    replacement = spawn_server()
    assert replacement is not shared and replacement.pid != shared.pid
    again = await replacement.spawn(["true"], cwd="/", env=ENV)
    assert await asyncio.wait_for(again.wait(), DEADLINE_SECONDS) == 0


def test_when_the_service_dies_the_server_kills_every_child_and_exits(tmp_path: Path) -> None:
    """The service is killed outright (no cleanup runs): its end of the socket closes, and the
    spawn server kills what it started, each child's whole process group, then exits."""
    tag = f"pg-test-{uuid.uuid4()}"
    service = tmp_path / "service.py"
    service.write_text(
        "import asyncio, os, sys\n"
        "from proofgate.sandbox.spawn_client import spawn_server\n"
        "async def main():\n"
        "    server = spawn_server()\n"
        "    env = {**os.environ, 'PROOFGATE_TEST_TAG': sys.argv[1]}\n"
        "    child = await server.spawn(\n"
        "        ['sh', '-c', 'sleep 600 & exec sleep 600'], cwd='/', env=env\n"
        "    )\n"
        "    print('PIDS', server.pid, child.pid, flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "asyncio.run(main())\n"
    )
    running = subprocess.Popen([sys.executable, str(service), tag], stdout=subprocess.PIPE)
    try:
        assert running.stdout is not None
        line = b""
        while not line.startswith(b"PIDS"):  # past its log lines
            line = running.stdout.readline()
            assert line, "the service ended before it started its child"
        server_pid, child_pid = map(int, line.split()[1:])
        assert until(lambda: len(_tagged(tag)) == 2 and _group_size(child_pid) == 2)
        running.kill()
        running.wait(DEADLINE_SECONDS)
        assert until(lambda: not _tagged(tag) and _group_size(child_pid) == 0)
        assert until(lambda: not psutil.pid_exists(server_pid) or _zombie(server_pid))
    finally:
        running.kill()
        running.wait(DEADLINE_SECONDS)


def _group_size(group: int) -> int:
    size = 0
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == group and process.info["status"] != psutil.STATUS_ZOMBIE:
                size += 1
        except (OSError, psutil.Error):
            continue
    return size


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize(
    "message", [b"not json", b'{"op": "spawn", "id": 1}', b'{"op": "exit"}'], ids=str
)
async def test_a_message_that_is_no_spawn_request_ends_the_server_and_its_children(
    client: SpawnServerClient, message: bytes
) -> None:
    tag = f"pg-test-{uuid.uuid4()}"
    process = await _sleeper(client, tag)
    client._socket.send(message)  # no descriptors attached: never a request the server runs
    assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) in (
        -signal.SIGKILL,
        KILLED_WITH_SERVER,
    )
    assert await until_async(lambda: client.closed)
    assert not _tagged(tag)


async def test_a_spawn_server_that_stops_reading_never_blocks_the_loop(
    client: SpawnServerClient,
) -> None:
    """With the server stopped, a burst of starts fills the socket's buffer; the loop keeps
    turning (a ticker counts on) while the starts wait, and all of them run once it resumes."""
    stopped = threading.Event()
    stopped.set()
    os.kill(client.pid, signal.SIGSTOP)
    # a safety net, so a loop that does block cannot hang the test: resume after the deadline
    safety = threading.Timer(
        DEADLINE_SECONDS, lambda: (stopped.clear(), os.kill(client.pid, signal.SIGCONT))
    )
    safety.start()
    padding = {**ENV, "PADDING": "x" * 16384}  # each request 16 KiB: the buffer fills in tens
    starts = [
        asyncio.ensure_future(client.spawn(["true"], cwd="/", env=padding)) for _ in range(200)
    ]
    ticks_while_stopped = 0
    try:
        while ticks_while_stopped < 20:
            await asyncio.sleep(0.01)
            if stopped.is_set():
                ticks_while_stopped += 1
            else:
                break
        assert ticks_while_stopped == 20, "the loop stalled while the spawn server was stopped"
        assert not any(start.done() for start in starts)
    finally:
        safety.cancel()
        stopped.clear()
        os.kill(client.pid, signal.SIGCONT)
    processes = await asyncio.wait_for(asyncio.gather(*starts), DEADLINE_SECONDS)
    codes = await asyncio.wait_for(
        asyncio.gather(*(process.wait() for process in processes)), DEADLINE_SECONDS
    )
    assert codes == [0] * 200


_OPEN_FDS = (
    "import os\n"
    "def is_open(fd):\n"
    "    try:\n"
    "        os.fstat(fd)\n"
    "    except OSError:\n"
    "        return False\n"
    "    return True\n"
    "print([fd for fd in range(3, 64) if is_open(fd)])\n"
)


async def test_passed_descriptors_arrive_as_3_and_up_and_the_next_child_gets_none(
    client: SpawnServerClient,
) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    four_read, four_write = os.pipe()
    child_code = (
        "import array, os, socket\n"
        "os.write(4, b'four')\n"
        "channel = socket.socket(fileno=3)\n"
        "_, ancillary, _, _ = channel.recvmsg(16, socket.CMSG_SPACE(4))\n"
        "given = array.array('i', ancillary[0][2][:4])[0]\n"
        "os.write(given, b'through the socket')\n"
    )
    with ours, theirs:
        process = await client.spawn(
            [sys.executable, "-c", child_code],
            cwd="/",
            env=ENV,
            pass_fds=(theirs.fileno(), four_write),
        )
        os.close(four_write)
        handed_read, handed_write = os.pipe()
        ours.sendmsg(
            [b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [handed_write]))]
        )
        os.close(handed_write)
        assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == 0
    with os.fdopen(four_read, "rb") as four, os.fdopen(handed_read, "rb") as handed:
        assert four.read() == b"four"
        assert handed.read() == b"through the socket"
    # the numbers the server keeps for passed descriptors hold nothing a later child inherits
    later = await client.spawn([sys.executable, "-c", _OPEN_FDS], cwd="/", env=ENV)
    assert await asyncio.wait_for(later.stdout.read(), DEADLINE_SECONDS) == b"[]\n"


async def test_more_descriptors_than_a_child_takes_are_refused(client: SpawnServerClient) -> None:
    with pytest.raises(ValueError, match="at most 8 descriptors"):
        await client.spawn(["true"], cwd="/", env=ENV, pass_fds=tuple([0] * 9))


async def test_a_request_the_server_refuses_is_an_error_without_an_errno(
    client: SpawnServerClient,
) -> None:
    with pytest.raises(OSError, match="argv must be a non-empty list of strings") as caught:
        await client.spawn([], cwd="/", env=ENV)
    assert caught.value.errno is None  # not an exec's error
    process = await client.spawn(["true"], cwd="/", env=ENV)  # and it serves on
    assert await asyncio.wait_for(process.wait(), DEADLINE_SECONDS) == 0
