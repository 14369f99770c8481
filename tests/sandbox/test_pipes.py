"""Reading a child's pipes (`proofgate.sandbox.pipes`): frames, the stderr tail, reaping."""

from __future__ import annotations

import asyncio
import gc

import pytest

from proofgate.sandbox.pipes import READ_CHUNK, ChildReaders, Frames, FrameTooLarge, StderrTail


def test_a_frame_comes_whole_once_its_separator_arrives() -> None:
    frames = Frames(b"\n", 100)
    assert frames.feed(b'{"check": ') is None
    assert frames.feed(b"1}\n") == (b'{"check": 1}', b"")
    assert frames.feed(b"next\n") == (b"next", b"")  # nothing of the first frame is kept


def test_a_separator_split_across_two_chunks_is_found() -> None:
    frames = Frames(b"\n\n", 100)
    assert frames.feed(b'{"env": 0}\n') is None
    assert frames.feed(b"\nafter") == (b'{"env": 0}', b"after")


def test_what_follows_a_frame_in_its_chunk_is_handed_back() -> None:
    assert Frames(b"\n", 100).feed(b"one\ntwo\n") == (b"one", b"two\n")


def test_the_cap_counts_the_frame_only_not_what_follows_it() -> None:
    """The chosen rule for both readers: a reply of exactly the cap, then more in the same
    chunk, is a reply and something after it (the REPL used to count the whole chunk)."""
    frames = Frames(b"\n\n", 8)
    assert frames.feed(b"12345678\n\n" + b"x" * 50) == (b"12345678", b"x" * 50)


def test_a_frame_past_its_cap_is_refused_and_dropped() -> None:
    frames = Frames(b"\n", 8)
    assert frames.feed(b"12345") is None
    with pytest.raises(FrameTooLarge) as raised:
        frames.feed(b"6789")
    assert raised.value.discarded == 9 and raised.value.limit == 8
    assert frames.feed(b"ok\n") == (b"ok", b"")  # nothing of the refused frame is left


def test_a_frame_ending_past_its_cap_is_refused() -> None:
    with pytest.raises(FrameTooLarge):
        Frames(b"\n", 8).feed(b"123456789\n")


async def test_stderr_keeps_its_last_bytes_and_counts_them_all() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"a" * READ_CHUNK + b"b" * 10 + "…é".encode())
    stream.feed_eof()
    tail = StderrTail(16)
    await asyncio.wait_for(tail.drain(stream), 10)
    assert tail.total == READ_CHUNK + 10 + len("…é".encode())
    assert tail.text() == "a" + "b" * 10 + "…é"  # the last 16 bytes: 1 + 10 + 3 + 2


class _Exited:
    """A child that has exited, as `ChildReaders` sees one: its stderr ended, its exit waitable."""

    def __init__(self, stderr: bytes) -> None:
        self.stderr = asyncio.StreamReader()
        self.stderr.feed_data(stderr)
        self.stderr.feed_eof()
        self.waited = asyncio.Event()

    async def wait(self) -> int:
        self.waited.set()
        return -9


async def test_reaping_cancels_a_stuck_reader_and_takes_every_outcome() -> None:
    never = asyncio.Event()

    async def stuck() -> None:
        await never.wait()

    async def failed() -> None:
        raise RuntimeError("a watcher's own error")

    process = _Exited(b"last words")
    readers = ChildReaders(
        process,  # type: ignore[arg-type]
        name="child-1",
        stderr_limit=64,
        read_stdout=stuck,
        watch_exit=failed,
    )
    assert readers.stdout_task.get_name() == "child-1-stdout"
    await asyncio.wait({readers.exit_task, readers.stderr_task}, timeout=10)
    await asyncio.wait_for(readers.reap(readers_timeout=0, exit_timeout=10), 10)
    assert readers.stdout_task.cancelled() and process.waited.is_set()
    assert readers.stderr.text() == "last words"
    # the watcher's error was taken: dropping the tasks logs no "exception was never retrieved"
    unretrieved: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unretrieved.append(context))
    del readers
    gc.collect()
    assert unretrieved == []
