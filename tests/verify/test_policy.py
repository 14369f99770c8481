"""The policy pass: every rule, both profiles, the adversarial cases, and what it never touches."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from proofgate import service as service_module
from proofgate.config import SOURCE_ROOT, Settings
from proofgate.environments.registry import Environment
from proofgate.exceptions import SubmissionError
from proofgate.models import Submission, TriageRequest, VerdictStatus
from proofgate.models.sessions import OpenSessionRequest
from proofgate.sessions import manager as session_manager
from proofgate.triage import runner as triage_runner
from proofgate.verify.assemble import assemble
from proofgate.verify.policy import (
    DEFAULT_IMPORT_ROOTS,
    PolicyConfig,
    check_source,
    check_submission,
)
from proofgate.verify.rules import HASH_ALLOWED, HASH_DENIED, RULES
from tests.support.adversarial import CLASSES, FIELDS, OWN_CASES, load_cases
from tests.support.stack import make_stack, running_service

STRICT = PolicyConfig()
PERMISSIVE = PolicyConfig(profile="permissive")
HEADER = "import Mathlib\nopen Real Nat Topology\n\n"


def rules(text: str, config: PolicyConfig = STRICT) -> list[str]:
    return [v.rule for v in check_source(text, config).violations]


# --- the adversarial cases ---------------------------------------------------------------------

#: The rule each of the project's own policy-stage cases must be refused by (strict profile).
OWN_EXPECTED_RULE = {
    "own-decide-native": "native-code",
    "own-ofreducebool": "native-code",
    "own-bv-decide": "native-code",
    "own-kernel-skip-global": "debug-option",
    "own-kernel-quoted-option": "debug-option",
    "own-kernel-run-tac": "run-code",
    "own-kernel-adddecl": "run-code",
    "own-checker-exit-after-comment": "exit",
    "own-checker-eval-glued": "eval",
    "own-checker-bidi": "bidi-control",
    "own-checker-malformed-char": "malformed-literal",
    "own-checker-initialize-stdout": "initialize",
    "own-checker-guard-msgs-eval": "eval",
    "own-host-run-cmd-shell": "run-code",
    "own-host-include-str": "host-file",
    "own-host-aesop-default-builder": "aesop-tactic-rule",
    "own-host-second-attribute": "code-attribute",
    "own-host-trace-interpolation": "run-code",
    "own-checker-unclosed-string": "malformed-literal",
    "own-resource-count-heartbeats": "heartbeats",
    "own-checker-token-quote": "malformed-literal",
    "own-checker-notation-comment": "notation-token",
    "own-host-extern": "code-attribute",
    "own-host-aesop-tactic": "aesop-tactic-rule",
    "own-host-polyrith": "network",
    "own-host-by-elab": "run-code",
    "own-host-leansearch": "network",
    "own-resource-synth-heartbeats-zero": "heartbeats",
    "own-resource-heartbeats-above-cap": "heartbeats",
    "own-resource-heartbeats-hex": "heartbeats",
    "own-resource-rec-depth": "rec-depth",
    "own-checker-verso-doc": "verso-docs",
    "own-host-quoted-discharger": "meta-code",
    "own-host-search-tactic": "network",
    "own-host-backtrack-proc": "meta-code",
    "own-host-config-world-token": "meta-code",
}


def _judge(case: dict) -> None:
    """Policy-stage cases are refused with a named rule; accepted cases and statements never are."""
    result = check_source(case["code"], STRICT)
    if case["stage"] == "policy":
        assert not result.ok, f"{case['id']} ({case['why']}) was not refused"
        assert all(v.rule in RULES for v in result.violations)
        assert all(v.line >= 1 and v.column >= 0 and v.message for v in result.violations)
    if case["expect"] == "accept":
        assert result.ok, f"{case['id']} refused: {result.violations}"
        assert check_source(case["code"], PERMISSIVE).ok
    if case["statement"] is not None:
        assert check_source(case["statement"], STRICT).ok, f"{case['id']}: statement refused"


def test_shared_cases(shared_dir: Path) -> None:
    cases = load_cases(shared_dir / "adversarial" / "cases.jsonl")
    assert any(c["stage"] == "policy" for c in cases)
    for case in cases:
        _judge(case)


def test_shared_policy_cases_are_refused_in_the_permissive_profile_too(shared_dir: Path) -> None:
    for case in load_cases(shared_dir / "adversarial" / "cases.jsonl"):
        if case["stage"] == "policy":
            assert not check_source(case["code"], PERMISSIVE).ok, case["id"]


OWN = load_cases(OWN_CASES)


@pytest.mark.parametrize("case", OWN, ids=[c["id"] for c in OWN])
def test_own_case(case: dict) -> None:
    _judge(case)
    if case["stage"] == "policy":
        assert OWN_EXPECTED_RULE[case["id"]] in rules(case["code"])


def test_own_cases_cover_every_class_with_several_each(shared_dir: Path) -> None:
    ids = [c["id"] for c in OWN]
    assert len(ids) == len(set(ids))
    for case in OWN:
        assert set(case) == FIELDS, case["id"]
        assert case["category"] in CLASSES and case["expect"] in ("accept", "reject")
        assert case["stage"] in ("policy", "audit", "sandbox")
        assert (case["expect"] == "accept") == (case["category"] == "honest")
    for name in CLASSES:
        assert sum(c["category"] == name for c in OWN) >= 3, name
    assert {c["id"] for c in OWN if c["stage"] == "policy"} == set(OWN_EXPECTED_RULE)
    shared = load_cases(shared_dir / "adversarial" / "cases.jsonl")
    assert not {c["id"] for c in shared} & set(ids)
    assert not {c["code"] for c in shared} & {c["code"] for c in OWN}


# --- each rule ---------------------------------------------------------------------------------

REFUSED = [
    ("import-not-allowed", "import REPL.Main\n"),
    ("import-not-allowed", "import Mathlib\nimport «Evil».Stuff\n"),
    ("prelude", "prelude\nimport Init.Core\n"),
    ("eval", "#eval 1 + 1\n"),
    ("eval", "#eval! 1\n"),
    ("eval", "example : eval% (2 + 2) = 4 := rfl\n"),
    ("exit", "theorem x : True := trivial\n#exit\n"),
    ("hash-command", "#guard 1 = 1\n"),
    ("hash-command", "#test ∀ n : ℕ, n = n\n"),
    ("hash-command", "#some_new_command\n"),
    ("hash-command", "open Nat in #frobnicate x\n"),
    ("hash-command", "theorem x : True := trivial\n#frobnicate\n"),
    ("network", "#loogle Nat.add_comm\n"),
    ("network", "example (x : ℚ) (h : x = 1) : x = 1 := by polyrith\n"),
    ("host-file", 'def s := include_str "/etc/passwd"\n'),
    ("run-code", "run_cmd pure ()\n"),
    ("run-code", "run_meta pure ()\n"),
    ("run-code", "run_elab pure ()\n"),
    ("run-code", "example : True := by run_tac pure ()\n"),
    ("syntax-extension", 'syntax "foo" : term\n'),
    ("syntax-extension", "macro_rules | `(foo) => `(1)\n"),
    ("syntax-extension", 'local macro "easy" : tactic => `(tactic| sorry)\n'),
    ("syntax-extension", "elab_rules : term | `(foo) => pure (Lean.mkNatLit 1)\n"),
    ("syntax-extension", "declare_syntax_cat mycat\n"),
    ("simproc", "simproc reduceFoo (foo _) := fun e => pure .continue\n"),
    ("simproc", "dsimproc_decl d (foo _) := fun e => pure .continue\n"),
    ("code-attribute", '@[extern "c_fn"] opaque f : Nat → Nat\n'),
    ("code-attribute", "@[simp, implemented_by g] def f : Nat := 0\n"),
    ("code-attribute", "@[local csimp] theorem a : @f = @g := rfl\n"),
    ("code-attribute", "attribute [implemented_by g] f\n"),
    ("code-attribute", "@[init initFn] opaque x : Nat\n"),
    ("code-attribute", "@[builtin_command_elab foo] def e : Nat := 0\n"),
    ("code-attribute", "@[command_elab foo] def e : Nat := 0\n"),
    ("code-attribute", "@[term_parser] def p := 0\n"),
    ("code-attribute", "@[norm_num _ + _] def ext := 0\n"),
    ("code-attribute", "@[aesop safe tactic] def t := 0\n"),
    ("aesop-tactic-rule", "example : True := by aesop (add safe tactic myTac)\n"),
    ("initialize", "initialize counter : IO.Ref Nat ← IO.mkRef 0\n"),
    ("initialize", "builtin_initialize pure ()\n"),
    ("declare-command", "register_simp_attr my_simps\n"),
    ("declare-command", "declare_aesop_rule_sets [Foo]\n"),
    ("unsafe", "unsafe def f : Nat := 0\n"),
    ("unsafe", "def g : Nat := unsafe (unsafeCast 0)\n"),
    ("unsafe", "example : True := by aesop (add safe apply True.intro)\nunsafe def h : Nat := 0\n"),
    ("partial", "partial def loop (n : Nat) : Nat := loop n\n"),
    ("native-code", "example : 2 + 2 = 4 := by native_decide\n"),
    ("native-code", "example : 2 + 2 = 4 := by decide +native\n"),
    ("native-code", "example : 2 + 2 = 4 := by decide (config := { native := true })\n"),
    ("native-code", "#check Lean.ofReduceBool\n"),
    ("native-code", "#check @Lean.trustCompiler\n"),
    ("debug-option", "set_option debug.skipKernelTC true in\ntheorem x : True := trivial\n"),
    ("debug-option", "set_option «debug».«skipKernelTC» true\n"),
    ("trace-option", "set_option trace.Meta.Tactic.simp true in\nexample : True := by simp\n"),
    ("heartbeats", "set_option maxHeartbeats 0 in\nexample : True := trivial\n"),
    ("heartbeats", "set_option maxHeartbeats 1000001\n"),
    ("heartbeats", "set_option synthInstance.maxHeartbeats 0\n"),
    ("heartbeats", "set_option maxHeartbeats true\n"),
    ("heartbeats", "example : True := by\n  set_option maxHeartbeats 0 in\n  trivial\n"),
    ("rec-depth", "set_option maxRecDepth 10000000\n"),
    ("malformed-literal", 'def c := \'"#eval IO.println 1"\n'),
    ("malformed-literal", 'def s := "\\q"\n'),
    ("bidi-control", "-- comment \u202e hidden\ntheorem x : True := trivial\n"),
    ("bidi-control", 'def s := "abc\u2067"\n'),
    ("control-character", "theorem x : True := trivial\x00\n"),
    ("control-character", "theorem x : True :=\u2028trivial\n"),
    ("invisible-character", "theorem x :\u200bTrue := trivial\n"),
    ("invisible-character", "theorem x :\u00a0True := trivial\n"),
    ("confusable-identifier", "theorem t\u03bf : True := trivial\n"),
    ("confusable-identifier", "def \u212aelvin := 1\n"),
    # A second attribute list or aesop clause is read like the first.
    (
        "code-attribute",
        "@[simp] theorem p : True := trivial\n@[implemented_by g] def f : Nat := 0\n",
    ),
    (
        "aesop-tactic-rule",
        "example : True := by aesop\nexample : True := by aesop (add safe tactic t)\n",
    ),
    # Without a builder, Aesop tries a rule as a `tactic` rule first.
    ("aesop-tactic-rule", "@[aesop safe] def t : TacticM Unit := pure ()\n"),
    ("aesop-tactic-rule", "@[aesop norm 5] private abbrev t : TacticM Unit := pure ()\n"),
    ("aesop-tactic-rule", "def t : TacticM Unit := pure ()\nattribute [aesop safe] t\n"),
    (
        "aesop-tactic-rule",
        "def t : TacticM Unit := pure ()\nexample : True := by aesop (add safe t)\n",
    ),
    (
        "aesop-tactic-rule",
        "example : True := by aesop (add unsafe 50% (show TacticM Unit from t))\n",
    ),
    ("heartbeats", "#count_heartbeats in\ntheorem x : True := trivial\n"),
    ("heartbeats", "count_heartbeats in\ntheorem x : True := trivial\n"),
    ("code-attribute", "@[gcongr_forward] def ext : Nat := 0\n"),
    ("code-attribute", "@[missing_docs_handler foo] def h : Nat := 0\n"),
    ("code-attribute", "@[unused_variables_ignore_fn] def h : Nat := 0\n"),
    ("native-code", "#check Lean.\u00abofReduceBool\u00bb\n"),
    ("native-code", "example : 2 + 2 = 4 := by decide +\u00abnative\u00bb\n"),
    # Literals whose end Lean may see elsewhere: what follows must not hide from the scan.
    ("malformed-literal", '#check foo! "{/-"\n#eval IO.println 1\n-- -/}"\n'),
    ("malformed-literal", 'example := \'x"\n#eval IO.println 1 --"\n'),
    ("malformed-literal", "example := 'x--#eval IO.println 1\n"),
    ("malformed-literal", "example := 'x/- #eval IO.println 1 -- -/\n"),
    ("malformed-literal", 'example := "\n#eval IO.println 1\n'),
    ("malformed-literal", 'example := r#"\n#eval IO.println 1\n'),
    ("malformed-literal", "example := \u00ab\n#eval IO.println 1\n"),
    ("run-code", 'def f : CoreM Unit := do\n  trace[Meta.debug] "{(by_elab pure ())}"\n'),
    # Code Lean runs while elaborating (a tactic's options are evaluated), tokens Lean reads longer
    # than the lexer (`\\/`, `//`, `×'`), names of meta code and of IO.
    (
        "meta-code",
        "example (x : \u211a) (h : x < 1) : x < 2 := by\n"
        '  linarith (config := { discharger := do discard <| Lean.Lsp.Ipc.runWith "sh" #[] (pure ()) })\n',
    ),
    ("meta-code", "def t : Lean.Elab.Tactic.TacticM Unit := pure ()\n"),
    ("host-io", "def p := System.FilePath.pathExists\n"),
    ("malformed-literal", "example : Type := Nat \u00d7''\"'\n#eval IO.println 1\n--\"\n"),
    ("malformed-literal", "example : Nat := ''\"'\n#eval 1\n--\"\n"),
    (
        "meta-code",
        "example (x : \u211a) (h : x < 1) : x < 2 := by\n  linarith (config := { discharger := do ring1 })\n",
    ),
    ("meta-code", "example (x : \u211a) (h : x < 1) : x < 2 := by\n  linarith (oracle := o)\n"),
    ("malformed-literal", "theorem t : True \\/- False\n#eval (1 : Nat)\n-/ := Or.inl trivial\n"),
    ("malformed-literal", "def S := { x : Nat //- x = 1\n#exit\n-/ x = 2 }\n"),
    ("malformed-literal", 'def \u00e9r := 1\n#check \u00e9r#"x"\n#exit\n"#\n'),
    (
        "code-attribute",
        "@[to_additive addF (attr := implemented_by g)] def f (n : Nat) : Nat := n\n",
    ),
    ("code-attribute", "@[notation_class * HAdd.hAdd f] class C (\u03b1 : Type)\n"),
    ("syntax-extension", 'binder_predicate x " \u227a " y:term => `($x < $y)\n'),
    ("notation-token", 'infixl:65 " +/" => Nat.add\n'),
    ("notation-token", 'notation "a-" => (1 : Nat)\n'),
    ("unsafe", "example : True := by\n  simp (maxSteps := unsafeBaseIO (pure 100000))\n"),
    ("unsafe", "example : True := by decide (kernel := (unsafeCast (0 : Nat) : Bool))\n"),
    ("unsafe", "def p := ptrAddrUnsafe 0\n"),
    (
        "host-io",
        "example : True := by\n  omega (config := { splitDisjunctions := (IO.getNumHeartbeats ()).1 })\n",
    ),
    ("host-io", 'def t := Lake.captureProc? { cmd := "sh" }\n'),
    ("host-io", "open System in\ndef d := FilePath.readDir\n"),
    (
        "raw-text-syntax",
        'open scoped ProofWidgets.Jsx\ndef a := <b>"</b>\n#eval 1\ndef c := <b>"</b>\n',
    ),
    ("notation-token", 'notation "{x}--" => (0 : Nat)\n'),
    ("notation-token", 'notation3 "S" x:(scoped p => p) "--" => x\n'),
    ("notation-token", "notation " + '"+" ' * 4100 + '"x" => 5\n'),
    (
        "aesop-tactic-rule",
        "def t : TacticM Unit := pure ()\nexample : True := by restrict_tac (config := {}) (add safe t)\n",
    ),
    # A second round: what the first round's fixes left open.
    ("malformed-literal", 'example : Type := Nat \u00d7\'"\'"\n#exit\n-- "\n'),
    (
        "notation-token",
        'notation "\u229e/-" => (0 : Nat)\nexample : Nat := \u229e/-\n#exit\n-- -/\n',
    ),
    ("notation-token", 'infixl:65 " +-- " => HAdd.hAdd\n'),
    ("aesop-tactic-rule", "def t : TacticM Unit := pure ()\nadd_aesop_rules safe t\n"),
    ("aesop-tactic-rule", "def t : TacticM Unit := pure ()\nattribute [aesop safe]\nt\n"),
    (
        "aesop-tactic-rule",
        "def t : TacticM Unit := pure ()\nexample : True := by arith_mult (add safe t)\n",
    ),
    (
        "aesop-tactic-rule",
        "def f : Nat := 0\nwhere t : TacticM Unit := pure ()\nattribute [aesop safe] f.t\n",
    ),
    ("aesop-tactic-rule", "example : True := by arith_mult (add safe tactic t)\n"),
    ("eval", "example (f : Nat \u2192 Nat) : f = f := by plausible\n"),
    ("eval", "test_extern Nat.add 1 2\n"),
    (
        "native-code",
        "example : 2 + 2 = 4 := by decide (config := \u27e8false, true, true, false\u27e9)\n",
    ),
    ("native-code", "example : 2 + 2 = 4 := by decide (config := { c with })\n"),
    ("run-code", 'def f : CoreM Unit := do\n  throwErrorAt ref "{(by_elab pure ())}"\n'),
    # A sixth round: quoted option names, Lean's API by its namespace, Verso doc comments,
    # Mathlib's dependencies' `#` commands, `#` words at the start of an indented line.
    (
        "meta-code",
        "example (a b : \u211a) (h : a < b) : a \u2264 b := by\n"
        "  linarith (\u00abdischarger\u00bb := pure ())\n",
    ),
    (
        "meta-code",
        'example : True := by\n  simp (maxSteps := (Lean.Elab.runFrontend "" {} "x" `x).toNat)\n',
    ),
    ("meta-code", "open Lean in\nexample : True := by simp [importModules]\n"),
    ("meta-code", "example : Nat := _root_.Lean.loadDynlib.toNat\n"),
    ("meta-code", "example : True := by\n  simp (maxSteps := Plausible.Testable.check.toNat)\n"),
    (
        "verso-docs",
        "set_option doc.verso true in\n/--\n```lean\n#eval 1\n```\n-/\ntheorem t : True := trivial\n",
    ),
    ("verso-docs", "set_option \u00abdoc\u00bb.verso.module true\n"),
    ("network", "example : True := by\n  #search\n  trivial\n"),
    ("network", 'example : True := #search "the goal?"\n'),
    ("hash-command", "theorem t : True := trivial\n  #import_diff Mathlib Mathlib.Tactic\n"),
    ("hash-command", "example : True := by\n  trivial\n  #frobnicate\n"),
    ("host-io", "example : Nat := LeanSearchClient.queryNum.length\n"),
    ("host-io", "example : Nat := ImportGraph.findOLean.length\n"),
    (
        "native-code",
        "example : 2 + 2 = 4 := by decide (\u00abconfig\u00bb := \u27e8false, true\u27e9)\n",
    ),
    # A seventh round: configuration fields of type `MetaM`/`TacticM` (Lean's `BacktrackConfig`,
    # Mathlib's `LinarithConfig`) reached by a dotted path or by position, IO without its name
    # (`timeit` with a leading-dot name), `Std`'s libuv bindings, heartbeat fields of tactics.
    (
        "meta-code",
        "theorem t : 2 + 2 = 4 := by\n  solve_by_elim (proc := fun _ _ => do\n"
        '    let _ \u2190 timeit "" (.Process.output { cmd := "sh" })\n    pure none) [rfl]\n',
    ),
    (
        "meta-code",
        "example : True := by apply_rules (config := { suspend := fun _ => pure true })\n",
    ),
    (
        "meta-code",
        "example : True := by\n  linarith (oracle.produceCertificate := fun _ _ => pure {})\n",
    ),
    (
        "meta-code",
        "example (a b : \u211a) (h : a < b) : a \u2264 b := by\n"
        "  linarith (config := \u27e8pure (), true, .reducible\u27e9)\n",
    ),
    (
        "meta-code",
        "example : True := by\n  solve_by_elim (config := { toBacktrackConfig := \u27e8\u27e9 })\n",
    ),
    ("meta-code", "example : True := by nlinarith! (config := { c with })\n"),
    ("host-io", 'example : Nat := (timeit "" (pure 1 : EStateM Unit Unit Nat)).run\n'),
    ("host-io", "example : Nat := Std.Internal.UV.System.osEnviron.length\n"),
    ("heartbeats", "example : True := by grind (canonHeartbeats := 0)\n"),
    ("heartbeats", "example : True := by grind (canonHeartbeats := 100000000000)\n"),
    # An eighth round: any tactic's options are compiled and run (on Lean before v4.23,
    # IO.RealWorld is Unit, so a pure term can run an IO action); names under `_root_` or an
    # opened `Std`; a heartbeat field computed by arithmetic.
    (
        "meta-code",
        'example : True := by\n  simp (config := { maxSteps := match getAllFiles false "/" () '
        "with | .ok f _ => f.size | .error _ _ => 1 })\n",
    ),
    ("meta-code", 'example : True := by\n  simp (maxSteps := (getAllFiles false "/" ()).size)\n'),
    ("meta-code", "example : True := by decide (kernel := (fun _ => true) ())\n"),
    ("host-io", "example : Nat := (_root_.Lake.captureProc? {} ()).size\n"),
    ("host-io", 'example : Nat := (_root_.System.FilePath.readDir \u27e8"/"\u27e9 ()).size\n'),
    ("host-io", "open Std in\nopen Internal.UV.System in\nexample : Nat := (osEnviron ()).size\n"),
    (
        "host-io",
        "namespace Std.Foo\nexample : Nat := (Internal.UV.System.cwd ()).size\nend Std.Foo\n",
    ),
    ("heartbeats", "example : True := by grind (canonHeartbeats := 1 - 1)\n"),
    ("heartbeats", "example : True := by grind (config := { canonHeartbeats := 1 * 0 })\n"),
]


@pytest.mark.parametrize(
    ("rule", "text"), REFUSED, ids=[f"{r}-{i}" for i, (r, _) in enumerate(REFUSED)]
)
def test_rule_refuses(rule: str, text: str) -> None:
    found = check_source(text, STRICT).violations
    assert rule in [v.rule for v in found], found
    violation = next(v for v in found if v.rule == rule)
    assert violation.message and violation.line >= 1


def test_every_rule_has_a_refusing_example() -> None:
    assert {rule for rule, _ in REFUSED} == set(RULES)


ALLOWED = [
    HEADER + "theorem x (a b : ℕ) : a + b = b + a := by omega\n",
    HEADER + "#check Nat.add_comm\n#print axioms Nat.add_comm\n#reduce 2 + 2\n",
    HEADER + "/-- info: 2 -/\n#guard_msgs in\n#check 2\n",
    HEADER + "open Finset in\ntheorem y (s : Finset ℕ) : #s = s.card := rfl\n",
    HEADER + "example : #[1, 2].size = 2 := rfl\n",
    HEADER + "open Finset\ntheorem z (s : Finset ℕ) :\n    #s = s.card := rfl\n",
    HEADER + "open Finset\ntheorem z (s : Finset ℕ) (h : 0 <\n#s) : True := trivial\n",
    HEADER
    + "set_option maxHeartbeats 400000 in\nset_option maxRecDepth 2000 in\nexample : True := trivial\n",
    HEADER + "set_option maxHeartbeats 1_000_000 in\nexample : True := trivial\n",
    HEADER + "set_option linter.unusedVariables false\nset_option autoImplicit true\n",
    HEADER + "@[simp, norm_cast, elab_as_elim, reducible] theorem w : True := trivial\n",
    HEADER + "attribute [local instance] Classical.propDecidable\n",
    HEADER + "example (f : ℕ → ℕ) (s : Set ℕ) : f ⁻¹' s = f ⁻¹' s := rfl\n",
    HEADER + "example : 'a' ≠ 'b' := by decide\n",
    HEADER + 'def «unsafe name» : ℕ := 1\ndef s : String := s!"{1 + 1} apples"\n',
    HEADER + "theorem α₁ (ι : Type) (ν ρ κ : ℕ) : ν + ρ = ρ + ν := by omega\n",
    HEADER + "example : True := by aesop\nexample : True := by aesop (add safe apply True.intro)\n",
    HEADER
    + "example (a b : ℕ) (h : a < b) : a ≤ b := by\n  aesop (add unsafe 50% apply Nat.le_of_lt)\n",
    HEADER + "@[aesop unsafe 20% apply] theorem w (a : ℕ) : a ≤ a + 1 := by omega\n",
    HEADER + "@[aesop safe] theorem w2 (a : ℕ) : a ≤ a + 1 := by omega\n",
    HEADER + "@[aesop safe (rule_sets := [Foo]) apply] def d (a : ℕ) : a ≤ a := le_rfl\n",
    HEADER + "example (a b : ℕ) (h : a < b) : a ≤ b := by aesop (add safe Nat.le_of_lt)\n",
    HEADER + 'example : "{a} }".length = 5 := by decide\n',
    "import Aesop\n@[aesop safe] theorem w4 : True := trivial\nattribute [-aesop] w4\n",
    HEADER
    + 'notation "\u2016" x "\u2016\u2082" => x + 2\nexample : (1 : \u2115) \u2208 ({1} : Set \u2115) := rfl\n',
    HEADER
    + "example (s : Set \u2115) (f : \u2115 \u2192 \u2115) : f \u207b\u00b9' s = f \u207b\u00b9' s := rfl\n",
    HEADER + "example : 'a'.toNat = 97 := by decide\nexample : ('b', 1).1 = 'b' := rfl\n",
    HEADER
    + "theorem unsafe_looking_name : True := trivial\ntheorem safeUnsafe_x : True := trivial\n",
    HEADER + "example : True := by\n  simp (config := { maxSteps := 100000 })\n",
    HEADER + "@[to_additive (attr := simp) addW] theorem w5 : True := trivial\n",
    # Found by a scan of honest proofs: lemmas under Lean's namespaces (grind? and aesop? print
    # them), names of one's own called System, indexing with a primed proof, a char after `≠`.
    HEADER + "example (n : \u2115) (a : Fin (n+1)) : (a : \u2115) \u2264 n := by\n"
    "  grind only [= Lean.Grind.toInt_fin, Fin.is_le]\n",
    HEADER
    + "example (p : Prop) (h : p) : \u00ac\u00acp := by apply Aesop.BuiltinRules.not_intro; simpa\n",
    HEADER + "theorem LO.System.t : True := trivial\n",
    HEADER + "example (l : List \u2115) (h' : 1 < l.length) : l[1]'h' = l[1] := rfl\n",
    HEADER + "example : 'a'\u2260'b' := by decide\n",
    HEADER + "example (f : \u2115 \u2192 \u2115) (s : Set \u2115) : f '' s = f '' s := rfl\n",
    HEADER + "example (p q : Prop) (hp : p) : p \\/ q := Or.inl hp -- a comment\n",
    HEADER + "example : True := by\n  trivial;-- done\n",
    HEADER + 'notation "‖" x "‖₁" => x + 1\ntheorem v : True := trivial\n',
    HEADER + "theorem u : sorry = sorry := by admit\n",
    HEADER + "axiom cheat : False\n",
    HEADER + "noncomputable section\nopen Classical\nend\n",
    # Card notation first on a line after a word a term follows (Mathlib's calc blocks).
    HEADER + "example (s t : Finset \u2115) (h : s \u2286 t) : True := by\n"
    "  have := calc\n    #s \u2264 #t := Finset.card_le_card h\n  trivial\n",
    HEADER + "set_option maxHeartbeats 400000 in\nset_option linter.style.longLine false\n",
    # Tactic configurations that are data; names that bind, not set, a configuration field.
    HEADER + "example (a b : \u211a) (h : a < b) : a \u2264 b := by\n"
    "  linarith (config := { splitNe := true, transparency := .reducible }) [h]\n",
    HEADER + "example (a : \u211a) : 0 \u2264 a ^ 2 := by nlinarith! [sq_nonneg a]\n",
    HEADER + "example (p : Prop) (h : p) : p := by\n  solve_by_elim (maxDepth := 10) +symm [h]\n",
    HEADER
    + "example (p : Prop) (h : p) : p := by apply_rules (config := { maxDepth := 40 }) [h]\n",
    HEADER + "example : True := by grind (canonHeartbeats := 500)\n",
    HEADER + "example : \u2115 := by\n  let native := 3\n  let oracle := native\n  exact oracle\n",
    HEADER + "example (a b : \u2115) (h : a = b) : a + a = b + a := by rw (occs := .pos [1]) [h]\n",
    HEADER + "example (a b : \u2115) (h : a = b) : a + a = b + a := by rw (occs := [1]) [h]\n",
    HEADER + "example : 2 + 2 = 4 := by decide (config := { kernel := true })\n",
    HEADER + "example (p : Prop) (h : p) : p := by grind (splits := 5) (gen := 4)\n",
    HEADER + "example (n : \u2115) (h\u2081 : n \u2264 2 * n) (h\u2082 : 2 * n \u2264 3 * n) :\n"
    "    n \u2264 3 * n := le_trans (b := 2 * n) h\u2081 h\u2082\n",
]


#: Each bracketed construct the scan reads as a whole, once.
_EARLIER_CONSTRUCTS = (
    "@[simp] theorem p0 : True := trivial\nattribute [simp] p0\n"
    "example : True := by aesop (add safe apply True.intro)\n"
    'def s0 : String := s!"{1}" ++ "{2}"\n'
)


_ANYWHERE = [case for case in REFUSED if case[0] not in ("prelude", "import-not-allowed")]


@pytest.mark.parametrize(
    ("rule", "text"), _ANYWHERE, ids=[f"{r}-{i}" for i, (r, _) in enumerate(_ANYWHERE)]
)
def test_an_earlier_construct_of_the_same_kind_hides_nothing(rule: str, text: str) -> None:
    """The class behind a refusal, not the sample: after one of each bracketed construct the
    scan reads as a whole (attribute lists, aesop clauses, interpolated strings), every refused
    text is refused by the same rule (`prelude` and imports only count at the file's start)."""
    assert rule in rules(_EARLIER_CONSTRUCTS + text)


@pytest.mark.parametrize("text", ALLOWED)
def test_honest_code_is_not_refused(text: str) -> None:
    assert check_source(text, STRICT).violations == ()


# --- profiles ----------------------------------------------------------------------------------


def test_permissive_allows_pure_eval_but_not_io() -> None:
    assert rules(HEADER + "#eval 2 + 2\n", PERMISSIVE) == []
    assert rules(HEADER + "#eval (List.range 5).sum\n", PERMISSIVE) == []
    for io in (
        '#eval IO.println "x"\n',
        "#eval do\n  let x ← pure 1\n  return x\n",
        '#eval (IO.Process.run { cmd := "id" })\n',
        "#evalIO.println 1\n",
    ):
        assert rules(HEADER + io, PERMISSIVE) == ["eval"], io
    # an unsafe function is refused in both profiles, whatever runs it
    assert rules(HEADER + "#eval unsafeBaseIO (pure 1)\n", PERMISSIVE) == ["eval", "unsafe"]


def test_permissive_refuses_a_pure_looking_eval_in_a_file_with_io() -> None:
    text = HEADER + 'def leak : IO Unit := IO.println "x"\n\n#eval leak\n'
    assert rules(text, PERMISSIVE) == ["eval"]


def test_permissive_allows_what_only_strict_refuses() -> None:
    text = HEADER + (
        "partial def loop (n : Nat) : Nat := loop n\n"
        "example : 2 + 2 = 4 := by native_decide\n"
        "set_option trace.Meta.synthInstance true in\nexample : True := trivial\n"
        "theorem t\u03bf : True := trivial\n"
        "#frobnicate\n"
    )
    assert set(rules(text)) == {
        "partial",
        "native-code",
        "trace-option",
        "confusable-identifier",
        "hash-command",
    }
    assert rules(text, PERMISSIVE) == []


def test_permissive_still_refuses_trace_profiler_output() -> None:
    assert rules('set_option trace.profiler.output "/tmp/x" in\n', PERMISSIVE) == ["trace-option"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5000000", "1000000"), ("99999999", "1000000 "), ("0x7fffffff", "1000000   ")],
)
def test_permissive_lowers_heartbeats_keeping_every_column(value: str, expected: str) -> None:
    text = f"set_option maxHeartbeats {value} in theorem x : True := trivial\n"
    result = check_source(text, PERMISSIVE)
    assert result.ok and len(result.code) == len(text)
    assert result.code == text.replace(value, expected)
    (note,) = result.notes
    assert (
        note.rule == "heartbeats"
        and (note.line, note.column) == (1, 25)
        and "1000000" in note.message
    )
    assert rules(text) == ["heartbeats"]  # strict refuses the same text


@settings(max_examples=200, deadline=None)
@given(
    cap=st.integers(min_value=1, max_value=10**15),
    extra=st.integers(min_value=1, max_value=10**18),
    spelling=st.sampled_from(["dec", "hex", "bin", "under"]),
)
def test_a_lowered_cap_always_fits_in_place(cap: int, extra: int, spelling: str) -> None:
    value = cap + extra
    text = {"dec": str(value), "hex": hex(value), "bin": bin(value), "under": f"{value:_}"}[
        spelling
    ]
    line = f"set_option maxHeartbeats {text} in\n"
    result = check_source(line, PolicyConfig(profile="permissive", heartbeat_cap=cap))
    assert result.ok and len(result.code) == len(line)
    assert int(result.code.split()[2].replace("_", ""), 0) == cap


# DeepSeek-Prover V1.5's default header (prover/utils.py, LEAN4_DEFAULT_HEADER).
DEEPSEEK_HEADER = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\n"
    "open BigOperators Real Nat Topology Rat\n\n"
)


def test_permissive_lowers_an_unlimited_heartbeat_option_that_ends_its_line() -> None:
    text = DEEPSEEK_HEADER + "theorem x : True := trivial\n"
    result = check_source(text, PERMISSIVE)
    assert result.ok
    assert result.code == text.replace("maxHeartbeats 0\n", "maxHeartbeats 1000000\n")
    (note,) = result.notes
    assert (note.rule, note.line, note.column) == ("heartbeats", 4, 25)
    assert "lowered to the cap, 1000000" in note.message
    # trailing blanks and a comment move nothing either; the other limit is lowered the same way
    spaced = "set_option synthInstance.maxHeartbeats 0   -- no limit\n"
    assert check_source(spaced, PERMISSIVE).code == spaced.replace(" 0 ", " 1000000 ")
    assert rules(text) == ["heartbeats"]  # strict refuses it


@pytest.mark.parametrize(
    "text",
    [
        "set_option maxHeartbeats 0 in\n",  # `in` would move
        "set_option maxHeartbeats 0 in theorem x : True := trivial\n",
        "example : True := by\n  set_option maxHeartbeats 0 in trivial\n",
    ],
)
def test_an_unlimited_heartbeat_option_is_refused_where_lowering_would_move_a_token(
    text: str,
) -> None:
    for config in (STRICT, PERMISSIVE):
        result = check_source(text, config)
        assert [v.rule for v in result.violations] == ["heartbeats"] and not result.notes
        assert "removes Lean's limit" in result.violations[0].message


def test_a_lowered_header_keeps_the_proofs_feedback_in_place() -> None:
    statement = DEEPSEEK_HEADER + "theorem x (n : ℕ) : n + 0 = n := by sorry"
    submission = Submission(statement=statement, proof="by\n  simp\n  #eval 1")
    result = check_submission(assemble(submission), PERMISSIVE)
    assert result.ok and [n.rule for n in result.notes] == ["heartbeats"]
    assert result.statement is not None and "maxHeartbeats 1000000\n" in result.statement
    assert "maxHeartbeats 1000000\n" in result.code and "maxHeartbeats 0" not in result.code
    strict = check_submission(assemble(submission), STRICT)
    assert {(v.rule, v.line, v.column) for v in strict.violations} == {
        ("heartbeats", 4, 25),
        ("eval", 3, 2),  # in the proof, placed in the proof's own lines
    }


def test_a_zero_cap_is_refused_by_the_settings() -> None:
    with pytest.raises(ValidationError, match="heartbeat_cap"):
        Settings(heartbeat_cap=0)


def test_config_from_settings_and_environment(settings: Settings) -> None:
    custom = settings.model_copy(update={"heartbeat_cap": 5000, "policy": "permissive"})
    environment = Environment("tiny", SOURCE_ROOT, "leanprover/lean4:v4.32.0", {"batteries": "x"})
    config = PolicyConfig.from_settings(custom, environment=environment)
    assert config.profile == "permissive" and config.heartbeat_cap == 5000
    assert config.import_roots == environment.module_roots
    assert rules("import Mathlib\n", config) == ["import-not-allowed"]
    assert rules("import Batteries.Data.List\nimport Lean\n", config) == []
    assert PolicyConfig.from_settings(custom, profile="strict").strict
    assert PolicyConfig.from_settings(settings).import_roots == DEFAULT_IMPORT_ROOTS


def test_import_modifiers_are_allowed_and_the_module_they_load_is_checked() -> None:
    text = (
        "import all Mathlib.Foo\npublic import Aesop\nmeta import Qq\npublic meta import all Lean\n"
    )
    assert check_source(text).ok
    for header in ("import all", "public import", "meta import", "public meta import all"):
        text = f"import Mathlib -- a\n/- b -/ {header} /- c -/ Evil.Stuff\n"
        (violation,) = check_source(text).violations
        assert violation.rule == "import-not-allowed" and "`Evil.Stuff`" in violation.message
        column = text.split("\n")[1].index("Evil")
        assert (violation.line, violation.column) == (2, column), header


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("import runtime Mathlib\n", "`runtime`"),  # Lean v4.32 has no `import runtime`
        ("import private Mathlib\n", "names no module"),  # nor `import private`
        ("import all\ntheorem t : True := trivial\n", "names no module"),
        ("theorem t : True := trivial\nimport\n", "names no module"),
    ],
)
def test_an_import_is_refused_unless_its_module_is_read_and_allowed(text: str, named: str) -> None:
    for config in (STRICT, PERMISSIVE):
        (violation,) = check_source(text, config).violations
        assert violation.rule == "import-not-allowed" and named in violation.message


def test_violations_name_rule_line_and_column() -> None:
    text = HEADER + "theorem x : True := by\n  run_tac pure ()\n"
    (violation,) = check_source(text).violations
    assert (violation.rule, violation.line, violation.column) == ("run-code", 5, 2)


def test_open_in_hides_nothing() -> None:
    text = "open Real Finset in\nopen Nat in run_cmd pure ()\n"
    assert rules(text) == ["run-code"]
    meta = "open Lean Elab Command in\nopen Nat in run_cmd pure ()\n"
    assert rules(meta) == ["meta-code", "run-code"]  # `open Lean` reaches Lean's whole API


# --- whole submissions -------------------------------------------------------------------------

STATEMENT = HEADER + "theorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"


def test_a_proof_that_closes_its_block_and_adds_commands_is_refused_in_its_own_text() -> None:
    proof = "by omega\n\n#eval 1 + 1"
    assembled = assemble(Submission(statement=STATEMENT, proof=proof))
    result = check_submission(assembled)
    (violation,) = result.violations
    assert (violation.rule, violation.line, violation.column) == ("eval", 3, 0)
    assert not violation.message.startswith("in the statement")


def test_statement_violations_say_so_and_are_not_doubled() -> None:
    statement = HEADER + "set_option debug.skipKernelTC true\ntheorem t1 : True := by sorry\n"
    assembled = assemble(Submission(statement=statement, proof="trivial"))
    result = check_submission(assembled)
    (violation,) = result.violations
    assert violation.rule == "debug-option" and violation.line == 4
    assert violation.message.startswith("in the statement: ")


def test_code_violation_positions_survive_a_borrowed_header() -> None:
    code = "theorem t1 (a b : ℕ) : a + b = b + a := by\n  native_decide\n"
    assembled = assemble(Submission(statement=STATEMENT, code=code))
    assert assembled.text.startswith("import Mathlib\n")
    (violation,) = check_submission(assembled).violations
    assert (violation.rule, violation.line, violation.column) == ("native-code", 2, 2)


@pytest.mark.parametrize(
    ("statement", "code", "refused"),
    [
        (
            "prelude\nimport Init.Core\ntheorem t : True := sorry\n",
            "theorem t : True := ⟨⟩",
            ["prelude"],
        ),
        (
            "import Init.Core\ntheorem t : True := sorry\n",
            "prelude\ntheorem t : True := ⟨⟩",
            ["prelude"],
        ),
        (
            "module\npublic import Mathlib\ntheorem t : True := sorry\n",
            "theorem t : True := ⟨⟩",
            [],
        ),
        ("theorem t : True := sorry\n", "theorem t : True := ⟨⟩", []),  # no imports at all
        (
            "import all Evil\ntheorem t : True := sorry\n",
            "theorem t : True := ⟨⟩",
            ["import-not-allowed"],
        ),
    ],
)
def test_headers_through_assembly_and_the_policy(
    statement: str, code: str, refused: list[str]
) -> None:
    assembled = assemble(Submission(statement=statement, code=code))
    assert [v.rule for v in check_submission(assembled).violations] == refused


def test_submission_rewrites_apply_to_code_and_statement() -> None:
    statement = "set_option maxHeartbeats 2000000 in\ntheorem t : True := by sorry\n"
    code = "set_option maxHeartbeats 3000000 in\ntheorem t : True := trivial\n"
    assembled = assemble(Submission(statement=statement, code=code))
    result = check_submission(assembled, PERMISSIVE)
    assert result.ok and "1000000" in result.code and "3000000" not in result.code
    assert result.statement is not None and "2000000" not in result.statement
    assert len(result.notes) == 2
    assert assembled.with_text(result.code).text == result.code


# --- properties --------------------------------------------------------------------------------

FORBIDDEN = [
    "#eval IO.println 1",
    "#exit",
    "run_cmd",
    "run_tac",
    "elab",
    "macro_rules",
    "syntax",
    "initialize",
    "unsafe",
    "partial",
    "native_decide",
    "set_option debug.skipKernelTC true",
    "set_option maxHeartbeats 0",
    '@[extern "x"]',
    "@[implemented_by f]",
    "prelude",
    "import Evil",
    "include_str",
    "polyrith",
    "Lean.ofReduceBool",
    "#leansearch",
    "simproc",
    "attribute [init] x",
    "tο",
    "aesop (add safe tactic t)",
    "by_elab",
]
_safe_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp"), blacklist_characters='"\\-/{}\u00a0'
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    before=_safe_text,
    word=st.sampled_from(FORBIDDEN),
    after=_safe_text,
    wrapper=st.sampled_from(["line", "block", "nested", "doc", "string", "raw"]),
)
def test_comments_and_strings_never_trigger_the_policy(
    before: str, word: str, after: str, wrapper: str
) -> None:
    inner = f"{before} {word} {after}"
    body = {
        "line": f"-- {inner}\n",
        "block": f"/- {inner} -/\n",
        "nested": f"/- outer /- {inner} -/ {word} -/\n",
        "doc": f"/-- {inner} -/\ntheorem x : True := trivial\n",
        "string": f'def s : String := "{inner}"\n',
        "raw": f'def s : String := r#"{inner}"#\n',
    }[wrapper]
    assert check_source(HEADER + body, STRICT).violations == ()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_no_input_crashes_the_policy(text: str) -> None:
    for config in (STRICT, PERMISSIVE):
        result = check_source(text, config)
        assert all(v.rule in RULES for v in result.violations)
        assert len(result.code) == len(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *FORBIDDEN,
                "theorem",
                "x",
                ":=",
                "by",
                "\n",
                " ",
                "'",
                '"',
                "/-",
                "-/",
                "--",
                's!"{',
                "}",
                "«",
                "»",
                "#",
                "0",
            ]
        ),
        max_size=40,
    )
)
def test_no_token_soup_crashes_the_policy(parts: list[str]) -> None:
    text = " ".join(parts)
    result = check_source(text, STRICT)
    assert json.dumps([v.model_dump() for v in result.violations])


def test_docs_list_every_rule_as_the_table_says() -> None:
    docs = (SOURCE_ROOT / "docs" / "policy.md").read_text(encoding="utf-8").splitlines()
    for name, rule in RULES.items():
        row = f"| `{name}` | {rule.refuses} | {rule.strict} | {rule.permissive} |"
        assert row in docs, name
    hash_line = next(line for line in docs if line.startswith("`#` commands: allowed are"))
    allowed, denied = hash_line.split("Denied anywhere")
    assert all(f"`{word}`" in allowed for word in HASH_ALLOWED)
    assert all(f"`{word}`" in denied and f"`{word}`" not in allowed for word in HASH_DENIED)


def test_unclosed_or_endless_brackets_are_refused_not_trusted() -> None:
    assert "code-attribute" in rules("@[simp\ntheorem x : True := trivial\n")
    long_list = "@[" + ", ".join(["simp"] * 3000) + ', extern "f"] def f := 1\n'
    assert "code-attribute" in rules(long_list)
    endless = "example : True := by aesop (add " + "safe apply True.intro " * 2000 + "\n"
    assert "aesop-tactic-rule" in rules(endless)
    long_eval = "#eval (" + " + ".join(["1"] * 5000) + ")\n"
    assert rules(long_eval, PERMISSIVE) == ["eval"]
    assert rules("#eval (" + " + ".join(["1"] * 50) + ")\n", PERMISSIVE) == []


def test_nested_constructs_are_still_judged() -> None:
    assert "aesop-tactic-rule" in rules(
        "example : True := by aesop (add (aesop (add safe tactic t)))\n"
    )
    assert rules("#eval (#eval IO.println 1)\n", PERMISSIVE) == ["eval"]
    assert "code-attribute" in rules('@[simp, @[extern "f"] x] def f := 1\n')


def test_a_remembered_statement_result_is_never_served_under_another_policy() -> None:
    """Statement results are remembered per (text, config): a permissive answer must not leak into
    a strict check of the same statement, nor the other way round."""
    statement = (
        HEADER + "partial def loop (n : Nat) : Nat := loop n\ntheorem t : True := by sorry\n"
    )
    submission = Submission(statement=statement, proof="by trivial")
    for _ in range(2):  # the second round is served from memory
        strict = check_submission(assemble(submission), STRICT)
        permissive = check_submission(assemble(submission), PERMISSIVE)
        assert any(
            v.rule == "partial" and v.message.startswith("in the statement")
            for v in strict.violations
        )
        assert not any(v.rule == "partial" for v in permissive.violations)


# --- cost ----------------------------------------------------------------------------------------


class _CountingText(str):
    """A text that counts the characters its `count`, `rfind` and `find` searches examine."""

    examined = 0

    def _span(self, start: int | None, end: int | None) -> int:
        return len(range(*slice(start, end).indices(len(self))))

    def count(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        _CountingText.examined += self._span(start, end)
        return super().count(sub, start, end)

    def rfind(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        _CountingText.examined += self._span(start, end)
        return super().rfind(sub, start, end)

    def find(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        _CountingText.examined += self._span(start, end)
        return super().find(sub, start, end)


def _examined(text: str) -> int:
    _CountingText.examined = 0
    result = check_source(_CountingText(text))
    assert result.ok
    return _CountingText.examined


def test_the_character_pass_is_linear_on_one_long_line() -> None:
    """Every non-ASCII character of one long line used to send a search back to the text's start
    (a comment of 300,000 arrows took half a minute): the characters examined grow linearly."""
    sizes = (2_000, 4_000, 8_000, 16_000)
    counts = [_examined(f"theorem t : True := by\n  -- {'→' * n}\n  trivial\n") for n in sizes]
    for size, count in zip(sizes, counts, strict=True):  # each character read a bounded few times
        assert count <= 4 * size + 200, (size, count)
    assert counts[-1] <= 2.2 * counts[-2]  # doubling the input about doubles the work


def test_control_characters_on_a_long_line_keep_their_positions() -> None:
    text = "-- " + "→" * 5_000 + "\x00\ntheorem x : True :=\n  " + "é" * 7 + "\u202e trivial\n"
    found = [(v.rule, v.line, v.column) for v in check_source(text).violations]
    assert found == [("control-character", 1, 5_003), ("bidi-control", 3, 9)]


def _spy_on_the_thread(
    monkeypatch: pytest.MonkeyPatch, module: object, name: str
) -> list[tuple[int, bool]]:
    """Replace `module.name` with a pass-through that records its thread and whether an event
    loop runs there."""
    real = getattr(module, name)
    seen: list[tuple[int, bool]] = []

    def spy(*args: object, **kwargs: object) -> object:
        try:
            asyncio.get_running_loop()
            on_a_loop = True
        except RuntimeError:
            on_a_loop = False
        seen.append((threading.get_ident(), on_a_loop))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return seen


def _all_off_the_loop(seen: list[tuple[int, bool]]) -> bool:
    return bool(seen) and all(
        not on_a_loop and thread != threading.get_ident() for thread, on_a_loop in seen
    )


async def test_the_service_runs_the_policy_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long policy pass must not stall the loop's other requests: the service runs it in a
    worker thread, where no event loop runs."""
    seen = _spy_on_the_thread(monkeypatch, service_module, "check_submission")
    refused = HEADER + "theorem t : True := by\n  -- \u202e\n  trivial\n"
    async with running_service(make_stack(tmp_path)) as service:
        verdict = await asyncio.wait_for(service.check(Submission(code=refused)), 30)
    assert verdict.status is VerdictStatus.rejected, verdict.reason
    assert len(seen) == 1 and _all_off_the_loop(seen)


async def test_triage_and_sessions_run_the_policy_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same for a triaged statement and a session's statement (both refused by the policy,
    so no Lean is needed to reach the pass)."""
    triage_seen = _spy_on_the_thread(monkeypatch, triage_runner, "check_source")
    session_seen = _spy_on_the_thread(monkeypatch, session_manager, "check_submission")
    refused = HEADER + "theorem t : True := by\n  -- \u202e\n  sorry\n"
    async with running_service(make_stack(tmp_path)) as service:
        await asyncio.wait_for(service.triage(TriageRequest(statement=refused)), 30)
        sessions = session_manager.SessionManager(service)
        try:
            with pytest.raises(SubmissionError):
                await asyncio.wait_for(sessions.open(OpenSessionRequest(statement=refused)), 30)
        finally:
            await sessions.close()
    assert _all_off_the_loop(triage_seen) and _all_off_the_loop(session_seen)
