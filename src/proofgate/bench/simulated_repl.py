"""The SIMULATED Lean REPL: a stand-in process that speaks the REPL's protocol, with no Lean in it.

It is the backend of `proofgate bench`'s simulated mode and the test double of the REPL driver and
pool (DESIGN.md allows it in the package, clearly named). It never checks a proof: no verification
path may select it, and `proofgate.lean.launch.LeanReplLauncher` refuses a command naming it.

Input and output follow leanprover-community/repl v4.32.0 `REPL/Main.lean`: read lines until a
blank one and join them (line ends trimmed, no separator); skip a query starting with `#` or `--`;
exit with an uncaught error on malformed JSON or an unknown command; print each reply as Lean's
pretty JSON, then a blank line, flushed.

Two modes:
- replay (`--replay FILE.in`): answer each command with the reply recorded in `FILE.expected.out`,
  in order, after checking the command equals the recorded one (as JSON values);
- generic: `{"cmd"}` gets `{"env": N}` (ids from 0, as the real one), `{"tactic", "proofState"}` a
  proof state; markers in the Lean text steer it, one per line: `-- standin: error TEXT`
  (`\\n` for a newline, so an error carries its goal as Lean's "unsolved goals" does),
  `info TEXT`, `warning TEXT`, `sorry`, `sleep SECONDS`, `crash`, `crash-once FLAG_FILE`,
  `crash-mid-reply`, `hang`,
  `forge` (a bogus `{"env": 0}` first), `forge-extra` (a second value after the reply),
  `stderr-flood [MB]`, `huge-reply [MB]`, `grow-memory MB`, `print-while-idle [SECONDS]`,
  `fork-child-sleep` (leaves a child holding the pipes), `shell SCRIPT` (runs SCRIPT, `\\n` for a
  newline, with `/bin/sh`, stdin the null device, as a submission with code execution could, and
  answers `shell exit N: OUTPUT`; processes it puts in the background are not waited for),
  `signal N` (the process ends by signal N, as Lean does on a stack overflow), `signal-once
  FLAG_FILE N`, `taken-over TEXT` (from the next command on, every reply of this worker carries the error TEXT:
  a worker whose process a submission took over, as code execution inside it could),
  `taken-over-clean` (from this command on, every reply of this worker is clean: no message,
  no sorry, whatever the code; a take-over that forges success for later submissions),
  `report-base` (which env it ran on),
  `report-worker` (its pid, when its header import finished and when this command started, as
  `time.monotonic()` seconds: `proofgate bench` tells from them whether a request waited on an import).
  Modules named `Standin.Missing...` fail to import, as an unknown module does in Lean.
  `report-options` answers the options the command runs under and the thread count, as
  `options NAME=VALUE ... threads N` (`threads cores` when LEAN_NUM_THREADS is unset).
  A marker may be conditional: `with WORD MARKER` / `without WORD MARKER` acts out MARKER only if
  the command's text (its marker lines aside) contains / does not contain WORD; they nest, e.g.
  `-- standin: with proofgate_triage without norm_num error failed` (triage tests script probes so).
  For proof sessions: in a tactic, `goal TEXT` gives the new state a goal (one a marker, `\\n` for a
  newline), `error-state TEXT` answers a new state carrying an error (as Lean answers a tactic that
  fails to elaborate), `give-up` the answer to `sorry` (a sorry, then a state with no goals) and
  `report-state` an info message naming the state it ran on; in a `cmd`,
  `goal TEXT` is the goal of the `sorry` markers after it.

A literal `sorry` is answered as Lean answers it where the stand-in can read the declaration
simply: in a `cmd` without `sorry` markers, each `theorem`, `lemma`, `def` or `example` whose proof
is exactly `by sorry` (`by` and `sorry` on one line or two), with explicit, implicit or instance
binders and its type after a top-level `:`, gets a `sorries` entry (a new proofState, the goal
Lean would print: the binders as hypotheses, consecutive ones of one type grouped, then `⊢ TYPE`,
spelled as written) and the "declaration uses `sorry`" warning at its name (at `example` for an
example), as in the recorded transcripts `by_cases` and `tactic_sorry`. Any other `sorry` (in
term mode, inside a longer proof, after a binder the stand-in cannot read) stays unseen.

Statement audits (`proofgate audit-statements`) ask two more things of Lean, modelled here where
the stand-in reads the declaration simply (`_declared_types`):
- `#check (type_of% @_root_.NAME)` (or `@NAME`) on its own line, for a `theorem`/`lemma` NAME
  declared in the same command, is answered as Lean's `#check` answers a term: an info message at
  the `#check` keyword (column 0 to 6, as the recorded `def_eval` and `dup_msg` replies) whose data
  is `TYPE : Prop`. TYPE is modelled, not recorded: the closed type as Lean's delaborator prints it
  for these simple cases (`∀ (x y : T) {z : U}, ...`, binders of one kind and type grouped, an
  explicit binder no later part mentions printed as `T →`, instance binders as `[inst : C]`),
  spelled as written (no notation is normalized, no line is wrapped). A declaration it cannot read
  gets no answer, as an unseen literal `sorry` does.
- `-- standin: auto-bound NAME TYPE` says that Lean auto-binds NAME (of TYPE) in the declaration
  that follows the marker: the `#check` type above starts with `{NAME : TYPE}`, as Lean puts
  auto-bound implicits first; and under `autoImplicit false` (a top-level `set_option` of this
  command or of its env) the command fails as Lean does, with an error at NAME's first use after
  the marker: "Unknown identifier `NAME`" (the shape of the recorded `dup_msg` error; that Lean
  says exactly this for a signature under `autoImplicit false` is modelled, not recorded), and
  that declaration's type is not answered.

`--protocol VERSION` (v4.9.0, v4.15.0, v4.26.0; default v4.32.0) speaks that REPL tag's variant:
its fields, and for v4.9.0 a stdout that is never flushed (`simulated_repl_protocols.py`).

Run it as `python -m proofgate.bench.simulated_repl [--replay FILE.in] [--import-seconds S]
[--check-seconds-lognormal MU,SIGMA] [--seed N] [--start-seconds S]`.

Options and threads, as the real REPL takes them (REPL/Main.lean, REPL/Frontend.lean at v4.32.0;
the runtime's `lean_init_task_manager`): its `main` ignores every argument, so this stand-in ignores
any argument it does not use itself (a `-D` on its command line does nothing here either); each
command is elaborated with no options (`processInput` is called with `opts := {}`), and a top-level
`set_option NAME VALUE` line changes the options of the env it makes and of every env made on top
of it (an `env` id keeps the whole command state, its scopes' options with it); `set_option ... in`
changes nothing after its command. An unknown option name is an error (Unknown option `NAME`), as
is a value of the wrong kind. The thread count comes from LEAN_NUM_THREADS (the C `atoi` of it;
unset: the core count); a count of 0 leaves the runtime without a task manager, which Lean's
elaborator cannot run without: the stand-in then aborts on its first command, as that assertion does.

A `cmd` with `"infotree": LEVEL` gets the REPL's `infotree` where `proofgate.bench.simulated_infotree`
models it (one-line declarations proved by one recorded tactic, at `tactics`, `original`,
`substantive`), and none elsewhere.

A `cmd` with `"allTactics": true` gets the REPL's `tactics` where
`proofgate.bench.simulated_tactics` models them (`have NAME := NUMERAL`, `exact HYPOTHESIS`, `sorry`
at `⊢ False`; no step for a command with an error), and a tactic run again on one of those steps'
proof states is answered as recorded there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if __package__:
    from proofgate.bench.lean_json import lean_json_pretty
    from proofgate.bench.simulated_infotree import infotree_of
    from proofgate.bench.simulated_lean import BUILTIN_OPTIONS
    from proofgate.bench.simulated_repl_protocols import VARIANTS, UnflushedStdout, shape_reply
    from proofgate.bench.simulated_tactics import StepState, all_tactics, replay_tactic
else:  # run as a file: import the sibling files without the (slow to import) proofgate package
    from lean_json import lean_json_pretty  # type: ignore[import-not-found,no-redef]  # the sibling file
    from simulated_infotree import infotree_of  # type: ignore[import-not-found,no-redef]  # sibling
    from simulated_lean import BUILTIN_OPTIONS  # type: ignore[import-not-found,no-redef]  # sibling
    from simulated_repl_protocols import (  # type: ignore[import-not-found,no-redef]  # sibling
        VARIANTS,
        UnflushedStdout,
        shape_reply,
    )
    from simulated_tactics import (  # type: ignore[import-not-found,no-redef]  # sibling
        StepState,
        all_tactics,
        replay_tactic,
    )

if TYPE_CHECKING:
    from proofgate.config import Settings
    from proofgate.environments.registry import Environment
    from proofgate.sandbox.process import SpawnSpec

__all__ = [
    "SimulatedRepl",
    "SimulatedReplLauncher",
    "main",
    "read_query",
    "split_transcript_commands",
]

MARKER = "-- standin:"
#: This file: `python SCRIPT` starts about ten times faster than `python -m`, which first imports
#: the whole proofgate package.
SCRIPT = str(Path(__file__).resolve())
_ASCII_SPACE = " \t\n\r\x0b\x0c"
_TAG = ""  # `--tag`: lets a test suite find every process it started, orphans included
_memory_hog: list[bytearray] = []  # kept for the process's life, as the REPL keeps every env


def read_query(stream: BinaryIO) -> str:
    """Lean's `getLines`: lines up to a blank one, each trimmed at its end, joined with nothing."""
    parts: list[str] = []
    while True:
        line = stream.readline().decode("utf-8", errors="replace")
        if not line.strip(_ASCII_SPACE):
            return "".join(parts) + line
        parts.append(line.rstrip(_ASCII_SPACE))


def split_transcript_commands(text: str) -> list[str]:
    """The queries a REPL would run from a recorded `.in` file (skipped `#`/`--` ones dropped)."""
    import io

    stream = io.BytesIO(text.encode("utf-8"))
    queries = []
    while (query := read_query(stream)) != "":
        if query.strip(_ASCII_SPACE) and not query.startswith(("#", "--")):
            queries.append(query)
    return queries


def _fail(message: dict[str, str], code: int = 1) -> None:
    """An uncaught exception in the REPL: Lean prints it on stderr and exits with status 1."""
    sys.stderr.write(f"uncaught exception: {lean_json_pretty(message)}\n")
    sys.stderr.flush()
    os._exit(code)


def _is_nat(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _classify(query: str) -> tuple[str, dict[str, Any]]:
    """Parse a query as the REPL's `parse` does, trying each command shape in its order."""
    try:
        data = json.loads(query)
    except ValueError as exc:
        _fail({"message": f"Could not parse JSON:\n{exc}"})
    if isinstance(data, dict):
        if _is_nat(data.get("proofState")) and isinstance(data.get("tactic"), str):
            return "tactic", data
        if _is_nat(data.get("env")) and isinstance(data.get("pickleTo"), str):
            return "pickle_env", data
        if isinstance(data.get("unpickleEnvFrom"), str):
            return "unpickle_env", data
        if _is_nat(data.get("proofState")) and isinstance(data.get("pickleTo"), str):
            return "pickle_proof_state", data
        if isinstance(data.get("unpickleProofStateFrom"), str):
            return "unpickle_proof_state", data
        env_ok = data.get("env") is None or _is_nat(data.get("env"))
        if isinstance(data.get("cmd"), str) and env_ok:
            return "cmd", data
        if isinstance(data.get("path"), str) and env_ok:
            return "path", data
    _fail({"message": "Could not parse as a valid JSON command:\nno command shape matches"})
    raise AssertionError("unreachable")


#: `--protocol`: the REPL version spoken (simulated_repl_protocols.py), and its stdout when that
#: version never flushes.
_PROTOCOL = "v4.32.0"
_UNFLUSHED: UnflushedStdout | None = None


def _emit(text: str) -> None:
    if _UNFLUSHED is not None:
        _UNFLUSHED.write(text.encode("utf-8"))
        return
    out = sys.stdout.buffer
    out.write(text.encode("utf-8"))
    out.flush()


@dataclass
class _Env:
    imports: tuple[str, ...]
    depth: int  # 0 for a header env, +1 per command run on top
    base: int | None
    options: dict[str, str] = field(default_factory=dict)


def _lean_threads() -> str:
    """The task manager's size as a compiled Lean program reads it: `atoi(LEAN_NUM_THREADS)`."""
    text = os.environ.get("LEAN_NUM_THREADS")
    if text is None:
        return "cores"
    number = ""
    for char in text.strip():
        if not char.isdigit():
            break
        number += char
    return str(int(number or "0"))


def _set_options(lines: list[str], options: dict[str, str], messages: list[dict[str, Any]]) -> None:
    """Apply each top-level `set_option NAME VALUE` line to `options`, as Lean's elaborator does."""
    for number, text in enumerate(lines, start=1):
        words = text.split()
        if words[:1] != ["set_option"] or len(words) != 3:
            continue  # `set_option NAME VALUE in ...` scopes its own command only
        name, value = words[1], words[2]
        kind = BUILTIN_OPTIONS.get(name)
        if kind is None:
            messages.append(_message("error", number, 0, f"Unknown option `{name}`"))
        elif (kind == "Bool" and value not in ("true", "false")) or (
            kind == "Nat" and not value.isdigit()
        ):
            messages.append(_message("error", number, 0, "type mismatch at set_option"))
        else:
            options[name] = value


@dataclass
class SimulatedRepl:
    """Generic-mode state: every env and proof state ever made, as the real REPL keeps them."""

    import_seconds: float = 0.0
    check_lognormal: tuple[float, float] | None = None
    rng: random.Random = field(default_factory=random.Random)
    envs: list[_Env] = field(default_factory=list)
    proof_states: int = 0
    next_goal: str = "⊢ True"  # the goal a `sorry` marker reports (`goal TEXT` sets it)
    ready_at: float = 0.0  # monotonic time its last header import finished
    taken_over: str = ""  # once set (`taken-over TEXT`), an error every later command carries
    forges_clean: bool = False  # once set (`taken-over-clean`), no later reply has an error
    step_states: dict[int, StepState] = field(default_factory=dict)  # allTactics' proof states

    def answer(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "cmd":
            self._command(data)
        elif kind == "tactic":
            self._tactic(data)
        else:
            self._reply({"message": f"simulated REPL: `{kind}` is not simulated"})

    def _reply(
        self, value: dict[str, Any], *, markers: Sequence[tuple[int, int, str, str]] = ()
    ) -> None:
        text = lean_json_pretty(shape_reply(value, _PROTOCOL)) + "\n\n"
        names = {name for _, _, name, _ in markers}
        if "crash-mid-reply" in names:
            _emit(text[: max(1, len(text) // 2)])
            os._exit(1)
        if "forge" in names:  # as if the code's own output reached stdout while Lean worked on
            _emit(lean_json_pretty({"env": 0}) + "\n\n")
            time.sleep(0.2)
        if "forge-extra" in names:
            text += lean_json_pretty({"env": len(self.envs)}) + "\n\n"
        _emit(text)
        for _, _, name, argument in markers:
            if name == "print-while-idle":
                delay = float(argument or 0.3)
                threading.Timer(delay, _emit, args=('{"env": 99}\n\n',)).start()

    def _command(self, data: dict[str, Any]) -> None:
        if _lean_threads() == "0":  # no task manager: the elaborator's first promise asserts
            sys.stderr.write("INTERNAL PANIC: no task manager (LEAN_NUM_THREADS=0)\n")
            sys.stderr.flush()
            os._exit(134)
        received_at = time.monotonic()
        code: str = data["cmd"]
        self.next_goal = "⊢ True"
        env_id = data.get("env")
        lines = code.split("\n")
        messages: list[dict[str, Any]] = []
        sorries: list[dict[str, Any]] = []
        if env_id is not None and env_id >= len(self.envs):
            self._reply({"message": "Unknown environment."})
            return
        if env_id is None:
            imports = _imported_modules(lines)
            if imports:
                time.sleep(self.import_seconds)
            self.ready_at = time.monotonic()
            for number, module in enumerate(imports, start=1):
                if module.startswith("Standin.Missing"):
                    messages.append(
                        _message("error", number, 0, f"unknown module prefix '{module}'")
                    )
            record = _Env(imports, 0, None)
        else:
            base = self.envs[env_id]
            record = _Env(base.imports, base.depth + 1, env_id, dict(base.options))
            for number, text in enumerate(lines, start=1):
                if text.startswith("import "):
                    messages.append(
                        _message(
                            "error",
                            number,
                            0,
                            "invalid 'import' command, it must be used in the beginning of the file",
                        )
                    )
            if self.check_lognormal is not None:
                time.sleep(min(30.0, self.rng.lognormvariate(*self.check_lognormal)))
        options_before = dict(record.options)  # what this command itself runs under
        _set_options(lines, record.options, messages)
        for number, text in enumerate(lines, 1):
            # A Markdown fence is no Lean (a raw model output sent as Lean): Lean's parser stops
            # there. The message is modelled, not taken from a transcript.
            if text.lstrip().startswith("```"):
                messages.append(_message("error", number, 0, "unexpected token; expected command"))
                break
        markers = _markers(lines)
        if self.taken_over:  # every later command gets the forged error
            messages.append(_message("error", 1, 0, self.taken_over))
        for line, column, name, argument in markers:
            self._act(name, argument, line, column, messages, sorries, record)
            if name == "report-options":
                listed = " ".join(f"{k}={v}" for k, v in sorted(options_before.items()))
                text = f"options {listed} threads {_lean_threads()}".replace("  ", " ")
                messages.append(_message("info", line, column, text))
            if name == "report-worker":
                text = f"worker pid={os.getpid()} ready_at={self.ready_at:.6f} started_at={received_at:.6f}"
                messages.append(_message("info", line, column, text))
        declared = _declared_types(lines, markers, record.options)
        if declared:  # Lean lists messages in the order of their positions
            messages.extend(declared)
            messages.sort(key=lambda m: (m["pos"]["line"], m["pos"]["column"]))
        if not any(name == "sorry" for _, _, name, _ in markers):
            literal = _literal_sorries(code)
            for sorry, warning in literal:
                sorries.append({"proofState": self.proof_states, **sorry})
                self.proof_states += 1
                messages.append(warning)
            if literal:  # Lean lists messages in the order of their positions
                messages.sort(key=lambda m: (m["pos"]["line"], m["pos"]["column"]))
        steps = self._all_tactics(code, messages) if data.get("allTactics") is True else []
        self.envs.append(record)
        if self.forges_clean:  # a taken-over worker hiding every error and sorry of later code
            messages, sorries = [], []
        reply: dict[str, Any] = {"env": len(self.envs) - 1}
        if messages:
            reply["messages"] = messages
        if sorries:
            reply["sorries"] = sorries
        if steps:
            reply["tactics"] = steps
        trees = infotree_of(code, data.get("infotree"))  # bench/simulated_infotree.py
        if trees:
            reply["infotree"] = trees
        self._reply(reply, markers=markers)

    def _act(
        self,
        name: str,
        argument: str,
        line: int,
        column: int,
        messages: list[dict[str, Any]],
        sorries: list[dict[str, Any]],
        record: _Env,
    ) -> None:
        if name == "error":  # `\\n` for a newline: "unsolved goals\\n⊢ ..." carries its goal
            messages.append(_message(name, line, column, argument.replace("\\n", "\n")))
        elif name in ("info", "warning"):
            messages.append(_message(name, line, column, argument))
        elif name == "sorry":
            sorries.append(
                {
                    "proofState": self.proof_states,
                    "goal": self.next_goal,
                    "pos": {"line": line, "column": column},
                    "endPos": {"line": line, "column": column + 5},
                }
            )
            self.proof_states += 1
            messages.append(_message("warning", line, column, "declaration uses `sorry`"))
        elif name == "goal":
            self.next_goal = argument.replace("\\n", "\n")
        elif name == "sleep":
            time.sleep(float(argument))
        elif name == "hang":
            while True:
                time.sleep(3600)
        elif name == "crash-once" and not os.path.exists(argument):
            Path(argument).touch()  # the next worker given this code will not crash
            os._exit(134)
        elif name == "signal-once" and not os.path.exists(argument.split()[0]):
            Path(argument.split()[0]).touch()  # the next worker given this code goes on
            os.kill(os.getpid(), int(argument.split()[1]))
        elif name == "signal":  # as a stack overflow (11) or an abort (6) ends Lean
            os.kill(os.getpid(), int(argument))
        elif name == "crash":
            sys.stderr.write("INTERNAL PANIC: simulated crash\n")
            sys.stderr.flush()
            os._exit(134)
        elif name == "stderr-flood":
            chunk = ("simulated diagnostics " * 40 + "\n").encode()
            for _ in range(int(float(argument or 16) * 2**20) // len(chunk) + 1):
                sys.stderr.buffer.write(chunk)
            sys.stderr.flush()
        elif name == "huge-reply":
            size = int(float(argument or 8) * 2**20)
            piece = '⊢ α → β “quoted” \\ "x"\n'
            messages.append(
                _message("info", line, column, (piece * (size // len(piece) + 1))[:size])
            )
        elif name == "grow-memory":
            for _ in range(int(argument) // 8):
                _memory_hog.append(bytearray(b"\x01" * (8 * 2**20)))
                time.sleep(0.01)
        elif name == "fork-child-sleep":
            argv = [sys.executable, SCRIPT, "--child-sleep", "300"]
            child = subprocess.Popen(argv + (["--tag", _TAG] if _TAG else []))
            messages.append(_message("info", line, column, f"child pid {child.pid}"))
        elif name == "shell":
            messages.append(_message("info", line, column, _run_shell(argument)))
        elif name == "taken-over":
            self.taken_over = argument or "forged error"
        elif name == "taken-over-clean":
            self.forges_clean = True
        elif name == "report-base":
            text = f"base env={record.base} depth={record.depth - 1} imports={','.join(record.imports)}"
            messages.append(_message("info", line, column, text))

    def _tactic(self, data: dict[str, Any]) -> None:
        if data["proofState"] >= self.proof_states:
            self._reply({"message": "Unknown proof state."})
            return
        if data["proofState"] in self.step_states:  # a step of an allTactics reply
            self._replay_step(data)
            return
        markers = _markers(data["tactic"].split("\n"))
        for _, _, name, argument in markers:
            if name == "error":
                self._reply({"message": f"Lean error:\n{argument}"})
                return
            self._act(name, argument, 1, 0, [], [], _Env((), 0, None))
        goals = [
            argument.replace("\\n", "\n") for _, _, name, argument in markers if name == "goal"
        ]
        open_goal = bool(goals) or any(name == "sorry" for _, _, name, _ in markers)
        reply: dict[str, Any] = {
            "proofState": self.proof_states,
            "goals": (goals or ["⊢ True"]) if open_goal else [],
            "proofStatus": "Incomplete: open goals remain" if open_goal else "Completed",
        }
        nowhere = {"line": 0, "column": 0}
        for _, _, name, argument in markers:
            if name == "error-state":
                reply.update(
                    proofStatus="Incomplete: contains sorry",
                    goals=[],
                    messages=[
                        {"severity": "error", "pos": nowhere, "endPos": nowhere, "data": argument}
                    ],
                )
            elif name == "give-up":  # as the `sorry` tactic answers: its sorry, then the new state
                reply["sorries"] = [{"proofState": self.proof_states, "goal": "⊢ True"}]
                reply.update(proofStatus="Incomplete: contains sorry", goals=[])
                self.proof_states += 1
                reply["proofState"] = self.proof_states
            elif name == "report-state":
                reply.setdefault("messages", []).append(
                    {
                        "severity": "info",
                        "pos": nowhere,
                        "endPos": nowhere,
                        "data": f"ran on proofState {data['proofState']}",
                    }
                )
        self.proof_states += 1
        self._reply(reply, markers=markers)

    # --- allTactics (proofgate extract): modelled in bench/simulated_tactics.py -------------

    def _all_tactics(self, code: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The `tactics` of a command Lean accepts, numbered after its sorries; none for a
        command with an error (the stand-in invents no step for code Lean refuses)."""
        if any(message["severity"] == "error" for message in messages):
            return []
        tactics, states = all_tactics(code, lambda rest, named: _goal(rest, named=named))
        for tactic, state in zip(tactics, states, strict=True):
            tactic["proofState"] = self.proof_states
            self.step_states[self.proof_states] = state
            self.proof_states += 1
        return tactics

    def _replay_step(self, data: dict[str, Any]) -> None:
        """A tactic run again on an allTactics step's state (the recorded reply shapes)."""
        state = self.step_states[data["proofState"]]
        reply = replay_tactic(state, data["tactic"], self.proof_states)
        if "proofState" in reply:
            self.proof_states = reply["proofState"] + 1
        self._reply(reply)


def _run_shell(argument: str) -> str:
    """Run a `shell` marker's script; its output is what it printed before `sh` exited (a
    background process that keeps the pipe open is not waited for)."""
    script = argument.replace("\\n", "\n")
    child = subprocess.Popen(
        ["/bin/sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    code = child.wait()
    descriptor = child.stdout.fileno()
    os.set_blocking(descriptor, False)
    output = bytearray()
    try:
        while chunk := os.read(descriptor, 1 << 16):
            output += chunk
    except BlockingIOError:
        pass
    child.stdout.close()
    return f"shell exit {code}: {output.decode('utf-8', 'replace')}"


def _message(severity: str, line: int, column: int, data: str) -> dict[str, Any]:
    return {
        "severity": severity,
        "pos": {"line": line, "column": column},
        "endPos": {"line": line, "column": column + len(MARKER)},
        "data": data,
    }


#: A declaration proved by exactly `by sorry`: its keyword, what lies between it and `:=` (no
#: `:=` in it), and the `sorry`, with nothing more in its tactic block.
_BY_SORRY = re.compile(
    r"^(?P<keyword>theorem|lemma|def|example)(?=\s)(?P<rest>(?:(?!:=)[^\n]|\n(?=[ \t]))*?)"
    r":=[ \t]*by(?:[ \t]+|[ \t]*\n[ \t]+)(?P<sorry>sorry)[ \t]*(?:--[^\n]*)?(?=\n(?![ \t]*\S)|\n\S|\Z)",
    re.MULTILINE,
)
_BINDERS = {"(": ")", "{": "}", "[": "]", "⦃": "⦄"}


def _position(code: str, offset: int) -> dict[str, int]:
    line = code.count("\n", 0, offset) + 1
    return {"line": line, "column": offset - (code.rfind("\n", 0, offset) + 1)}


def _type_colon(text: str) -> int:
    """Where the `:` between a declaration's binders and its type stands in `text` (the first one
    outside every bracket), or -1 where there is none."""
    depth = 0
    for index, char in enumerate(text):
        if char in _BINDERS:
            depth += 1
        elif char in _BINDERS.values():
            depth -= 1
        elif char == ":" and depth == 0:
            return index
    return -1


def _hypotheses(text: str) -> list[tuple[str, str]] | None:
    """`(name, type)` of each binder in `text` (all of `text` binders), or None if the stand-in
    cannot read one simply (a default value, a pattern, nested brackets of its own kind...)."""
    groups = _binder_groups(text)
    if groups is None:
        return None
    return [(name, kind) for _, names, kind in groups for name in names]


def _goal(rest: str, *, named: bool) -> str | None:
    """The goal Lean prints at a declaration's `sorry`: `rest` is what follows its keyword."""
    words = rest.split(None, 1) if named else ["", rest]
    if len(words) != 2 or (named and not words[0].replace(".", "").replace("_", "").isalnum()):
        return None
    split = _type_colon(words[1])
    if split < 0:
        return None
    hypotheses = _hypotheses(words[1][:split])
    target = " ".join(words[1][split + 1 :].split())
    if hypotheses is None or not target:
        return None
    lines: list[str] = []
    for position, (name, kind) in enumerate(hypotheses):
        if position and hypotheses[position - 1][1] == kind and lines:
            lines[-1] = lines[-1].replace(f" : {kind}", f" {name} : {kind}", 1)  # grouped
        else:
            lines.append(f"{name} : {kind}")
    return "\n".join([*lines, f"⊢ {target}"])


def _literal_sorries(code: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each declaration proved by a literal `by sorry` that the stand-in reads simply: its
    `sorries` entry (without a proofState) and its "declaration uses `sorry`" warning."""
    found = []
    for match in _BY_SORRY.finditer(code):
        named = match["keyword"] != "example"
        goal = _goal(match["rest"], named=named)
        if goal is None:
            continue
        if named:
            start = match.start("rest") + len(match["rest"]) - len(match["rest"].lstrip())
            end = start + len(match["rest"].split(None, 1)[0])
        else:
            start, end = match.start("keyword"), match.end("keyword")
        sorry = {
            "pos": _position(code, match.start("sorry")),
            "goal": goal,
            "endPos": _position(code, match.end("sorry")),
        }
        warning = {
            "severity": "warning",
            "pos": _position(code, start),
            "endPos": _position(code, end),
            "data": "declaration uses `sorry`",
        }
        found.append((sorry, warning))
    return found


#: `#check (type_of% @_root_.NAME)` alone on a line: the closed type of NAME.
_CHECK_TYPE = re.compile(r"^#check \(type_of% @(?:_root_\.)?(?P<name>[^\s()]+)\)[ \t]*$")
#: `theorem NAME ...` up to its `:=` (continuation lines indented), as `_BY_SORRY` reads it.
_DECLARATION = re.compile(
    r"^(?:theorem|lemma)[ \t]+(?P<name>[^\s({\[:]+)(?P<rest>(?:(?!:=)[^\n]|\n(?=[ \t]))*?):=",
    re.MULTILINE,
)
#: Lean's identifier characters around a use of a name (`x` is not used in `x'`, `x₁` or `a.x`).
_ID_EDGE = r"\w'!?₀-₉"


def _uses(name: str, text: str) -> bool:
    return re.search(rf"(?<![{_ID_EDGE}.]){re.escape(name)}(?![{_ID_EDGE}])", text) is not None


def _binder_groups(text: str) -> list[tuple[str, list[str], str]] | None:
    """`(bracket, names, type)` of each binder group in `text`, or None where the stand-in cannot
    read one simply (as `_hypotheses`, keeping the bracket kind)."""
    groups: list[tuple[str, list[str], str]] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in _ASCII_SPACE:
            index += 1
            continue
        close = _BINDERS.get(char)
        if close is None:
            return None
        depth, end = 0, index
        while end < len(text):
            if text[end] in _BINDERS:
                depth += 1
            elif text[end] in _BINDERS.values():
                depth -= 1
                if depth == 0:
                    break
            end += 1
        if end >= len(text) or text[end] != close:
            return None
        names, colon, kind = text[index + 1 : end].partition(" : ")
        kind = " ".join(kind.split())
        if char == "[" and not colon:
            groups.append(("[", ["inst✝"], " ".join(names.split())))  # Lean's anonymous name
        elif not colon or not kind or not names.split():
            return None
        else:
            groups.append((char, names.split(), kind))
        index = end + 1
    return groups


def _parenthesized(kind: str) -> str:
    """An arrow's domain as Lean prints it: in parentheses when it would otherwise extend."""
    if any(word in kind for word in ("→", "↔", "∀", "∃", "fun ", "λ")):
        return f"({kind})"
    return kind


def _closed_type(rest: str, auto_bound: list[tuple[str, str]]) -> str | None:
    """The type Lean prints for a declaration whose text after its name is `rest` (binders, `:`,
    type), with `auto_bound` implicits first (modelled, see the module docstring)."""
    split = _type_colon(rest)
    groups = _binder_groups(rest[:split]) if split >= 0 else None
    target = " ".join(rest[split + 1 :].split())
    if groups is None or not target:
        return None
    binders = [("{", name, kind) for name, kind in auto_bound]
    binders += [(bracket, name, kind) for bracket, names, kind in groups for name in names]
    pieces: list[str] = []  # printed `∀` groups and arrows, in order
    forall: list[tuple[str, list[str], str]] = []

    def flush() -> None:
        if forall:
            printed = " ".join(
                # an anonymous instance prints as `[inst : C]` in a type, `inst✝` in a context
                f"{b}{' '.join(n.removesuffix('✝') for n in names)} : {kind}{_BINDERS[b]}"
                for b, names, kind in forall
            )
            pieces.append(f"∀ {printed},")
            forall.clear()

    for position, (bracket, name, kind) in enumerate(binders):
        later = " ".join(k for _, _, k in binders[position + 1 :]) + " " + target
        if bracket == "(" and not _uses(name, later):
            flush()
            pieces.append(f"{_parenthesized(kind)} →")
        elif forall and forall[-1][0] == bracket and forall[-1][2] == kind and bracket != "[":
            forall[-1][1].append(name)
        else:
            forall.append((bracket, [name], kind))
    flush()
    return " ".join([*pieces, target])


def _declared_types(
    lines: list[str], markers: list[tuple[int, int, str, str]], options: dict[str, str]
) -> list[dict[str, Any]]:
    """Errors for auto-bound names under `autoImplicit false`, and answers to `#check (type_of%
    @NAME)` lines, for the declarations of this command (see the module docstring)."""
    kept = ["" if MARKER in line else line for line in lines]  # keeps line numbers
    plain = "\n".join(kept)
    declarations = list(_DECLARATION.finditer(plain))
    bound: dict[str, list[tuple[str, str]]] = {}
    failed: set[str] = set()
    found: list[dict[str, Any]] = []
    for line, _, name, argument in markers:
        if name != "auto-bound" or len(argument.split(None, 1)) != 2:
            continue
        variable, kind = argument.split(None, 1)
        offset = sum(len(text) + 1 for text in kept[:line])
        following = next((d for d in declarations if d.start() >= offset), None)
        if following is None:
            continue
        bound.setdefault(following["name"], []).append((variable, " ".join(kind.split())))
        if options.get("autoImplicit") == "false":
            use = re.search(
                rf"(?<![{_ID_EDGE}.]){re.escape(variable)}(?![{_ID_EDGE}])",
                plain[following.start("rest") : following.end("rest")],
            )
            if use is not None:
                where = _position(plain, following.start("rest") + use.start())
                end = {"line": where["line"], "column": where["column"] + len(variable)}
                found.append(
                    {
                        "severity": "error",
                        "pos": where,
                        "endPos": end,
                        "data": f"Unknown identifier `{variable}`",
                    }
                )
                failed.add(following["name"])
    for number, text in enumerate(lines, start=1):
        check = _CHECK_TYPE.match(text)
        if check is None:
            continue
        wanted = check["name"]
        declaration = next(
            (d for d in declarations if d["name"] == wanted or wanted.endswith("." + d["name"])),
            None,
        )
        if declaration is None or declaration["name"] in failed:
            continue
        closed = _closed_type(declaration["rest"], bound.get(declaration["name"], []))
        if closed is not None:
            found.append(
                {
                    "severity": "info",
                    "pos": {"line": number, "column": 0},
                    "endPos": {"line": number, "column": 6},
                    "data": f"{closed} : Prop",
                }
            )
    return found


def _markers(lines: list[str]) -> list[tuple[int, int, str, str]]:
    """`(line, column, name, argument)` of every `-- standin: NAME ARG` marker."""
    found = []
    for number, text in enumerate(lines, start=1):
        column = text.find(MARKER)
        if column >= 0:
            name, _, argument = text[column + len(MARKER) :].strip().partition(" ")
            name, argument = _condition(name, argument.strip(), lines)
            if not name:
                continue
            found.append((number, column, name, argument.strip()))
    return found


def _condition(name: str, argument: str, lines: list[str]) -> tuple[str, str]:
    """Resolve `with WORD ...` / `without WORD ...` prefixes; ("", "") when a condition fails."""
    plain = "\n".join(line for line in lines if MARKER not in line)
    while name in ("with", "without"):
        word, _, rest = argument.partition(" ")
        if (word in plain) != (name == "with"):
            return "", ""
        name, _, argument = rest.strip().partition(" ")
    return name, argument


def _replay(transcript: Path, expected: Path) -> None:
    """Answer each command with its recorded reply, checking each command is the recorded one."""
    commands = [json.loads(q) for q in split_transcript_commands(transcript.read_text("utf-8"))]
    replies = [c for c in expected.read_text("utf-8").split("\n\n") if c.strip()]
    for index in range(len(commands) + 1):
        query = read_query(sys.stdin.buffer)
        while query.startswith(("#", "--")):
            query = read_query(sys.stdin.buffer)
        if query == "":
            return
        _classify(query)
        received = json.loads(query)
        if index >= min(len(commands), len(replies)) or received != commands[index]:
            sys.stderr.write(f"simulated REPL (replay): command {index} is not the recorded one\n")
            sys.stderr.flush()
            os._exit(2)
        _emit(replies[index] + "\n\n")


class SimulatedReplLauncher:
    """Starts this simulated REPL as a pool worker: for `proofgate bench` and tests, never verification."""

    def __init__(self, settings: Settings, options: Sequence[str] = ()) -> None:
        self._settings = settings
        self.options = list(options)

    def spawn_spec(self, environment: Environment) -> SpawnSpec:
        from proofgate.lean.launch import lean_environment
        from proofgate.sandbox.process import SpawnSpec

        return SpawnSpec(
            argv=[sys.executable, SCRIPT, *self.options],
            cwd=environment.directory,
            env=lean_environment(self._settings),
            read_only=(environment.directory,),
        )


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="simulated_repl", description=__doc__.split("\n")[0])
    parser.add_argument("--replay", type=Path, help="a transcript's .in file to replay")
    parser.add_argument("--expected", type=Path, help="its replies (default: NAME.expected.out)")
    parser.add_argument("--import-seconds", type=float, default=0.0)
    parser.add_argument("--start-seconds", type=float, default=0.0, help="delay before reading")
    parser.add_argument("--check-seconds-lognormal", default=None, metavar="MU,SIGMA")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--child-sleep", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    parser.add_argument("--protocol", choices=sorted(VARIANTS), default="v4.32.0")
    # the real REPL's `main` ignores its arguments: so do we, beyond the stand-in's own
    return parser.parse_known_args(argv)[0]


def _imported_modules(lines: list[str]) -> tuple[str, ...]:
    """The modules a header imports, as Lean reads `public? meta? import all? M` (kept free of
    proofgate's own imports: the stand-in must start as fast as a process can)."""
    modules = []
    for line in lines:
        words = line.split()
        while words[:1] in (["public"], ["meta"]):
            words = words[1:]
        if words[:1] == ["import"]:
            rest = [w for w in words[1:] if w != "all"]
            if rest:
                modules.append(rest[0])
    return tuple(modules)


def main(argv: list[str] | None = None) -> None:
    global _TAG, _PROTOCOL, _UNFLUSHED
    args = _parse_args(argv)
    _TAG = args.tag
    _PROTOCOL = args.protocol
    if not VARIANTS[_PROTOCOL][0]:  # a version that never flushes its replies
        _UNFLUSHED = UnflushedStdout()
    if args.child_sleep is not None:
        time.sleep(args.child_sleep)
        return
    time.sleep(args.start_seconds)
    if args.replay is not None:
        expected = args.expected or args.replay.with_name(
            args.replay.name[: -len(".in")] + ".expected.out"
        )
        _replay(args.replay, expected)
        return
    lognormal = None
    if args.check_seconds_lognormal:
        mu, sigma = (float(part) for part in args.check_seconds_lognormal.split(","))
        lognormal = (mu, sigma)
    repl = SimulatedRepl(args.import_seconds, lognormal, random.Random(args.seed))
    while (query := read_query(sys.stdin.buffer)) != "":
        if query.startswith(("#", "--")):
            continue
        repl.answer(*_classify(query))


if __name__ == "__main__":
    main()
