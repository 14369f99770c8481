"""The policy's rule table (what docs/policy.md lists) and the vocabularies its rules match.

Kept apart from the scanner in `proofgate.verify.policy` so the table reads as documentation. The
commands that run code or extend the syntax are Lean's words, so `proofgate.lean.syntax` owns them.
"""

from __future__ import annotations

from dataclasses import dataclass

from proofgate.lean.syntax import INITIALIZE_WORDS, RUN_CODE_WORDS, SIMPROC_WORDS, SYNTAX_WORDS

__all__ = ["MAX_SCAN", "MAX_VIOLATIONS", "RULES", "Rule"]


@dataclass(frozen=True)
class Rule:
    """One named policy rule: what it refuses, and what each profile does with it."""

    name: str
    refuses: str
    strict: str
    permissive: str


_REFUSED = "refused"


def _words(*groups: str) -> frozenset[str]:
    """The words of space-separated groups (long vocabularies read better as text)."""
    return frozenset(" ".join(groups).split())


def _table(*rows: tuple[str, str, str, str]) -> dict[str, Rule]:
    return {row[0]: Rule(*row) for row in rows}


RULES: dict[str, Rule] = _table(
    (
        "import-not-allowed",
        "`import` of a module outside the environment's own packages (the module an import "
        "loads: `M` in `public meta import all M`), or an `import` that names no module",
        _REFUSED,
        _REFUSED,
    ),
    (
        "prelude",
        "`prelude`: a file without Init can redefine `Nat` and what the kernel builds in",
        _REFUSED,
        _REFUSED,
    ),
    (
        "eval",
        "`#eval`, `#eval!`, `eval%`, and `plausible`, `slim_check`, `test_extern` (they evaluate "
        "the file's code too): run compiled code inside the elaborating process",
        _REFUSED,
        "allowed when pure: refused if it, or anything in the file, mentions IO, the meta "
        "level, `do`, `←` or `unsafe`",
    ),
    (
        "exit",
        "`#exit`: stops elaboration, so whatever a checker appends is never read",
        _REFUSED,
        _REFUSED,
    ),
    (
        "hash-command",
        "`#` commands that run code or read the host (`#guard`, `#test`, `#sample`, `#lint`, "
        "`#min_imports`, ...) anywhere, and unknown `#` words at the start of a command",
        _REFUSED,
        "only the denied ones (unknown `#` words are allowed)",
    ),
    (
        "network",
        "`polyrith`, `#leansearch`, `#loogle`, `#moogle`, `#statesearch`: call an outside service",
        _REFUSED,
        _REFUSED,
    ),
    (
        "host-file",
        "`include_str`: reads a file of the host while elaborating",
        _REFUSED,
        _REFUSED,
    ),
    (
        "run-code",
        "`run_cmd`, `run_tac`, `run_elab`, `run_meta`, `by_elab`: meta code run inline",
        _REFUSED,
        _REFUSED,
    ),
    (
        "syntax-extension",
        "`elab`, `elab_rules`, `macro`, `macro_rules`, `syntax`, `declare_syntax_cat`, "
        "`binder_predicate` (a macro)",
        _REFUSED,
        _REFUSED,
    ),
    (
        "host-io",
        "names of IO (`IO`, `EIO`, `BaseIO`, `IO.RealWorld`, `timeit`, `allocprof`) and of the "
        "host's files, processes, network and build tool (`System.*`, `Lake.*`, `Std.Internal.*`, "
        "`Std.Net.*`, `LeanSearchClient.*`, `ImportGraph.*`, with or without `_root_.`, and "
        "`open Std`/`namespace Std`): a "
        "proof needs none, and Lean evaluates some terms with the compiler (a tactic's options, "
        "`Decidable` instances for `plausible`)",
        _REFUSED,
        "allowed (`#eval` keeps its own check; the sandbox holds the rest)",
    ),
    (
        "meta-code",
        "names of the meta level's monads and of what runs code from there (`TacticM`, "
        "`MetaM`, `CoreM`, `evalConst`, `elabCommand`, `Qq`, ...), and of its namespaces "
        "(`Lean.*`, `open Lean`: `Lean.Elab.runFrontend` runs a file given as a string; "
        "`Plausible.*`); imported modules and option names aside, and the lemmas of "
        "`Lean.Grind.*` (`grind?` prints them): a "
        "proof needs none, and a tactic's options, which Lean evaluates "
        "(`linarith (discharger := ...)`), can run it; so the configuration fields that hold "
        "code (`discharger`, `oracle`, `preprocessors` of `linarith`; `proc`, `suspend`, "
        "`discharge` of `solve_by_elim`, `apply_rules`, `apply_assumption`) are refused however "
        "they are written (`oracle.produceCertificate :=`), and those tactics' options, any "
        "`(config := ...)` and any known value field (`maxSteps`, `splits`, `kernel`, ...) must "
        "be plain data (numbers, `true`, `false`, `.value`, `[...]`, `{ field := ... }`): Lean "
        "compiles and runs them, and before v4.23 a pure term can run IO there",
        _REFUSED,
        "allowed (the sandbox holds what it runs)",
    ),
    (
        "raw-text-syntax",
        "`ProofWidgets` names (its JSX syntax, `<b>...</b>`, takes raw text in which quotes and "
        "comment marks mean nothing): this pass could not tell code from text after it",
        _REFUSED,
        _REFUSED,
    ),
    (
        "notation-token",
        "a `notation`, `infix`, `prefix`, ... whose token holds `--`, `/-`, `-/`, a quote, `«`, "
        "`»`, a backquote or a backslash, or ends with `-` or `/`: it would move where Lean's "
        "comments, strings and names start, which this pass reads without the file's own tokens",
        _REFUSED,
        _REFUSED,
    ),
    (
        "simproc",
        "`simproc`, `dsimproc` and their `_decl` and `builtin_` forms: simp hooks are code",
        _REFUSED,
        _REFUSED,
    ),
    (
        "code-attribute",
        "attributes that register or replace code: `extern`, `implemented_by`, `init`, `export`, "
        "`csimp`, `command_elab`, `term_elab`, `tactic`, `macro`, `delab`, `env_linter`, "
        "`norm_num`, `positivity`, `cpass`, `gcongr_forward`, `missing_docs_handler`, `doc_role`, "
        "`builtin_*`, `*_parser`, `*_elab`, ...; and `aesop` rules of kind `tactic`",
        _REFUSED,
        _REFUSED,
    ),
    (
        "aesop-tactic-rule",
        "`aesop (add ... tactic f)`: Aesop runs the file's own meta code `f`; and any Aesop rule "
        "(`@[aesop]`, `attribute [aesop]`, `(add ...)` after any tactic, `add_aesop_rules`) in a "
        "file with meta-level code of its own (it names `Lean`, `TacticM`, `IO`, ...): Aesop "
        "tries a rule that names no builder as a `tactic` rule first",
        _REFUSED,
        _REFUSED,
    ),
    (
        "initialize",
        "`initialize`, `builtin_initialize`: code run when a module is loaded",
        _REFUSED,
        _REFUSED,
    ),
    (
        "declare-command",
        "`register_*` and `declare_*` commands (options, attributes, rule sets, all made with "
        "`initialize`)",
        _REFUSED,
        _REFUSED,
    ),
    (
        "unsafe",
        "`unsafe`, and Lean's unsafe functions (`unsafeCast`, `unsafeBaseIO`, `unsafeIO`, "
        "`ptrAddrUnsafe`, ...): unchecked casts, pointer tricks and IO from pure code; the "
        "kernel replay skips unsafe declarations, and a tactic's options, which Lean evaluates "
        "unsafely, can call them",
        _REFUSED,
        _REFUSED,
    ),
    (
        "partial",
        "`partial def`: opaque to the logic and skipped by the replay; no proof needs one",
        _REFUSED,
        "allowed",
    ),
    (
        "native-code",
        "`native_decide`, `decide +native`, `bv_decide`, `Lean.ofReduceBool`, "
        "`Lean.trustCompiler`: trust the compiler; in strict also a `decide` configuration not "
        "written as `{ field := value }` (`⟨false, true, ...⟩` sets `native` unnamed)",
        _REFUSED,
        "allowed (the audit refuses the axioms they add)",
    ),
    (
        "debug-option",
        "`set_option debug.*` (`debug.skipKernelTC` turns the kernel off)",
        _REFUSED,
        _REFUSED,
    ),
    (
        "verso-docs",
        "`set_option doc.verso` (and `doc.verso.*`): doc comments become Verso, whose ```lean "
        "blocks and `{lean}` roles elaborate commands and terms that this pass reads as comment",
        _REFUSED,
        _REFUSED,
    ),
    (
        "trace-option",
        "`set_option trace.*`: floods the reply; `trace.profiler.output` writes files",
        _REFUSED,
        "allowed, except `trace.profiler.output*`",
    ),
    (
        "heartbeats",
        "`maxHeartbeats` or `synthInstance.maxHeartbeats` set to 0 (no limit), above the cap, or "
        "to something that is not a number, and so a tactic's heartbeat field "
        "(`grind (canonHeartbeats := 0)`, or `:= 1 - 1`: only a lone number is read); "
        "`#count_heartbeats in` (it sets 0)",
        _REFUSED,
        "0 or above the cap: lowered to the cap, with an info note, where no other token moves "
        "(the cap fits in the value's width, or only a comment follows the value on its line); otherwise refused; "
        "`#count_heartbeats in` refused",
    ),
    (
        "rec-depth",
        "`maxRecDepth` above its cap (a native stack overflow kills the worker)",
        _REFUSED,
        "lowered to the cap, with an info note",
    ),
    (
        "malformed-literal",
        "a char literal, string escape or unclosed string or `«name»` Lean rejects where its "
        'error recovery could read the text that follows as commands (`\'"#eval ..."`, '
        '`"\\q #eval ..."`, `\'x--`); a string with a `{` whose end moves when it is read as '
        "interpolated (only the parser before it decides)",
        _REFUSED,
        _REFUSED,
    ),
    (
        "bidi-control",
        "bidirectional control characters anywhere, comments and strings included (Trojan Source)",
        _REFUSED,
        _REFUSED,
    ),
    (
        "control-character",
        "control characters other than tab and newline, and line/paragraph separators, anywhere",
        _REFUSED,
        _REFUSED,
    ),
    (
        "invisible-character",
        "zero-width characters and non-ASCII spaces in code (outside comments and strings)",
        _REFUSED,
        _REFUSED,
    ),
    (
        "confusable-identifier",
        "an identifier mixing ASCII letters with a Greek or letter-like look-alike (an omicron "
        "in `tο`, the Kelvin sign)",
        _REFUSED,
        "allowed",
    ),
)

# --- vocabularies ------------------------------------------------------------------------------

#: The run-code commands, with the tactic (`run_tac`) and the term (`by_elab`) that run code too.
RUN_CODE = RUN_CODE_WORDS | frozenset({"run_tac", "by_elab"})
NATIVE_TACTICS = frozenset({"native_decide", "bv_decide", "bv_check"})
#: Last name components of the constants behind compiled-code evaluation.
NATIVE_CONSTANTS = frozenset(
    {
        "ofReduceBool",
        "ofReduceNat",
        "trustCompiler",
        "reduceBool",
        "reduceNat",
    }
)
CODE_ATTRIBUTES = frozenset(
    {
        "extern",
        "implemented_by",
        "init",
        "export",
        "csimp",
        "command_elab",
        "term_elab",
        "tactic",
        "macro",
        "env_linter",
        "delab",
        "app_delab",
        "app_unexpander",
        "code_action_provider",
        "hole_code_action",
        "command_code_action",
        "tactic_code_action",
        "server_rpc_method",
        "widget_module",
        "cpass",
        "norm_num",
        "positivity",
        "simproc",
        "sevalproc",
        "dsimproc",
        "combinator_formatter",
        "combinator_parenthesizer",
        "formatter",
        "parenthesizer",
        "run_builtin_parser_attribute_hooks",
        "run_parser_attribute_hooks",
        "incremental",
        "linter",
        # Mathlib's, Batteries' and Lean's linters and extensions that evaluate a declaration of
        # the file (`evalConst`) when they run.
        "gcongr_forward",
        "quot_precheck",
        "unused_variables_ignore_fn",
        "missing_docs_handler",
        "doc_role",
        "doc_directive",
        "doc_code_block",
        "doc_command",
        "notation_class",
    }
)
#: Name components only meta-level code has: the monads a tactic runs in, the types Aesop's
#: `tactic` builder accepts, and the namespaces their API lives in.
META_WORDS = frozenset(
    {
        # the monads meta code runs in, and the types Aesop's `tactic` builder accepts
        "CoreM",
        "MetaM",
        "TermElabM",
        "CommandElabM",
        "TacticM",
        "MacroM",
        "RuleTac",
        "SingleRuleTac",
        "TacGen",
        # what runs code, commands, processes or the language server from there
        "evalConst",
        "evalExpr",
        "elabCommand",
        "addDecl",
        "runParserCategory",
        "Lsp",
        "Ipc",
        "Qq",
    }
)
#: Configuration fields that hold code Lean evaluates and the tactic runs: Mathlib's `linarith`
#: (`discharger : TacticM Unit`, `oracle`, `preprocessors`) and Lean's `BacktrackConfig` under
#: `solve_by_elim`, `apply_rules`, `apply_assumption` (`proc`, `suspend`, `discharge`: `MetaM`), as
#: `(f := ...)`, `(f.g := ...)` or in a `{ f := ... }` configuration.
CODE_OPTIONS = frozenset({"discharger", "oracle", "preprocessors", "proc", "suspend", "discharge"})
#: Fields of Lean's and Mathlib's tactic configurations (simp, dsimp, grind, decide, omega, rw,
#: congr!, aesop, ...) that hold plain values: Lean compiles and runs what is written there, so in
#: strict `(field := value)` (and `(config := ...)`) must be data. (Not every tactic's fields are
#: listed: docs/policy.md, "Known limits".)
VALUE_FIELDS = _words(
    # Simp.Config, DSimp.Config
    "maxSteps maxDischargeDepth contextual memoize singlePass zeta beta eta etaStruct iota "
    "proj decide arith autoUnfold dsimp failIfUnchanged ground unfoldPartialApp zetaDelta "
    "implicitDefEqProofs zetaUnused catchRuntime letToHave congrConsts bitVecOfNat "
    "warnExponents suppressLabelErrors maxSize",
    # Grind.Config
    "splits gen instances matchEqs splitMatch splitIte splitIndPred splitImp ematch "
    "ringSteps cutsat lookahead qlia mbtc verbose clean failures funext",
    # DecideConfig, Omega, Rewrite, Apply, congr!
    "kernel native zetaReduce revert splitDisjunctions splitNatSub splitNatAbs splitMinMax "
    "transparency offsetCnstrs occs newGoals synthAssignedInstances allowSynthFailures "
    "approx closePre closePost preTransparency preferLHS partialApp sameFun maxArgs typeEqs "
    "etaExpand useCongrSimp beqEq",
    # linarith, solve_by_elim, ring_nf, fun_prop, Aesop's options
    "exfalso splitHypotheses splitNe minimize maxDepth symm backtracking "
    "commitIndependentGoals red mode maxTransitionDepth maxRuleApplications maxGoals "
    "maxRuleApplicationDepth maxNormIterations terminal warnOnNonterminal enableSimp "
    "useSimpAll enableUnfold strategy useDefaultSimpSet",
)
#: Tactics whose configuration holds such fields: in strict, their options must be plain data
#: (`⟨...⟩` would set `discharger`, the first field, without its name).
CODE_CONFIG_TACTICS = frozenset(
    {"linarith", "nlinarith", "solve_by_elim", "apply_rules", "apply_assumption"}
)
#: Name components of IO (`host-io`), and the root namespaces of the host's files and processes and
#: of its build tool (as a name's first component only: `LO.System` is somebody's own).
HOST_IO_WORDS = frozenset(
    # `timeit` and `allocprof` take an `IO` action: `timeit "" (.Process.output ...)` names none
    {"IO", "EIO", "BaseIO", "RealWorld", "timeit", "allocprof"}
)
#: Namespaces of `Std` whose functions are `IO` without saying so (libuv: environment, working
#: directory, sockets, DNS).
HOST_PREFIXES = frozenset({("Std", "Internal"), ("Std", "Net")})
#: `LeanSearchClient` (its `#search` reaches the network with `curl`) and `ImportGraph` (it reads
#: the search path's `.olean` files) are Mathlib's dependencies, imported with it.
HOST_ROOTS = frozenset({"System", "Lake", "LeanSearchClient", "ImportGraph"})
#: Root namespaces of the meta level (`meta-code`, strict): Lean's own API holds functions that run
#: a file given as a string or load a module (`Lean.Elab.runFrontend`, `Lean.importModules`,
#: `Lean.loadDynlib`) with no meta word in their names, and `open Lean` reaches them all. Plausible
#: runs the file's code as tests.
META_ROOTS = frozenset({"Lean", "Plausible"})
#: Namespaces under `META_ROOTS` that hold lemmas an ordinary proof cites (`grind?` prints
#: `Lean.Grind.*`).
LEMMA_NAMESPACES = frozenset({("Lean", "Grind")})
#: Option names that change how Lean reads doc comments: with `doc.verso`, a doc comment is Verso,
#: whose ```lean blocks and {lean} roles elaborate commands and terms this pass reads as comment.
VERSO_OPTIONS = ("doc.verso",)
#: Namespaces whose imported syntax reads raw text (`raw-text-syntax`).
RAW_TEXT_NAMESPACES = frozenset({"ProofWidgets", "Jsx"})
#: Tactics and commands that evaluate the file's code with the compiler, as `#eval` does.
EVALUATING_WORDS = frozenset({"plausible", "slim_check", "test_extern"})
#: What a notation's token may not hold (see the `notation-token` rule).
NOTATION_TOKEN_HAZARDS = ("--", "/-", "-/", '"', "'", "«", "»", "`", "\\")
#: A notation token may not end with these: `-` or `/` then glues to a following `-` or `/-`.
NOTATION_TOKEN_ENDS = ("-", "/")
#: Mathlib's `count_heartbeats in` (with or without `#`, `!`): runs its command with
#: `maxHeartbeats 0`.
COUNT_HEARTBEATS = frozenset({"count_heartbeats", "count_heartbeats!"})
CODE_ATTRIBUTE_SUFFIXES = ("_parser", "_elab", "_delab", "_formatter", "_parenthesizer")

#: `#` commands that only report (feedback; `#print axioms` can be forged, and only informs).
HASH_ALLOWED = frozenset(
    {
        "#check",
        "#check_failure",
        "#print",
        "#reduce",
        "#synth",
        "#guard_msgs",
        "#where",
        "#help",
        "#version",
        "#simp",
        "#norm_num",
        "#conv",
        "#whnf",
        "#whnfR",
        "#instances",
        "#explode",
        "#find",
        "#time",
        "#adaptation_note",
        "#unfold?",
        "#push_neg",
        "#check_tactic",
        "#check_simp",
        "#discr_tree_key",
        "#long_names",
    }
)
#: `#` commands refused, with the rule that refuses them.
HASH_DENIED: dict[str, str] = {
    "#eval": "eval",
    "#exit": "exit",
    "#count_heartbeats": "heartbeats",
    "#guard": "hash-command",
    "#guard_expr": "hash-command",
    "#test": "hash-command",
    "#sample": "hash-command",
    "#lint": "hash-command",
    "#find_home": "hash-command",
    "#min_imports": "hash-command",
    "#import_path": "hash-command",
    "#redundant_imports": "hash-command",
    "#html": "hash-command",
    "#widget": "hash-command",
    "#leansearch": "network",
    "#loogle": "network",
    "#moogle": "network",
    "#statesearch": "network",
    # LeanSearchClient's `#search` (command, term and tactic) and import-graph's and Batteries'
    # commands that read the host's module files or run linters
    "#search": "network",
    "#import_diff": "hash-command",
    "#minimize_imports": "hash-command",
    "#show_unused": "hash-command",
    "#list_linters": "hash-command",
}
#: Longest first: Lean reads `#evalIO.println` as `#eval IO.println` (longest known token).
HASH_KNOWN = sorted({*HASH_ALLOWED, *HASH_DENIED}, key=len, reverse=True)

#: Name components that make an `#eval` (or the file around it) look like IO or meta code.
IO_WORDS = frozenset(
    {
        "IO",
        "EIO",
        "Lake",
        "BaseIO",
        "ST",
        "EST",
        "System",
        "FS",
        "Process",
        "Handle",
        "FilePath",
        "Lean",
        "Elab",
        "Meta",
        "Core",
        "CoreM",
        "MetaM",
        "TermElabM",
        "CommandElabM",
        "TacticM",
        "Environment",
        "spawn",
        "output",
        "readFile",
        "writeFile",
        "readBinFile",
        "writeBinFile",
        "getEnv",
        "setEnv",
        "modifyEnv",
        "addDecl",
        "evalConst",
        "evalExpr",
        "println",
        "print",
        "eprintln",
        "eprint",
        "println!",
        "getStdout",
        "getStderr",
        "getStdin",
        "sleep",
        "timeit",
        "ptrAddrUnsafe",
        "do",
        "runCmd",
        "runTactic",
    }
)

BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_SEPARATORS = frozenset("\u2028\u2029\u0085")
INVISIBLE = frozenset(
    "\u00a0\u00ad\u034f\u115f\u1160\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064"
    "\u3164\ufeff\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f"
    "\u205f\u3000"
)
#: Characters Lean accepts in identifiers that look like ASCII letters (Greek capitals, omicron,
#: lunate sigma, yot, Kelvin and Angstrom signs, Planck constant, estimated, information source).
CONFUSABLE = frozenset(
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7"
    "\u03bf\u03f2\u03f3\u03dc\u03f9\u03fa\u03fb\u212a\u212b\u210e\u212e\u2139"
)
#: Violations kept per text: enough to act on, bounded for a prompt.
MAX_VIOLATIONS = 200
#: Tokens one bracketed construct (attribute list, aesop clause, `#eval` term) may span.
MAX_SCAN = 4096


def _each(
    words: frozenset[str], rule: str, strict_only: bool, advice: str
) -> dict[str, tuple[str, bool, str]]:
    return {word: (rule, strict_only, f"`{word}` {advice}") for word in sorted(words)}


#: Keywords refused wherever they stand: word -> (rule, strict profile only?, message).
KEYWORDS: dict[str, tuple[str, bool, str]] = {
    "prelude": ("prelude", False, "`prelude` is not allowed: a submission always builds on Init"),
    **_each(
        RUN_CODE,
        "run-code",
        False,
        "runs meta code inside the checker; prove with ordinary tactics instead",
    ),
    **_each(
        SYNTAX_WORDS,
        "syntax-extension",
        False,
        "extends Lean's syntax or elaborator with code; state and prove without new syntax",
    ),
    **_each(SIMPROC_WORDS, "simproc", False, "registers code with simp; use simp lemmas instead"),
    **_each(INITIALIZE_WORDS, "initialize", False, "runs code when a module is loaded; remove it"),
    "unsafe": (
        "unsafe",
        False,
        "`unsafe` is not allowed (the kernel replay skips unsafe declarations); write it safely",
    ),
    "partial": (
        "partial",
        True,
        "`partial def` is refused by the strict policy: a proof cannot "
        "use it; give a terminating definition",
    ),
    **_each(
        NATIVE_TACTICS,
        "native-code",
        True,
        "trusts compiled code (its proof adds a "
        "non-standard axiom); use `decide`, `norm_num` or `omega`",
    ),
    "include_str": ("host-file", False, "`include_str` reads a file of the host; inline the text"),
    "polyrith": (
        "network",
        False,
        "`polyrith` calls an outside service; use "
        "`linear_combination` with its coefficients instead",
    ),
}
