"""`proofgate.dojo.Dojo` on the stand-in stack: the adapter's logic with stand-in types named and
built as LeanDojo's, and the same with LeanDojo's own types where `lean_dojo` imports offline.

A `ProofFinished` must only come after the full check said `proved`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import structlog

from proofgate.api.app import create_app
from proofgate.dojo import Dojo, DojoTypes, cut_at_proof, statement_from_theorem
from proofgate.exceptions import ConfigError
from tests.conftest import TRANSCRIPTS_DIR
from tests.sessions.transcripts import on_the_header_env
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

STATEMENT = """import Mathlib

theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by
  -- standin: goal p q : Prop\\nhp : p\\nhq : q\\n⊢ p ∧ q
  -- standin: sorry
  sorry
"""
SPLIT = "constructor\n  -- standin: goal ⊢ p\n  -- standin: goal ⊢ q"


# Stand-ins with LeanDojo's names, fields and checks (lean_dojo/interaction/dojo.py).
@dataclass(frozen=True)
class TacticState:
    pp: str
    id: int = field(compare=False)
    message: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        blocks = [goal for goal in self.pp.split("\n\n") if "⊢" in goal]
        assert len(blocks) == self.pp.count("⊢")


@dataclass(frozen=True)
class ProofFinished:
    tactic_state_id: int
    message: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ProofGivenUp:
    pass


@dataclass(frozen=True)
class LeanError:
    error: str


class DojoCrashError(Exception):
    pass


class DojoTacticTimeoutError(Exception):
    pass


class DojoInitError(Exception):
    pass


STANDIN_TYPES = DojoTypes(
    TacticState,
    ProofFinished,
    LeanError,
    ProofGivenUp,
    DojoCrashError,
    DojoTacticTimeoutError,
    DojoInitError,
)


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    return make_stack(tmp_path, cache_enabled=False)


def _dojo(
    stack: Stack, entry: Any = STATEMENT, *options: str, types: DojoTypes | None = STANDIN_TYPES
) -> Dojo:
    return Dojo(entry, timeout=30, service=stack.service(*options), types=types)


# --- the adapter's logic -------------------------------------------------------------------------


def test_a_prover_loop_reaches_proof_finished_only_through_the_full_check(stack: Stack) -> None:
    with _dojo(stack) as (dojo, init):
        assert isinstance(init, TacticState) and init.id == 0
        assert init.pp == "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
        split = dojo.run_tac(init, SPLIT)
        assert isinstance(split, TacticState) and split.id == 1 and split.pp == "⊢ p\n\n⊢ q"
        left = dojo.run_tac(split, "exact hp\n  -- standin: goal ⊢ q")
        assert isinstance(left, TacticState) and left.pp == "⊢ q"
        assert not dojo.is_successful
        done = dojo.run_tac(left, "exact hq")
        assert done == ProofFinished(3) and dojo.is_successful


def test_errors_refusals_and_give_ups_are_leandojos_results(stack: Stack) -> None:
    with _dojo(stack) as (dojo, init):
        error = dojo.run_tac(init, "exact x -- standin: error unknown identifier 'x'")
        assert error == LeanError("unknown identifier 'x'")
        refused = dojo.run_tac(init, "exact hp\n#exit")
        assert isinstance(refused, LeanError) and "column 0" in refused.error
        assert dojo.run_tac(init, "sorry -- standin: give-up") == ProofGivenUp()
        with pytest.raises(RuntimeError, match="invalid state"):
            dojo.run_tac(ProofGivenUp(), "rfl")
        again = dojo.run_tac(init, "exact ⟨hp, hq⟩")  # the tree goes on after all that
        assert isinstance(again, ProofFinished)


@pytest.mark.parametrize(
    "scenario",
    [{"axioms": ["propext", "sorryAx"]}, {"report": {"outcome": "type_mismatch", "detail": "x"}}],
)
def test_no_goals_in_tactic_mode_is_not_a_proof_when_the_check_disagrees(
    stack: Stack, scenario: dict[str, object]
) -> None:
    stack.scenario(**scenario)
    with _dojo(stack) as (dojo, init):
        result = dojo.run_tac(init, "exact ⟨hp, hq⟩")
        assert isinstance(result, LeanError) and "full check says" in result.error
        assert not dojo.is_successful


def test_a_tactic_timeout_raises_leandojos_timeout_and_the_dojo_goes_on(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, cache_enabled=False, request_timeout=1.0)
    with _dojo(stack) as (dojo, init):
        with pytest.raises(DojoTacticTimeoutError):
            dojo.run_tac(init, "skip -- standin: hang")
        assert dojo.has_timedout
        assert isinstance(dojo.run_tac(init, "exact ⟨hp, hq⟩"), ProofFinished)


def test_a_dojo_that_cannot_open_raises_dojo_init_error(stack: Stack) -> None:
    elsewhere = (
        "import Mathlib\n-- standin: sorry\ntheorem t : True := by sorry"  # not the target's
    )
    with pytest.raises(DojoInitError, match="no open goal"):
        with _dojo(stack, elsewhere):
            pass
    with pytest.raises(DojoInitError, match="tactic mode only"):
        Dojo((object(), Path("A.lean"), 3), types=STANDIN_TYPES)


@pytest.fixture
def _logs_to_stderr() -> Iterator[None]:
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    yield
    structlog.reset_defaults()


@pytest.mark.usefixtures("_logs_to_stderr")
def test_a_dojo_on_a_proofgate_server(stack: Stack) -> None:
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        dojo = Dojo(STATEMENT, timeout=30, server=url, types=STANDIN_TYPES)
        with dojo as (_, init):
            assert isinstance(dojo.run_tac(init, "exact ⟨hp, hq⟩"), ProofFinished)
            session = dojo.session_id
        assert session is not None and dojo.session_id is None  # closed on exit


# --- theorems from a local repository ------------------------------------------------------------


def test_cut_at_proof_finds_the_theorem_under_its_full_name() -> None:
    text = (
        "import Mathlib\nnamespace A\nsection\n"
        "theorem foo (x : Nat := 2) : x = x := by\n  rfl\nend\nend A\n"
        "theorem _root_.B.bar : True := trivial\n"
        "theorem eqns : Nat → Nat\n  | _ => 0\n"
    )
    assert cut_at_proof(text, "A.foo").endswith("theorem foo (x : Nat := 2) : x = x := by sorry")
    assert cut_at_proof(text, "B.bar").endswith("theorem _root_.B.bar : True := by sorry")
    with pytest.raises(ConfigError, match="proved with `:=`"):
        cut_at_proof(text, "eqns")
    with pytest.raises(ConfigError, match="no theorem"):
        cut_at_proof(text, "A.missing")


def _repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    (repo / "Foo.lean").write_text("theorem foo (x : Int) : x = x := by\n  rfl\n")
    return repo


def _replay_stack(tmp_path: Path) -> tuple[Stack, Path]:
    transcript = TRANSCRIPTS_DIR / "core" / "by_cases.in"
    if not transcript.exists():
        pytest.skip(f"shared REPL transcripts not found at {TRANSCRIPTS_DIR}")
    stack = make_stack(tmp_path, cache_enabled=False, prewarm_headers=[])
    return stack, on_the_header_env(transcript, tmp_path / "transcripts")


def _by_cases(dojo: Dojo, init: Any, types: DojoTypes) -> None:
    """The recorded by_cases session, step by step, as a prover would drive it."""
    assert init.pp == "x : Int\n⊢ x = x"
    cases = dojo.run_tac(init, "by_cases h : x < 0")
    assert isinstance(cases, types.TacticState) and cases.pp.count("⊢") == 2
    pos = dojo.run_tac(cases, "case pos => rfl")
    assert isinstance(pos, types.TacticState) and pos.pp.startswith("case neg")
    assert isinstance(dojo.run_tac(cases, "all_goals sorry"), types.ProofGivenUp)


def test_a_theorem_of_a_local_repository_opens_without_tracing(tmp_path: Path) -> None:
    stack, transcript = _replay_stack(tmp_path)
    repo = _repository(tmp_path)
    theorem = SimpleNamespace(
        repo=SimpleNamespace(url=str(repo)), file_path="Foo.lean", full_name="foo"
    )
    assert statement_from_theorem(theorem) == "theorem foo (x : Int) : x = x := by sorry"
    with _dojo(stack, theorem, "--replay", str(transcript)) as (dojo, init):
        _by_cases(dojo, init, STANDIN_TYPES)
    remote = SimpleNamespace(
        repo=SimpleNamespace(url="https://example.invalid/x"), file_path="A.lean", full_name="a"
    )
    with pytest.raises(ConfigError, match="not on this machine"):
        statement_from_theorem(remote)


# --- LeanDojo's own types --------------------------------------------------------------------------


def test_the_default_types_are_leandojos_own(lean_dojo: Any, stack: Stack) -> None:
    types = DojoTypes.from_lean_dojo()
    assert types.TacticState is lean_dojo.TacticState and types.LeanError is lean_dojo.LeanError
    with _dojo(stack, types=None) as (dojo, init):
        assert isinstance(init, lean_dojo.TacticState) and init.num_goals == 1
        split = dojo.run_tac(init, SPLIT)
        assert isinstance(split, lean_dojo.TacticState) and split.num_goals == 2
        assert [g.conclusion for g in split.goals] == ["p", "q"]
        assert dojo.run_tac(init, "exact y -- standin: error nope") == lean_dojo.LeanError("nope")
        finished = dojo.run_tac(init, "exact ⟨hp, hq⟩")
        assert isinstance(finished, lean_dojo.ProofFinished) and dojo.is_successful


def test_a_leandojo_theorem_from_a_local_git_repository(lean_dojo: Any, tmp_path: Path) -> None:
    stack, transcript = _replay_stack(tmp_path)
    repo = _repository(tmp_path)
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "init"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    theorem = lean_dojo.Theorem(lean_dojo.LeanGitRepo.from_path(repo), "Foo.lean", "foo")
    with _dojo(stack, theorem, "--replay", str(transcript), types=None) as (dojo, init):
        _by_cases(dojo, init, DojoTypes.from_lean_dojo())


# --- what LeanDojo users look for (issue 30, peers' clients) --------------------------------------


def test_run_cmd_says_it_is_not_offered_and_what_to_use(stack: Stack) -> None:
    dojo = _dojo(stack)
    with pytest.raises(NotImplementedError, match=r"tactic mode only \(run_tac\).*proofgate check"):
        dojo.run_cmd(None, "#check Nat")


def test_importing_the_adapter_turns_leandojos_remote_cache_off() -> None:
    code = "import os, proofgate.dojo; print(os.environ['DISABLE_REMOTE_CACHE'])"
    environ = {k: v for k, v in os.environ.items() if k != "DISABLE_REMOTE_CACHE"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=60
    )
    assert done.stdout.strip() == "1", done.stderr


# --- the stand-in answers a literal `by sorry` as Lean's REPL does (the README's example) -------


def _standin_replies(*commands: str) -> list[str]:
    from proofgate.bench.lean_json import lean_json_pretty
    from proofgate.bench.simulated_repl import SCRIPT

    stdin = "".join(lean_json_pretty({"cmd": command}) + "\n\n" for command in commands)
    done = subprocess.run(
        [sys.executable, SCRIPT], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return [reply for reply in done.stdout.split("\n\n") if reply.strip()]


@pytest.mark.parametrize(
    "name", ["by_cases", "sorry_hypotheses", "tactic_sorry", "tactic_mode_sorry", "readme"]
)
def test_a_literal_by_sorry_is_answered_as_the_recorded_repl_did(name: str) -> None:
    transcript = TRANSCRIPTS_DIR / "core" / f"{name}.in"
    if not transcript.exists():
        pytest.skip(f"shared REPL transcripts not found at {TRANSCRIPTS_DIR}")
    from proofgate.bench.simulated_repl import split_transcript_commands

    command = json.loads(split_transcript_commands(transcript.read_text("utf-8"))[0])["cmd"]
    recorded = transcript.with_name(f"{name}.expected.out").read_text("utf-8").split("\n\n")[0]
    assert _standin_replies(command) == [recorded]  # byte for byte


def test_the_readme_statement_gets_its_goal_and_other_sorries_stay_unseen() -> None:
    readme, grouped, term, longer, marked = _standin_replies(
        "theorem t (p : Prop) (hp : p) : p := by sorry",
        "theorem g {α : Type} (a b : α) [inst : Inhabited α] [DecidableEq α] :\n    a = b := by\n  sorry",
        "theorem t : True := sorry",
        "theorem t : True := by\n  skip\n  sorry",
        "theorem t : True := by sorry -- standin: sorry",
    )
    first = json.loads(readme)
    assert first["sorries"] == [
        {
            "proofState": 0,
            "pos": {"line": 1, "column": 40},
            "goal": "p : Prop\nhp : p\n⊢ p",
            "endPos": {"line": 1, "column": 45},
        }
    ]
    assert first["messages"] == [
        {
            "severity": "warning",
            "pos": {"line": 1, "column": 8},
            "endPos": {"line": 1, "column": 9},
            "data": "declaration uses `sorry`",
        }
    ]
    (sorry,) = json.loads(grouped)["sorries"]
    assert sorry["proofState"] == 1 and sorry["pos"] == {"line": 3, "column": 2}
    assert sorry["goal"] == "α : Type\na b : α\ninst : Inhabited α\ninst✝ : DecidableEq α\n⊢ a = b"
    assert "sorries" not in json.loads(term) and "sorries" not in json.loads(longer)
    assert len(json.loads(marked)["sorries"]) == 1  # the marker's, not also the literal one's
