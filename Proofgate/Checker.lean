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
exception exits nonzero. It never elaborates, never runs submission code, and decides by kernel
replay and structural `Expr` equality only (never defeq).
-/
import Lean

open Lean

namespace Proofgate.Checker

/-- Bumped with every change of the JSON output; proofgate refuses any other number. -/
def contractVersion : Nat := 1
def checkerId : String := "proofgate-checker 1"

-- `ConstantInfo` has no `BEq` in core; comparator derives it the same way (Comparator/Compare.lean
-- at tag v4.32.0), the other `*Val` structures already have one.
deriving instance BEq for QuotKind
deriving instance BEq for QuotVal
deriving instance BEq for InductiveVal
deriving instance BEq for ConstantInfo

/-- The command line, see `usage`. -/
structure Config where
  submission : System.FilePath := ""
  challenge : Option System.FilePath := none
  target : Option Name := none
  axioms : Array Name := #[]
  holes : Array Name := #[]
  roots : Array Name := #[]

def usage : String :=
  "usage: proofgate-checker --submission SUB.olean [--challenge CH.olean --target NAME] \
   [--axiom NAME]... [--answer-hole NAME]... [--module-root ROOT]..."

def parseArgs (cfg : Config) : List String → Except String Config
  | [] =>
    if cfg.submission.toString.isEmpty then .error "--submission is required"
    else if cfg.challenge.isSome != cfg.target.isSome then
      .error "--challenge and --target go together (neither: a free compile)"
    else if cfg.challenge.isNone && !cfg.holes.isEmpty then .error "--answer-hole needs --challenge"
    else .ok cfg
  | "--submission" :: v :: rest => parseArgs { cfg with submission := v } rest
  | "--challenge" :: v :: rest => parseArgs { cfg with challenge := some v } rest
  | "--target" :: v :: rest => parseArgs { cfg with target := some v.toName } rest
  | "--axiom" :: v :: rest => parseArgs { cfg with axioms := cfg.axioms.push v.toName } rest
  | "--answer-hole" :: v :: rest => parseArgs { cfg with holes := cfg.holes.push v.toName } rest
  | "--module-root" :: v :: rest => parseArgs { cfg with roots := cfg.roots.push v.toName } rest
  | arg :: _ => .error s!"unexpected argument {arg}"

/-- One new declaration of the submission and the axioms it reaches. -/
structure Decl where
  name : Name
  kind : String
  axioms : Array Name := #[]
  replayed : Bool := true

/-- The one JSON object we print; `outcome` is one of the contract's strings. -/
structure Report where
  outcome : String := "ok"
  detail : String := ""
  target : Option Name := none
  declaration : Option Name := none
  targetAxioms : Array Name := #[]
  disallowed : Array Name := #[]
  decls : Array Decl := #[]
  answers : Array (Name × String) := #[]
  timings : Array (String × Nat) := #[]

/-- Names print unescaped, so they round-trip with `String.toName` on the Python side. -/
def nameStr (n : Name) : String := n.toString (escape := false)

/-- A stable order for the names we print. -/
def byName (a b : Name) : Bool := nameStr a < nameStr b

def names (ns : Array Name) : Json := toJson (ns.map nameStr)

def Report.render (r : Report) : Json :=
  let opt (n? : Option Name) : Json := match n? with | some n => toJson (nameStr n) | none => .null
  Json.mkObj [
    ("contract", toJson contractVersion), ("checker", toJson checkerId),
    ("lean", toJson s!"v{Lean.versionString}"), ("outcome", toJson r.outcome),
    ("detail", toJson r.detail), ("target", opt r.target), ("declaration", opt r.declaration),
    ("target_axioms", names r.targetAxioms), ("disallowed_axioms", names r.disallowed),
    ("declarations", Json.arr (r.decls.map fun d => Json.mkObj [
      ("name", toJson (nameStr d.name)), ("kind", toJson d.kind), ("axioms", names d.axioms),
      ("replayed", toJson d.replayed)])),
    ("answers", Json.mkObj (r.answers.toList.map fun (n, v) => (nameStr n, toJson v))),
    ("timings_ms", Json.mkObj (r.timings.toList.map fun (k, v) => (k, toJson v)))]

def kindOf : ConstantInfo → String
  | .axiomInfo _ => "axiom" | .defnInfo _ => "definition" | .thmInfo _ => "theorem"
  | .opaqueInfo _ => "opaque" | .quotInfo _ => "quotient" | .inductInfo _ => "inductive"
  | .ctorInfo _ => "constructor" | .recInfo _ => "recursor"

/-- Every constant a declaration mentions, read off its constructor. Not `ConstantInfo.value?`:
since v4.2x it hides theorem values unless `allowOpaque := true`, and the axiom walk must see
proofs and opaque bodies (comparator's `runForUsedConsts` covers the same fields). -/
def mentions : ConstantInfo → Array Name
  | .axiomInfo v => v.type.getUsedConstants
  | .quotInfo v => v.type.getUsedConstants
  | .defnInfo v => v.type.getUsedConstants ++ v.value.getUsedConstants
  | .thmInfo v => v.type.getUsedConstants ++ v.value.getUsedConstants
  | .opaqueInfo v => v.type.getUsedConstants ++ v.value.getUsedConstants
  | .inductInfo v => v.type.getUsedConstants ++ v.ctors.toArray ++ v.all.toArray
  | .ctorInfo v => v.type.getUsedConstants.push v.induct
  | .recInfo v => v.rules.foldl (init := v.type.getUsedConstants ++ v.all.toArray)
      fun acc r => (acc.push r.ctor) ++ r.rhs.getUsedConstants

/-- Every axiom `root` reaches in the replayed kernel environment, walked here (imported bodies
too), never read from `#print axioms` or the `.olean`'s own axiom table. -/
def axiomsOf (env : Kernel.Environment) (root : Name) : Except String (Array Name) := Id.run do
  let mut seen : NameHashSet := {}
  let mut todo := #[root]
  let mut found : Array Name := #[]
  while !todo.isEmpty do
    let n := todo.back!
    todo := todo.pop
    if seen.contains n then continue
    seen := seen.insert n
    -- `Kernel.Environment.find?`: after replay, never `Environment.find?` (lean4#13783).
    let some ci := env.find? n | return .error s!"unknown constant {n} reached from {root}"
    if ci matches .axiomInfo _ then found := found.push n
    todo := todo ++ (mentions ci).filter (!seen.contains ·)
  return .ok (found.qsort byName)

/-- The submission's statement is the challenge's: same number of universe parameters, renamed
position by position, then `Expr` `==` (`Expr.eqv`: bound-variable names and binder info aside,
structural). Never defeq. -/
def statementProblem (ch sub : ConstantVal) : Option String :=
  if ch.levelParams.length != sub.levelParams.length then
    some "universe_mismatch"
  else
    let renamed := sub.type.instantiateLevelParams sub.levelParams (ch.levelParams.map Level.param)
    if renamed == ch.type then none else some "type_mismatch"

/-- comparator's statement-closure rule: every constant the locked statement is built from that
the challenge itself declared must be the same in the submission (theorems: same statement; answer
holes: same type and safety, any value). Imported constants need no check: the submission is
replayed on top of the challenge's imports, where each name has one meaning. -/
def closureProblem (ch : Std.HashMap Name ConstantInfo) (env : Kernel.Environment) (target : Name)
    (holes : Array Name) : Option (Name × String) := Id.run do
  let some root := ch[target]? | return some (target, "not in the challenge")
  let mut seen : NameHashSet := ({} : NameHashSet).insert target
  -- The answer holes are checked even where the statement does not mention them.
  let mut todo := root.type.getUsedConstants ++ holes
  while !todo.isEmpty do
    let n := todo.back!
    todo := todo.pop
    if seen.contains n then continue
    seen := seen.insert n
    let some c := ch[n]? | continue
    let some s := env.find? n | return some (n, "the submission does not declare it")
    match c, s with
    | .defnInfo cv, .defnInfo sv =>
      if holes.contains n then
        unless cv.toConstantVal == sv.toConstantVal && cv.safety == sv.safety do
          return some (n, "the answer hole's type changed")
        todo := todo ++ cv.type.getUsedConstants
        continue
      unless c == s do return some (n, "the definition changed")
      todo := todo ++ mentions c
    | .thmInfo cv, .thmInfo sv =>
      unless cv.toConstantVal == sv.toConstantVal do return some (n, "the theorem's statement changed")
      todo := todo ++ cv.type.getUsedConstants
    | _, _ =>
      unless c == s do return some (n, s!"the {kindOf c} changed")
      todo := todo ++ mentions c
  return none

/-- Post-order visit for `dependencyOrder`: a constant after everything new it mentions. -/
partial def visitDeps (consts : Std.HashMap Name ConstantInfo) (n : Name) :
    StateM (NameHashSet × Array Name) Unit := do
  if (← get).1.contains n then return
  let some ci := consts[n]? | return
  modify fun (seen, out) => (seen.insert n, out)
  for m in mentions ci do visitDeps consts m
  modify fun (seen, out) => (seen, out.push n)

/-- The submission's new constants in dependency order. -/
def dependencyOrder (consts : Std.HashMap Name ConstantInfo) : Array Name :=
  let roots := (consts.toArray.map (·.1)).qsort byName
  ((roots.forM (visitDeps consts)).run ({}, #[])).2.2

/-- Only on a failed replay: replay each declaration (an inductive with its constructors and
recursors) alone, dependencies first, to name the first one the kernel refuses. -/
def firstRefused (base : Environment) (consts : Std.HashMap Name ConstantInfo) :
    IO (Option Name) := do
  let mut env := base
  let mut done : NameHashSet := {}
  for n in dependencyOrder consts do
    if done.contains n then continue
    let some ci := consts[n]? | continue
    let family : List Name := match ci with
      | .inductInfo v => v.all
      | .ctorInfo _ | .recInfo _ => []  -- replayed with their inductive
      | _ => [n]
    if family.isEmpty then continue
    let mut block : Std.HashMap Name ConstantInfo := {}
    for (m, c) in consts.toList do
      let belongs := match c with
        | .inductInfo v => family.contains m || v.all.any family.contains
        | .ctorInfo v => family.contains v.induct
        | .recInfo v => v.all.any family.contains
        | _ => family.contains m
      if belongs then block := block.insert m c
    try
      env ← env.replay block  -- `Lean.Environment.replay` (module `Lean.Replay`, v4.30+)
    catch _ =>
      return some n
    done := block.fold (fun s m _ => s.insert m) done
  return none

/-- Read one `.olean`: `.error` with the reason when it is unreadable or not a plain module. -/
def readOlean (path : System.FilePath) : IO (Except String ModuleData) := do
  try
    -- `Lean.readModuleData : FilePath → IO (ModuleData × CompactedRegion)`; the region stays
    -- mapped until the process exits.
    let (mod, _) ← readModuleData path
    if mod.isModule then
      return .error s!"{path} was compiled with the module system (`module`): not supported"
    return .ok mod
  catch e => return .error s!"cannot read {path}: {e}"

/-- A conclusion reached before the environment was built. -/
def Config.failure (cfg : Config) (outcome detail : String) (decl : Option Name) : Report :=
  { outcome, detail, target := cfg.target, declaration := decl }

def check (cfg : Config) : IO Report := do
  let start ← IO.monoMsNow
  let mut timings : Array (String × Nat) := #[]

  -- 1. Read both files; the submission's is hostile input.
  let sub ← match (← readOlean cfg.submission) with
    | .ok m => pure m
    | .error e => return cfg.failure "bad_input" e none
  let mut challenge : Option ModuleData := none
  if let some path := cfg.challenge then
    match (← readOlean path) with
    | .ok m => challenge := some m
    | .error e => return cfg.failure "bad_input" e none
  timings := timings.push ("read", (← IO.monoMsNow) - start)

  -- 2. Imports: the submission's must lie within the environment's module roots.
  if sub.imports.isEmpty then
    return cfg.failure "import_not_allowed" "the submission imports nothing (`prelude`)" none
  for imp in sub.imports do
    unless cfg.roots.contains imp.module.getRoot do
      return cfg.failure "import_not_allowed" s!"import {imp.module} is outside the allowed modules" none

  -- 3. The challenge must hold the target theorem and the answer holes (else: the statement's fault).
  let mut chConsts : Std.HashMap Name ConstantInfo := {}
  if let some ch := challenge then
    for n in ch.constNames, ci in ch.constants do
      chConsts := chConsts.insert n ci
  if let some t := cfg.target then
    unless (chConsts[t]? matches some (.thmInfo _)) do
      return cfg.failure "bad_input" s!"the challenge has no theorem {t}" t
  for h in cfg.holes do
    unless (chConsts[h]? matches some (.defnInfo _)) do
      return cfg.failure "bad_input" s!"the challenge has no definition {h} (answer hole)" h

  -- 4. One environment from the challenge's imports and the submission's: a name the submission
  -- redeclares from the challenge's imports then fails replay instead of changing meaning.
  let t0 ← IO.monoMsNow
  let mut imports : Array Import := #[]
  for imp in ((challenge.map (·.imports)).getD #[]) ++ sub.imports do
    unless imports.any (·.module == imp.module) do imports := imports.push imp
  -- `Lean.importModules imports opts`: defaults `trustLevel := 0`, `loadExts := false` (no
  -- extension state, no initializers run), `level := .private`.
  let base ← try importModules imports {}
    catch e => return cfg.failure "bad_input" s!"cannot import the submission's modules: {e}" none
  timings := timings.push ("import", (← IO.monoMsNow) - t0)

  -- 5. Replay every new constant through the kernel. `replay` skips unsafe/partial constants
  -- silently, so they are left out here, listed as not replayed, and the target checked apart.
  let t1 ← IO.monoMsNow
  let mut declared : Std.HashMap Name ConstantInfo := {}
  let mut consts : Std.HashMap Name ConstantInfo := {}
  let mut decls : Array Decl := #[]
  for n in sub.constNames, ci in sub.constants do
    let safe := !ci.isUnsafe && !ci.isPartial
    declared := declared.insert n ci
    if safe then consts := consts.insert n ci
    decls := decls.push { name := n, kind := kindOf ci, replayed := safe }
  let env ← try
      -- `Lean.Environment.replay (newConstants) (env) : IO Environment`, module `Lean.Replay`;
      -- read the result through `toKernelEnv` (`ofKernelEnv` + `find?` is lean4#13783).
      pure (← base.replay consts).toKernelEnv
    catch e =>
      let culprit ← firstRefused base consts
      return { cfg.failure "replay_failed" s!"the kernel refused a declaration: {e}" culprit with
               decls }
  timings := timings.push ("replay", (← IO.monoMsNow) - t1)

  -- 6. Axioms, walked here, for every replayed declaration.
  let t2 ← IO.monoMsNow
  decls ← decls.mapM fun d => do
    if !d.replayed then return d
    return { d with axioms := ← IO.ofExcept (axiomsOf env d.name) }
  timings := timings.push ("axioms", (← IO.monoMsNow) - t2)
  let mut report : Report := { target := cfg.target, decls }

  match cfg.target with
  | none =>
    -- A free compile: the axioms of every theorem are judged.
    let mut bad : Array Name := #[]
    for d in decls do
      if d.kind == "theorem" then
        for a in d.axioms do
          unless cfg.axioms.contains a || bad.contains a do bad := bad.push a
    report := { report with disallowed := bad.qsort byName }
  | some t =>
    -- 7. The target: declared by the submission, a theorem, replayed here, the locked statement.
    let fault (outcome detail : String) (decl : Name) : Report :=
      { report with outcome, detail, declaration := some decl }
    let some subCi := declared[t]?
      | return fault "target_missing" s!"the submission declares no {t}" t
    unless (subCi matches .thmInfo _) do
      return fault "not_a_theorem" s!"{t} is a {kindOf subCi}, not a theorem" t
    if base.contains t || !consts.contains t then
      return fault "target_not_replayed" s!"{t} was not replayed from the submission" t
    let some (.thmInfo subThm) := env.find? t
      | return fault "target_not_replayed" s!"{t} is missing after replay" t
    let some (.thmInfo chThm) := chConsts[t]?
      | return fault "bad_input" s!"the challenge has no theorem {t}" t
    let t3 ← IO.monoMsNow
    if let some outcome := statementProblem chThm.toConstantVal subThm.toConstantVal then
      return fault outcome s!"{t} does not state the locked statement ({outcome})" t
    if let some (n, why) := closureProblem chConsts env t cfg.holes then
      return fault "statement_constant_changed" s!"{n}, part of the locked statement: {why}" n
    let targetAxioms ← IO.ofExcept (axiomsOf env t)
    let answers := cfg.holes.filterMap fun h => match env.find? h with
      | some (.defnInfo v) => some (h, toString v.value)  -- `Expr.dbgToString`: raw, no notation
      | _ => none
    timings := timings.push ("compare", (← IO.monoMsNow) - t3)
    report := { report with targetAxioms, answers,
                            disallowed := targetAxioms.filter (!cfg.axioms.contains ·) }
  timings := timings.push ("total", (← IO.monoMsNow) - start)
  return { report with timings }

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
  let report ← check cfg
  IO.println report.render.compress
  return 0
