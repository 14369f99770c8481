"""`proofgate.dojo.Dojo`: LeanDojo's `Dojo` interface backed by proofgate sessions, no tracing needed.

    from proofgate.dojo import Dojo
    with Dojo("theorem t (p : Prop) (hp : p) : p := by sorry") as (dojo, state):
        result = dojo.run_tac(state, "exact hp")      # a lean_dojo.ProofFinished

`run_tac(state, tactic)` answers LeanDojo's own `TacticState`, `ProofFinished`, `LeanError` and
`ProofGivenUp` (imported from `lean_dojo`: install the `dojo` extra), so an existing LeanDojo prover
runs unchanged against a proofgate server (`server=URL`) or an in-process service. The entry is a
locked statement (a theorem proved by `sorry`), or a LeanDojo `Theorem` whose repository is on this
machine (its file is read and cut at the theorem's proof; nothing is traced or fetched).

`ProofFinished` is only ever answered after the full check (`finish`: policy, compile, trusted
audit) said `proved`: when Lean's tactic mode sees no goals but the check disagrees, the answer is
a `LeanError` naming the verdict. `timeout` raises `DojoTacticTimeoutError`, a crash or a verdict
of `internal`/`out_of_memory` raises `DojoCrashError` (`"OOM"` for memory), as LeanDojo does.
Command mode (`run_cmd`, a `(repo, path, line)` entry) is not offered, on purpose: a command can
declare anything, and only the full check of a whole file may trust what it declares. `run_cmd`
raises saying so; check a whole file with `proofgate check FILE`, `POST /v1/check` (`code`) or
`proofgate.Client(url).check(code=...)`, and prove theorems here with `run_tac`.

Offline, LeanDojo must not look for its remote trace cache: proofgate traces nothing, so importing
this module sets `DISABLE_REMOTE_CACHE=1` unless it is set (LeanDojo reads it when first imported:
import `proofgate.dojo` first, or export it in the shell).
Untested against real Lean and a real LeanDojo prover run; tested with LeanDojo's types on stand-ins.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from proofgate.backends import Backend, open_backend
from proofgate.config import Settings, get_settings
from proofgate.exceptions import ConfigError, ProofgateError
from proofgate.lean.lexer import tokenize
from proofgate.lean.syntax import THEOREM_WORDS, Scopes, nesting
from proofgate.models import VerdictStatus
from proofgate.models.sessions import OpenSessionRequest, ProofState
from proofgate.service import CheckerService

__all__ = ["Dojo", "DojoTypes", "statement_from_theorem"]

# proofgate traces nothing: LeanDojo's remote trace cache (a download) is never wanted here.
os.environ.setdefault("DISABLE_REMOTE_CACHE", "1")

T = TypeVar("T")


@dataclass(frozen=True)
class DojoTypes:
    """The result and error types the adapter builds: LeanDojo's own by default."""

    TacticState: Any
    ProofFinished: Any
    LeanError: Any
    ProofGivenUp: Any
    DojoCrashError: type[Exception]
    DojoTacticTimeoutError: type[Exception]
    DojoInitError: type[Exception]

    @classmethod
    def from_lean_dojo(cls) -> DojoTypes:
        try:
            from lean_dojo.interaction import dojo as ld
        except ImportError as exc:
            raise ConfigError(
                f"proofgate.dojo needs LeanDojo: pip install 'proofgate[dojo]' ({exc})"
            ) from exc
        return cls(
            ld.TacticState,
            ld.ProofFinished,
            ld.LeanError,
            ld.ProofGivenUp,
            ld.DojoCrashError,
            ld.DojoTacticTimeoutError,
            ld.DojoInitError,
        )


def _repository_root(repo: Any) -> Path:
    """Where a LeanDojo `LeanGitRepo` (or anything with `.repo.working_dir` / `.url`) is on disk."""
    checkout = getattr(getattr(repo, "repo", None), "working_dir", None)
    for candidate in (checkout, getattr(repo, "url", None)):
        if candidate and Path(str(candidate)).is_dir():
            return Path(str(candidate))
    raise ConfigError(
        f"the theorem's repository {getattr(repo, 'url', repo)!r} is not on this machine: clone "
        "it and build the LeanGitRepo from its local path"
    )


def statement_from_theorem(theorem: Any) -> str:
    """A locked statement from a LeanDojo `Theorem`: its file up to the theorem, proved by `sorry`.

    Everything before the theorem stays (imports, opens, earlier declarations); the theorem must
    be a `theorem`/`lemma` whose proof follows `:=`."""
    path = _repository_root(theorem.repo) / Path(str(theorem.file_path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return cut_at_proof(text, str(theorem.full_name))


def cut_at_proof(text: str, full_name: str) -> str:
    """`text` up to `full_name`'s `:=`, followed by `by sorry`."""
    code = [t for t in tokenize(text) if t.is_code]
    scopes = Scopes()
    for index, token in enumerate(code):
        if scopes.read(code, index):
            continue
        following = code[index + 1] if index + 1 < len(code) else None
        if token.is_word(*THEOREM_WORDS) and following is not None:
            declared = following.text
            name = scopes.full_name(following.parts or (following.text,))
            if full_name not in (name, declared):
                continue
            depth = 0
            for later in code[index + 2 :]:
                if depth == 0 and later.text == ":=":
                    return text[: later.end] + " by sorry"
                if depth == 0 and (later.text == "|" or later.is_word("where", *THEOREM_WORDS)):
                    break
                depth = nesting(later, depth)
            raise ConfigError(f"{full_name}: only theorems proved with `:=` can be opened")
    raise ConfigError(f"no theorem {full_name} in this file")


class _Loop:
    """An event loop on its own thread, so the blocking Dojo API can drive async backends."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="proofgate-dojo", daemon=True
        )
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


class Dojo:
    """LeanDojo's `Dojo` (tactic mode) on proofgate sessions; see the module docstring."""

    def __init__(
        self,
        entry: Any,
        timeout: int = 600,
        additional_imports: list[str] | None = None,
        build_deps: bool = True,
        *,
        environment: str = "default",
        server: str | None = None,
        api_key: str | None = None,
        settings: Settings | None = None,
        service: CheckerService | None = None,
        types: DojoTypes | None = None,
    ) -> None:
        """`server`: a proofgate server's URL; otherwise `service` (not started: the Dojo starts
        and closes it) or one built from `settings`. `types`: the result types to build
        (LeanDojo's by default). `additional_imports` are added to the statement's header;
        `build_deps` is accepted for compatibility and ignored (nothing is built)."""
        self._types = types or DojoTypes.from_lean_dojo()
        if isinstance(entry, tuple):
            raise self._types.DojoInitError(
                "proofgate's Dojo offers tactic mode only: pass a statement or a Theorem"
            )
        self.entry = entry
        self.timeout = timeout
        self.additional_imports = list(additional_imports or [])
        self.build_deps = build_deps
        self.environment = environment
        self.is_successful: bool | None = False
        self.is_crashed = False
        self.has_timedout = False
        self._server = server
        self._api_key = api_key
        self._settings = settings
        self._service = service
        self._loop: _Loop | None = None
        self._backend: Backend | None = None
        self._exit = contextlib.AsyncExitStack()  # closes the backend
        self.session_id: str | None = None

    @property
    def uses_tactics(self) -> bool:
        return True

    @property
    def uses_commands(self) -> bool:
        return False

    def run_cmd(self, state: Any, command: str) -> Any:
        """Not offered: see the module docstring. Raises `NotImplementedError` saying what to use."""
        raise NotImplementedError(
            "proofgate's Dojo offers tactic mode only (run_tac): a command can declare anything, "
            "so whole files go through the full check instead: `proofgate check FILE`, "
            "POST /v1/check with `code`, or proofgate.Client(url).check(code=...)"
        )

    def _statement(self) -> str:
        text = self.entry if isinstance(self.entry, str) else statement_from_theorem(self.entry)
        if self.additional_imports:
            text = "".join(f"import {m}\n" for m in self.additional_imports) + text
        return text

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "use the Dojo as a context manager"
        try:
            return self._loop.run(coroutine, self.timeout)
        except concurrent.futures.TimeoutError:
            self.has_timedout = True
            raise self._types.DojoTacticTimeoutError() from None

    async def _start_backend(self) -> Backend:
        self._exit = contextlib.AsyncExitStack()
        return await self._exit.enter_async_context(
            open_backend(
                self._settings or get_settings(),
                server=self._server,
                api_key=self._api_key,
                service=self._service,
            )
        )

    def __enter__(self) -> tuple[Dojo, Any]:
        try:
            statement = self._statement()
        except ConfigError as exc:
            raise self._types.DojoInitError(str(exc)) from exc
        self._loop = _Loop()
        try:
            self._backend = self._call(self._start_backend())
            info = self._call(
                self._backend.open_session(
                    OpenSessionRequest(statement=statement, environment=self.environment)
                )
            )
        except (ProofgateError, ValueError) as exc:
            self.__exit__(None, None, None)
            raise self._types.DojoInitError(str(exc)) from exc
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.session_id = info.session_id
        return self, self._tactic_state(info.root)

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is None:
            return
        backend, self._backend = self._backend, None
        session, self.session_id = self.session_id, None
        try:
            if backend is not None:
                if session is not None:
                    # A session left open expires on its own.
                    with contextlib.suppress(ProofgateError, concurrent.futures.TimeoutError):
                        self._loop.run(backend.close_session(session), 30)
                self._loop.run(self._exit.aclose(), 30)
        finally:
            self._loop.stop()
            self._loop = None

    def _tactic_state(self, state: ProofState) -> Any:
        # LeanDojo's pretty form: goals separated by a blank line (so none may hold one itself).
        pp = "\n\n".join(goal.replace("\n\n", "\n") for goal in state.goals)
        message = "\n".join(m.text for m in state.messages)
        return self._types.TacticState(pp, state.state, message)

    def run_tac(self, state: Any, tactic: str) -> Any:
        """One tactic on `state`: `TacticState`, `ProofFinished` (only after `proved`),
        `LeanError` or `ProofGivenUp`."""
        types = self._types
        if not isinstance(state, types.TacticState):
            # LeanDojo raises RuntimeError here; callers may catch exactly that
            raise RuntimeError(f"Attempting to run a tactic on an invalid state {state}.")  # noqa: TRY004
        assert isinstance(tactic, str), f"Invalid tactic {tactic}"
        if self._backend is None or self.session_id is None:
            raise types.DojoCrashError("the Dojo is not open: use it as a context manager")
        try:
            outcome = self._call(self._backend.run_tactic(self.session_id, state.id, tactic))
        except ProofgateError as exc:
            self.is_crashed = True
            raise types.DojoCrashError(str(exc)) from exc
        if outcome.outcome in ("error", "rejected"):
            return types.LeanError(outcome.reason.strip())
        if outcome.outcome == "timeout":
            self.has_timedout = True
            raise types.DojoTacticTimeoutError()
        if outcome.outcome in ("out_of_memory", "internal") or outcome.state is None:
            self.is_crashed = True
            raise types.DojoCrashError(
                "OOM" if outcome.outcome == "out_of_memory" else outcome.reason
            )
        new = outcome.state
        if new.status == "sorry":
            return types.ProofGivenUp()
        if new.status == "open":
            return self._tactic_state(new)
        return self._finish(new)

    def _finish(self, state: ProofState) -> Any:
        """Lean's tactic mode sees no goals: only the full check may turn that into a proof."""
        types = self._types
        assert self._backend is not None and self.session_id is not None
        try:
            verdict = self._call(self._backend.finish_session(self.session_id, state.state))
        except ProofgateError as exc:
            self.is_crashed = True
            raise types.DojoCrashError(str(exc)) from exc
        if verdict.status is VerdictStatus.proved:
            self.is_successful = True
            return types.ProofFinished(state.state, "\n".join(m.text for m in state.messages))
        if verdict.status is VerdictStatus.timeout:
            self.has_timedout = True
            raise types.DojoTacticTimeoutError()
        if verdict.status in (VerdictStatus.internal, VerdictStatus.out_of_memory):
            self.is_crashed = True
            raise types.DojoCrashError(
                "OOM" if verdict.status is VerdictStatus.out_of_memory else verdict.reason
            )
        return types.LeanError(
            f"no goals are left in tactic mode, but the full check says {verdict.status.value}: "
            f"{verdict.reason}"
        )
