"""The data directory's lock: one holder at a time, named by pid; gone with its process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proofgate.exceptions import StoreError
from proofgate.store.lock import LOCK_FILE, DataDirLock, claim_data_dir

_HOLD = (
    "import sys, time; from pathlib import Path; from proofgate.store.lock import DataDirLock\n"
    "DataDirLock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(60)\n"
)


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    with DataDirLock(tmp_path) as first:
        assert first.held
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
        second = DataDirLock(tmp_path)  # another open file: flock refuses it as another process
        with pytest.raises(StoreError, match=rf"in use by another proofgate \(pid {os.getpid()},"):
            second.acquire()
        assert not second.held
    assert (tmp_path / LOCK_FILE).read_text() == ""  # released: no pid left behind
    with DataDirLock(tmp_path) as again:
        assert again.held


def test_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match=rf"\(pid {holder.pid},"):
            DataDirLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    assert (tmp_path / LOCK_FILE).read_text().strip() == str(holder.pid)  # stale pid, no lock
    with DataDirLock(tmp_path) as taken:
        assert taken.held


def test_claimed_directories_are_distinct_and_reused(tmp_path: Path) -> None:
    first = claim_data_dir(tmp_path)
    second = claim_data_dir(tmp_path)
    assert (first.data_dir, second.data_dir) == (tmp_path / "0", tmp_path / "1")
    first.release()
    third = claim_data_dir(tmp_path)
    assert third.data_dir == tmp_path / "0"
    second.release()
    third.release()


def test_an_unwritable_directory_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="check PROOFGATE_DATA_DIR"):
        DataDirLock(blocker / "data").acquire()
