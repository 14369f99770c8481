"""The reward log: what a trainer adapter rewarded, one NDJSON line per completion, for watching
reward hacking over training (`proofgate report LOG` prints and plots the cheat rate per step).

Each line is a JSON object: the `RewardRecord`'s fields (`index`, `reward`, `retry`, `status`,
`proved`, `cheat`, ...) and

- `time`: when the line was written (ISO 8601, UTC);
- `step`: the trainer's step. TRL passes one (`trainer_state.global_step`); verl, OpenRLHF and
  verifiers give a reward function none, so there it is the log's `step` attribute, which a
  trainer callback may set (`log.step = n`), else null;
- `call`: how many times the log was written before (one adapter call, or one coalesced group):
  the report's step where `step` is null;
- `adapter` (`trl`, `verl`, `openrlhf`, `verifiers`; a server with PROOFGATE_REWARD_LOG writes
  `server:` and its route, e.g. `server:/v1/rewards`), `environment`;
- `statement`: the locked statement's theorem name (null if none is found) and
  `statement_sha256`, the hash of its text (two statements may share a name).

Writing appends only. A call's lines are formatted in memory and written with one `write` on a
descriptor opened with `O_APPEND`, under a lock: concurrent async calls and threads never
interleave lines (nor do other processes appending to the same file on a local disk), the calls
are numbered in the file's order, and a call's lines are in the file (written, not fsynced) when
the adapter returns. A path that cannot be written is a `ConfigError` when the log is made; a
write that fails later is logged and the training goes on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

from proofgate.exceptions import ConfigError
from proofgate.logs import get_logger
from proofgate.models.rewards import RewardRecord
from proofgate.verify.completion import declarations

__all__ = ["LOG_FIELDS", "RewardLog", "RewardLogArg", "open_reward_log", "statement_identity"]

_log = get_logger("proofgate.rewards")

#: The fields a line has besides the record's, in the order they are written.
LOG_FIELDS = ("time", "step", "call", "adapter", "environment", "statement", "statement_sha256")


@functools.lru_cache(maxsize=1024)
def statement_identity(statement: str) -> tuple[str | None, str]:
    """(the statement's theorem name, the SHA-256 of its text): its last theorem's, as a group
    targets by default."""
    digest = hashlib.sha256(statement.encode("utf-8")).hexdigest()
    try:
        theorems = [d.name for d in declarations(statement) if d.is_theorem]
    except Exception:  # a statement the lexer cannot read still has its hash
        theorems = []
    return (theorems[-1] if theorems else None), digest


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


class RewardLog:
    """An append-only NDJSON reward log at `path` (see the module). `step` is written on lines
    whose adapter passes no step of the trainer's; set it as training goes (or leave it None)."""

    def __init__(self, path: str | os.PathLike[str], *, step: int | None = None) -> None:
        self.path = Path(path)
        self.step = step
        self._calls = 0
        self._lock = threading.Lock()
        self._failed = False
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        try:
            self._fd: int | None = os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            why = f"its directory {self.path.parent} does not exist"
        except IsADirectoryError:
            why = "it is a directory: name a file, e.g. rewards.ndjson"
        except PermissionError:
            why = "permission denied"
        except OSError as exc:
            why = exc.strerror or str(exc)
        else:
            self._finalizer = weakref.finalize(self, _close, self._fd)
            return
        raise ConfigError(f"cannot write the reward log {self.path}: {why}")

    @property
    def calls(self) -> int:
        """How many times the log was written."""
        return self._calls

    def write(
        self,
        records: Sequence[RewardRecord],
        statements: str | Sequence[str],
        *,
        adapter: str,
        environment: str,
        step: int | None = None,
    ) -> None:
        """Append a line per record: `statements` is the statement of every record, or one each;
        `step` the trainer's (None: the log's `step`)."""
        if isinstance(statements, str):
            statements = [statements] * len(records)
        if len(statements) != len(records):
            raise ValueError(f"{len(records)} records but {len(statements)} statements")
        if not records:
            return
        when = (
            dt.datetime.now(dt.timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        with self._lock:
            if self._fd is None:
                raise ValueError(f"the reward log {self.path} is closed")
            call = self._calls
            self._calls += 1
            head: dict[str, Any] = {
                "time": when,
                "step": self.step if step is None else step,
                "call": call,
                "adapter": adapter,
                "environment": environment,
            }
            lines = []
            for record, statement in zip(records, statements, strict=True):
                name, digest = statement_identity(statement)
                line = {**head, "statement": name, "statement_sha256": digest}
                line.update(record.model_dump(mode="json"))
                lines.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            self._append(("\n".join(lines) + "\n").encode("utf-8"))

    def _append(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
        except OSError as exc:
            # the log watches training; it does not stop it (said once, not at every step)
            if not self._failed:
                _log.error("reward log write failed", path=str(self.path), error=str(exc))
            self._failed = True

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                self._finalizer()
                self._fd = None

    def __enter__(self) -> RewardLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RewardLog({str(self.path)!r})"


#: What an adapter's `reward_log=` takes: a log, a path to open one at, or None (no log).
RewardLogArg: TypeAlias = RewardLog | str | os.PathLike[str] | None


def open_reward_log(value: RewardLogArg) -> RewardLog | None:
    """An adapter's `reward_log=`: a log as it is, a path opened as one (ConfigError if it cannot
    be written), None for no log."""
    if value is None or isinstance(value, RewardLog):
        return value
    if isinstance(value, (str, os.PathLike)):
        if not str(value):
            raise ConfigError("the reward log's path is empty")
        return RewardLog(value)
    raise TypeError(f"reward_log= takes a path or a RewardLog, not {type(value).__name__}")
