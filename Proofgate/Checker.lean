/-
proofgate's trusted checker: design B of TRUSTED_CHECK.md, a small executable that alone may say
that a compiled submission proves a locked statement. docs/checker-contract.md is its contract.

UNTESTED AGAINST REAL LEAN: written for Lean v4.32.0 by reading lean4checker (Main.lean,
Lean4Checker/Replay.lean), Lean core (src/LeanChecker.lean, src/Lean/Replay.lean,
src/Lean/Environment.lean), comparator (Comparator/Compare.lean, Axioms.lean, Util.lean) and
SafeVerify (Main.lean), without compiling it. The real-Lean workflow builds and runs it
(`lake build proofgate-checker`, tests/verify/test_audit_lean.py).

Run under `lake env` (so `LEAN_PATH` finds Mathlib's oleans) with LEAN_ABORT_ON_PANIC=1 (a panic on
hostile data must end the process, never continue with a default value). It prints exactly one JSON
object on stdout and exits 0 when it reached a conclusion; usage errors exit 2; any uncaught
exception exits nonzero. (The serve mode, `--serve`, prints a ready line and then one report line
per request instead: see "Serve mode" at the end.) It never elaborates, never runs submission
code, and decides by kernel replay and structural `Expr` equality only (never defeq), on terms it
rebuilt itself from the `.olean`'s (see "Rebuilding the submission's terms"; SafeVerify's
Main.lean `rebuildExpr` and its Nat-literal check were read for this class, comparator's
tests/projects for the others).
-/
import Lean
import Proofgate.Compat
import Proofgate.Common
import Proofgate.OleanCheck
import Proofgate.ExportParse
import Proofgate.Serve

open Lean

namespace Proofgate.Checker

/-! ## Export mode (contract 2)

`--submission-export SUB [--reference-export REF --target T]`: the checker of docs/audit-design.md
sections 6 and 7, reading exports (docs/export-format.md) through `Proofgate.ExportParse`, never a
`.olean` a request wrote. Its steps, their order and their outcomes are the stand-in's
(`tests/standins/export_checker.py`), which models each rule below.
UNTESTED AGAINST REAL LEAN, like everything in this file.

Replay is done here, not by core's `Environment.replay`: each declaration record goes to
`Kernel.Environment.addDecl` (module `Lean.AddDecl`) in dependency order, with options built here
(`{}`: default `maxHeartbeats`, `debug.skipKernelTC` unset), so the first refused declaration is
known without a second pass, an inductive record is sent exactly as the export groups it, and
every constant of a record (an inductive's types, constructors and recursors too) is compared with
the one the kernel built (core's replay compares constructors and recursors only). -/

def exportContractVersion : Nat := 2

/-- An exported constant whose name the imports already hold (design section 6, requirement 3). -/
structure CollisionEntry where
  name : Name
  kind : String
  identical : Bool

/-- Contract 2's one JSON object (`ExportAuditReport` in `src/proofgate/verify/contract.py`). -/
structure ExportReport where
  check : Nat
  outcome : String := "ok"
  detail : String := ""
  target : Option Name := none
  declaration : Option Name := none
  targetAxioms : Array Name := #[]
  disallowed : Array Name := #[]
  decls : Array Decl := #[]
  collisions : Array CollisionEntry := #[]
  answers : Array (Name × String) := #[]
  timings : Array (String × Nat) := #[]

/-- A conclusion other than `ok`: the declarations and collisions found so far stay, the axioms
and answers do not (the stand-in's `Judgement` does the same). -/
def ExportReport.fail (r : ExportReport) (outcome detail : String) (decl : Option Name) :
    ExportReport :=
  { r with outcome, detail, declaration := decl, targetAxioms := #[], disallowed := #[],
           answers := #[] }

def ExportReport.lap (r : ExportReport) (stage : String) (since : Nat) : BaseIO ExportReport := do
  return { r with timings := r.timings.push (stage, (← IO.monoMsNow) - since) }

def ExportReport.render (r : ExportReport) : Json :=
  let opt (n? : Option Name) : Json := match n? with | some n => toJson (nameStr n) | none => .null
  Json.mkObj [
    ("contract", toJson exportContractVersion), ("check", toJson r.check),
    ("checker", toJson checkerId), ("lean", toJson s!"v{Lean.versionString}"),
    ("outcome", toJson r.outcome), ("detail", toJson r.detail), ("target", opt r.target),
    ("declaration", opt r.declaration), ("target_axioms", names r.targetAxioms),
    ("disallowed_axioms", names r.disallowed),
    ("declarations", Json.arr (r.decls.map declJson)),
    ("collisions", Json.arr (r.collisions.map fun c => Json.mkObj [
      ("name", toJson (nameStr c.name)), ("kind", toJson c.kind),
      ("identical", toJson c.identical)])),
    ("answers", Json.mkObj (r.answers.toList.map fun (n, v) => (nameStr n, toJson v))),
    ("timings_ms", Json.mkObj (r.timings.toList.map fun (k, v) => (k, toJson v)))]

/-- Read and parse one export. The outer `.error` is a file that cannot be read; the inner one the
parser's refusal. The size is checked before the bytes are read (limit `bytes`). -/
def readExport (path : System.FilePath) (limits : ExportParse.Limits := {}) :
    IO (Except String (Except ExportParse.Refusal ExportParse.ParsedExport)) := do
  try
    let size := (← path.metadata).byteSize.toNat
    if size > limits.bytes then
      return .ok (.error { code := "limit", line := 0, limit := some "bytes",
                           reason := s!"the export is over {limits.bytes} bytes" })
    let data ← IO.FS.readBinFile path
    return .ok (ExportParse.parse data (Lean.versionString, Lean.githash) limits)
  catch e =>
    return .error (toString e)

/-- The order the records go to the kernel: each after the records whose constants it mentions
(Kahn's algorithm, iterative, so a long chain costs no stack). `.error` names the first record,
in export order, that no order can place: one on a cycle between records, or one that uses one. -/
def replayOrder (recs : Array ExportParse.DeclRecord) : Except Name (Array Nat) := Id.run do
  let mut owner : Std.HashMap Name Nat := {}
  for i in [0:recs.size] do
    for c in recs[i]!.consts do
      owner := owner.insert c.name i
  let mut pending : Array Nat := #[]
  let mut users : Array (Array Nat) := #[]
  for _ in recs do
    pending := pending.push 0
    users := users.push #[]
  for i in [0:recs.size] do
    let mut deps : Std.HashSet Nat := {}
    for c in recs[i]!.consts do
      for n in mentions c do
        if let some j := owner[n]? then
          if j != i && !deps.contains j then
            deps := deps.insert j
            users := users.modify j (·.push i)
    pending := pending.set! i deps.size
  let mut ready : Array Nat := #[]
  for i in [0:recs.size] do
    if pending[i]! == 0 then ready := ready.push i
  let mut order : Array Nat := #[]
  let mut head := 0
  while head < ready.size do
    let i := ready[head]!
    head := head + 1
    order := order.push i
    for u in users[i]! do
      let left := pending[u]! - 1
      pending := pending.set! u left
      if left == 0 then ready := ready.push u
  if order.size == recs.size then return .ok order
  for i in [0:recs.size] do
    if pending[i]! != 0 then return .error recs[i]!.consts[0]!.name
  return .ok order

/-- The constants the reference itself declares that its target's statement is built from, as
`closureProblem` walks them (contract 1): from the target's type, through the types and values of
definitions and the whole of inductives (constructors and recursors included), through only the
type of theorems and answer holes, and always the answer holes. Sorted, so the first difference
reported is the stand-in's (it checks in sorted order too).

An inductive of the statement also brings in its constructors, so a changed constructor is
reported even when nothing mentions it by name; a theorem of the statement is compared by its
statement only (proofs are irrelevant to the kernel), as contract 1 does. -/
def referenceClosure (ref : Std.HashMap Name ConstantInfo) (target : Name) (holes : Array Name) :
    Array Name := Id.run do
  let some root := ref[target]? | return #[]
  let mut seen : NameHashSet := ({} : NameHashSet).insert target
  let mut out : Array Name := #[]
  let mut todo := usedNames root.type ++ holes
  while !todo.isEmpty do
    let n := todo.back!
    todo := todo.pop
    if seen.contains n then continue
    seen := seen.insert n
    let some c := ref[n]? | continue
    out := out.push n
    if holes.contains n then
      todo := todo ++ usedNames c.type
    else
      match c with
      | .thmInfo v => todo := todo ++ usedNames v.type
      | _ => todo := todo ++ mentions c
  return out.qsort byName

/-- A constant of the statement, the reference's (`locked`) against the submission's: an answer
hole keeps its name, universe parameters, type and safety (any value); a theorem its name,
universe parameters and type; anything else is the same `ConstantInfo`. -/
def sameAsLocked (hole : Bool) (locked other : ConstantInfo) : Bool :=
  match hole, locked, other with
  | true, .defnInfo a, .defnInfo b => a.toConstantVal == b.toConstantVal && a.safety == b.safety
  | true, _, _ => false
  | false, .thmInfo a, .thmInfo b => a.toConstantVal == b.toConstantVal
  | false, _, _ => locked == other

/-- Where a check's kernel environment comes from, given the modules the two exports' headers
import (the reference's first, each once): `.error` is why there is none (`bad_input`). The one-shot
mode imports them for this check (`importHeaders`); the serve mode hands every check the one
environment it imported at start (`serve`). Either way the value is immutable: a check's replay
extends it into a new value, so no check sees another's constants. -/
abbrev BaseEnv := Array Name → IO (Except String Kernel.Environment)

/-- The one-shot mode's environment: `importModules` of exactly the headers' modules (no extension
state, no initializers: the defaults), read through `toKernelEnv`. -/
def importHeaders : BaseEnv := fun modules => do
  try
    let env ← importModules (modules.map fun m => ({ module := m } : Import)) {}
    -- `toKernelEnv` then `Kernel.Environment.find?` throughout (never `ofKernelEnv` + `find?`,
    -- lean4#13783).
    return .ok env.toKernelEnv
  catch e => return .error s!"cannot import the export's modules: {e}"

/-- Contract 2: the judgement of the one-shot export mode and of each request of the serve mode,
on the environment `baseEnv` gives. In order (each step passes or ends the run with its outcome):
1. read the reference export (refused: `bad_input`) and the submission's (`export_invalid`,
   `export_too_large`);
2. the submission's imports: none, or one outside `--module-root`: `import_not_allowed`;
3. the environment of the reference's and the submission's imports (`baseEnv`; none: `bad_input`);
4. collisions (design, requirement 3): an exported name the imports hold: the target there is
   `target_not_replayed`; a theorem equal in universe parameters (by name) and type, or another
   kind equal as a whole `ConstantInfo`, is listed `identical` and not replayed; anything else is
   `import_redeclared`;
5. replay every other record that has a safe constant (unsafe and partial ones are listed
   `replayed: false`), dependencies first: `replay_failed` naming the record's first constant;
6. locked checks against the reference: `target_missing`, `not_a_theorem`, `universe_mismatch`,
   `type_mismatch` (after renaming universe parameters by position), `statement_constant_changed`
   (`referenceClosure`);
7. axioms walked through the replayed kernel environment (`walkAxioms`, imported bodies too). -/
def judgeExport (cfg : Config) (subPath : System.FilePath) (baseEnv : BaseEnv) :
    IO ExportReport := do
  let start ← IO.monoMsNow
  let mut report : ExportReport := { check := cfg.check.getD 0, target := cfg.target }

  -- 1. Both exports. The reference is parsed like any export, though the service wrote it.
  let mut reference : Option ExportParse.ParsedExport := none
  if let some path := cfg.referenceExport then
    match (← readExport path) with
    | .error e => return report.fail "bad_input" s!"cannot read the reference export: {e}" none
    | .ok (.error r) => return report.fail "bad_input" s!"the reference export: {r.text}" none
    | .ok (.ok p) => reference := some p
  let sub : ExportParse.ParsedExport ← match (← readExport subPath) with
    | .error e => return report.fail "bad_input" s!"cannot read the submission's export: {e}" none
    | .ok (.error r) =>
      let (outcome, word) :=
        if r.limit.isSome then ("export_too_large", "too large")
        else ("export_invalid", "malformed")
      return report.fail outcome s!"the elaborator's export is {word}: {r.text}" none
    | .ok (.ok p) => pure p
  report ← report.lap "parse" start

  -- 2. The submission's imports must lie within the environment's module roots.
  if sub.header.imports.isEmpty then
    return report.fail "import_not_allowed" "the submission imports nothing (prelude)" none
  for m in sub.header.imports do
    unless cfg.roots.contains m.getRoot do
      return report.fail "import_not_allowed"
        s!"import {nameStr m} is outside the allowed modules" none

  -- 3. One environment from both headers (the reference's first): a name either redeclares is
  -- then a collision, never a second meaning.
  let t0 ← IO.monoMsNow
  let mut modules : Array Name := #[]
  for m in ((reference.map (·.header.imports)).getD #[]) ++ sub.header.imports do
    unless modules.contains m do modules := modules.push m
  let kbase ← match (← baseEnv modules) with
    | .ok kenv => pure kenv
    | .error why => return report.fail "bad_input" why none
  report ← report.lap "import" t0

  -- 4. Collisions, in the order written.
  let t1 ← IO.monoMsNow
  let mut identical : NameHashSet := {}
  for ci in sub.consts do
    let some theirs := kbase.find? ci.name | continue
    if cfg.target == some ci.name then
      return report.fail "target_not_replayed"
        s!"{nameStr ci.name} already exists in the imports" (some ci.name)
    let same := match ci, theirs with
      | .thmInfo mine, .thmInfo other =>
        mine.levelParams == other.levelParams && mine.type == other.type
      | _, _ => ci == theirs
    report := { report with collisions := report.collisions.push
      { name := ci.name, kind := kindOf ci, identical := same } }
    unless same do
      return report.fail "import_redeclared"
        s!"{nameStr ci.name} redeclares the imported {kindOf theirs}" (some ci.name)
    identical := identical.insert ci.name

  -- 5. Replay. Every exported constant that did not collide is listed; unsafe and partial ones
  -- as not replayed (a safe declaration that uses one then fails: the kernel does not know it).
  let mut decls : Array Decl := #[]
  for ci in sub.consts do
    unless identical.contains ci.name do
      decls := decls.push
        { name := ci.name, kind := kindOf ci, replayed := !ci.isUnsafe && !ci.isPartial }
  report := { report with decls }
  -- A record is sent whole when any of its constants is new and safe: an inductive record mixing
  -- safe and unsafe constants, or new and imported ones, then fails in the kernel or in the
  -- comparison below, never in part.
  let records := sub.records.filter fun r =>
    r.consts.any fun c => !identical.contains c.name && !c.isUnsafe && !c.isPartial
  let order : Array Nat ← match replayOrder records with
    | .ok order => pure order
    | .error n =>
      return report.fail "replay_failed"
        s!"(replay) {nameStr n} is on a dependency cycle of the export's declarations, or uses one"
        (some n)
  let opts : Options := {}
  let mut kenv := kbase
  for i in order do
    let r := records[i]!
    let head := r.consts[0]!.name
    -- The four quotient constants come from one `quotDecl`, sent once.
    unless r.kind == "quot" && (kenv.find? head).isSome do
      match r.toDeclaration with
      | .error why =>
        return report.fail "replay_failed" s!"(replay) {nameStr head}: {why}" (some head)
      | .ok decl =>
        -- `Kernel.Environment.addDecl env opts decl (cancelTk? := none)`, module `Lean.AddDecl`.
        match kenv.addDecl opts decl with
        | .ok next => kenv := next
        | .error ex =>
          return report.fail "replay_failed" (← (ex.toMessageData opts).toString) (some head)
    for c in r.consts do
      match kenv.find? c.name with
      | some built =>
        unless built == c do
          return report.fail "replay_failed"
            s!"(replay) {nameStr c.name}: the export's {kindOf c} is not the one the kernel built"
            (some c.name)
      | none =>
        return report.fail "replay_failed"
          s!"(replay) {nameStr c.name}: the kernel did not declare it" (some c.name)
  report ← report.lap "replay" t1

  -- 6. The target against the reference.
  let t2 ← IO.monoMsNow
  let mut answers : Array (Name × String) := #[]
  if let some ref := reference then
    let some t := cfg.target
      | return report.fail "bad_input" "a reference export without --target" none
    let some (.thmInfo locked) := ref.constMap[t]?
      | return report.fail "bad_input" s!"the reference has no theorem {nameStr t}" (some t)
    for h in cfg.holes do
      unless (ref.constMap[h]? matches some (.defnInfo _)) do
        return report.fail "bad_input"
          s!"the reference has no definition {nameStr h} (answer hole)" (some h)
    let some mine := sub.constMap[t]?
      | return report.fail "target_missing" s!"the submission declares no {nameStr t}" (some t)
    let .thmInfo mineThm := mine
      | return report.fail "not_a_theorem"
          s!"{nameStr t} is a {kindOf mine}, not a theorem" (some t)
    unless (kenv.find? t matches some (.thmInfo _)) do
      return report.fail "target_not_replayed" s!"{nameStr t} is missing after replay" (some t)
    if let some outcome := statementProblem locked.toConstantVal mineThm.toConstantVal then
      let mineCount := mineThm.levelParams.length
      let lockedCount := locked.levelParams.length
      let what :=
        if outcome == "universe_mismatch" then
          s!"{nameStr t} has {mineCount} universe parameters, the statement {lockedCount}"
        else
          s!"{nameStr t} does not state the locked statement"
      return report.fail outcome what (some t)
    for n in referenceClosure ref.constMap t cfg.holes do
      let some lockedC := ref.constMap[n]? | continue
      let some other := sub.constMap[n]?
        | return report.fail "statement_constant_changed"
            s!"{nameStr n}: the submission does not declare it" (some n)
      unless sameAsLocked (cfg.holes.contains n) lockedC other do
        return report.fail "statement_constant_changed"
          s!"{nameStr n}: the {kindOf lockedC} changed" (some n)
    answers := cfg.holes.filterMap fun h => match sub.constMap[h]? with
      | some (.defnInfo v) => some (h, toString v.value)  -- `Expr.dbgToString`: raw, no notation
      | _ => none
  report ← report.lap "compare" t2

  -- 7. Axioms, one memo: a locked check walks from the target and lists the new declarations it
  -- reaches; a free compile walks from every replayed declaration and lists them all. Every
  -- listed declaration carries the axioms it reaches.
  let t3 ← IO.monoMsNow
  let roots : Array Name := match cfg.target with
    | some t => #[t]
    | none => decls.filterMap fun d => if d.replayed then some d.name else none
  let mut memo : AxiomMemo := {}
  for r in roots do
    memo ← IO.ofExcept (walkAxioms kenv r memo)
  decls := decls.filterMap fun d =>
    match (if d.replayed then axiomsIn kenv memo d.name else none) with
    | some axioms => some { d with axioms }
    | none => if cfg.target.isNone then some d else none
  report := { report with decls }
  report ← report.lap "axioms" t3
  match cfg.target with
  | none =>
    let mut bad : Array Name := #[]
    for d in decls do
      if d.kind == "theorem" then
        for a in d.axioms do
          unless cfg.axioms.contains a || bad.contains a do bad := bad.push a
    report := { report with disallowed := bad.qsort byName }
  | some t =>
    let some targetAxioms := axiomsIn kenv memo t
      | return report.fail "target_not_replayed"
          s!"{nameStr t} was not walked after replay" (some t)
    report := { report with targetAxioms, answers,
                            disallowed := targetAxioms.filter (!cfg.axioms.contains ·) }
  return (← report.lap "total" start)

/-- The one-shot export mode: `judgeExport` on the headers' own imports. -/
def checkExport (cfg : Config) (subPath : System.FilePath) : IO ExportReport :=
  judgeExport cfg subPath importHeaders

/-! ## Serve mode (the warm checker)

`--serve --import M [--import M]...`: docs/audit-design.md, section 4 step 6 and section 9 step 4;
the protocol is in `Proofgate/Serve.lean`. UNTESTED AGAINST REAL LEAN, like everything here.

The process imports the `--import` modules once, before its ready line (the design's "Mathlib
imported once"), and judges every request with `judgeExport`, the one-shot export mode's function,
on that environment: the same kernel environment value for every check. A check's replay builds
new values on top of it (`Kernel.Environment.addDecl` returns a new environment; nothing here
keeps one across checks), so a check never sees the constants of an earlier one.

A request is judged only if every module its two exports' headers import is in the imported
environment (`EnvironmentHeader.moduleNames`: the `--import` modules and everything they import,
transitively); the checker's environment then contains the request's own import closure. Otherwise
it is `bad_input` (not `import_not_allowed`): the roots check (step 2) has already passed, so the
submission asked for nothing the environment forbids and the one-shot mode would have judged it;
the fault is the checker's configuration, and `bad_input` is what the one-shot mode says when it
cannot build the environment (verdict `internal`, never blamed on the submission, never cached).

What differs from the one-shot mode: a request whose headers import less than the checker did is
judged on the larger environment. The kernel accepts the same declarations there (the imported
constants it relies on are the same), but an exported name that only the larger environment holds
is a collision (identical: listed and not replayed; otherwise `import_redeclared`) where the
one-shot mode would have replayed it. With `--import` equal to the environment's usual header
(e.g. `Mathlib`) and submissions importing that header, there is no difference. -/

/-- The warm checker's loop (see above): the exit status, 0 at the end of stdin. -/
def serve (cfg : Config) : IO UInt32 := do
  let flags := ", ".intercalate (cfg.imports.toList.map nameStr)
  -- `importModules imports opts (leakEnv := true)`: the environment lives as long as the process,
  -- so it is marked persistent (no reference counting on it); no extension state, no
  -- initializers, as in the one-shot mode.
  let imports := cfg.imports.map fun m => ({ module := m } : Import)
  let env ← try importModules imports {} (leakEnv := true)
    catch e =>
      IO.eprintln s!"proofgate-checker --serve: cannot import {flags}: {e}"
      return 1
  let kenv := env.toKernelEnv
  let imported : NameHashSet := env.header.moduleNames.foldl (·.insert ·) {}
  let baseEnv : BaseEnv := fun modules => do
    for m in modules do
      unless imported.contains m do
        return .error
          (s!"import {nameStr m} is not in this warm checker's environment " ++
            s!"(--import {flags} and what it imports)")
    return .ok kenv
  let stdin ← IO.getStdin
  let stdout ← IO.getStdout
  stdout.putStrLn (Serve.readyLine exportContractVersion checkerId)
  stdout.flush
  repeat
    let bytes ← match (← Serve.readLine stdin) with
      | .eof => return 0
      | .tooLong =>
        IO.eprintln
          s!"proofgate-checker --serve: not a request: a line over {Serve.maxRequestBytes} bytes"
        return 2
      | .line bytes => pure bytes
    let parsed : Except String (Config × String) := do
      let r ← Serve.parseRequest bytes
      return (← parseArgs {} r.argv, r.submission)
    let taken ← match parsed with
      | .ok v => pure v
      | .error why =>
        IO.eprintln s!"proofgate-checker --serve: not a request: {why}"
        return 2
    let (request, path) := taken
    let report ← try judgeExport request ⟨path⟩ baseEnv
      catch e =>
        -- As an uncaught exception ends the one-shot mode: no report; the pool replaces us.
        IO.eprintln s!"proofgate-checker --serve: check {request.check.getD 0}: {e}"
        return 1
    stdout.putStrLn report.render.compress
    stdout.flush
  return 0

end Proofgate.Checker

open Proofgate.Checker in
def main (args : List String) : IO UInt32 := do
  let cfg ← match parseArgs {} args with
    | .ok cfg => pure cfg
    | .error msg =>
      IO.eprintln s!"proofgate-checker: {msg}\n{usage}"
      return 2
  -- As lean4checker and SafeVerify do: the sysroot's library plus `LEAN_PATH` from `lake env`.
  initSearchPath (← findSysroot)
  if cfg.serve then
    return (← serve cfg)
  if let some path := cfg.submissionExport then
    let report ← checkExport cfg path
    IO.println report.render.compress
  else
    let report ← check cfg
    IO.println report.render.compress
  return 0
