/-
proofgate's trusted checker, contract 1 (`--submission SUB.olean`): every API era's judgement of
a compiled submission (docs/checker-contract.md, "What it checks, in order"), and the `main` of
the version presets' `proofgate-checker` (`runOlean`), which serves contract 1 only.
UNTESTED AGAINST REAL LEAN (see `Proofgate/Common.lean`).
-/
import Lean
import Proofgate.Compat
import Proofgate.Common
import Proofgate.Rebuild

open Lean
open Proofgate.Compat

namespace Proofgate.Checker
/-- Post-order visit for `dependencyOrder`: a constant after everything new it mentions. -/
partial def visitDeps (consts : HMap Name ConstantInfo) (n : Name) :
    StateM (HSet Name × Array Name) Unit := do
  if setContains (← get).1 n then return
  let some ci := mapGet? consts n | return
  modify fun (seen, out) => (setInsert seen n, out)
  for m in mentions ci do visitDeps consts m
  modify fun (seen, out) => (seen, out.push n)

/-- The submission's new constants in dependency order. -/
def dependencyOrder (consts : HMap Name ConstantInfo) : Array Name :=
  let roots := ((mapToList consts).map (·.1)).toArray.qsort byName
  ((roots.forM (visitDeps consts)).run (setEmpty, #[])).2.2

/-- Only on a failed replay: replay each declaration (an inductive with its constructors and
recursors) alone, dependencies first, to name the first one the kernel refuses. -/
def firstRefused (base : Environment) (consts : HMap Name ConstantInfo) :
    IO (Option Name) := do
  let mut env := startReplay base
  let mut done : HSet Name := setEmpty
  for n in dependencyOrder consts do
    if setContains done n then continue
    let some ci := mapGet? consts n | continue
    let family : List Name := match ci with
      | .inductInfo v => v.all
      | .ctorInfo _ | .recInfo _ => []  -- replayed with their inductive
      | _ => [n]
    if family.isEmpty then continue
    let mut block : HMap Name ConstantInfo := mapEmpty
    for (m, c) in mapToList consts do
      let belongs := match c with
        | .inductInfo v => family.contains m || v.all.any family.contains
        | .ctorInfo v => family.contains v.induct
        | .recInfo v => v.all.any family.contains
        | _ => family.contains m
      if belongs then block := mapInsert block m c
    try
      env ← replayInto env block  -- the era's replay (`Proofgate.Compat.replayInto`)
    catch _ =>
      return some n
    done := (mapToList block).foldl (fun s (m, _) => setInsert s m) done
  return none

/-- Read one `.olean`: `.error` with the reason when it is unreadable or not a plain module. -/
def readOlean (path : System.FilePath) : IO (Except String ModuleData) := do
  try
    -- The era's `readModuleData`; the region stays mapped until the process exits.
    let mod ← readModule path
    if usesModuleSystem mod then
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
  -- Both modules' terms are rebuilt before anything reads them (the challenge's too, so that the
  -- two sides of every comparison went through the same rebuild).
  let mut chConsts : HMap Name ConstantInfo := mapEmpty
  if let some ch := challenge then
    match freshConstants ch with
    | .ok cis => for ci in cis do chConsts := mapInsert chConsts ci.name ci
    | .error (n, why) => return cfg.failure "bad_input" s!"the challenge's {n}: {why}" n
  let subConsts ← match freshConstants sub with
    | .ok cis => pure cis
    | .error (n, why) =>
      return cfg.failure "replay_failed" s!"refused before replay, a malformed term: {n}: {why}" n
  if let some t := cfg.target then
    unless (mapGet? chConsts t matches some (.thmInfo _)) do
      return cfg.failure "bad_input" s!"the challenge has no theorem {t}" t
  for h in cfg.holes do
    unless (mapGet? chConsts h matches some (.defnInfo _)) do
      return cfg.failure "bad_input" s!"the challenge has no definition {h} (answer hole)" h

  -- 4. One environment from the challenge's imports and the submission's: a name the submission
  -- redeclares from the challenge's imports then fails replay instead of changing meaning.
  let t0 ← IO.monoMsNow
  let mut imports : Array Import := #[]
  for imp in ((challenge.map (·.imports)).getD #[]) ++ sub.imports do
    unless imports.any (·.module == imp.module) do imports := imports.push imp
  -- The era's `importModules` of exactly these: no extension state, no initializers run.
  let base ← try importBase imports
    catch e => return cfg.failure "bad_input" s!"cannot import the submission's modules: {e}" none
  timings := timings.push ("import", (← IO.monoMsNow) - t0)

  -- 5. Replay every new constant through the kernel. `replay` skips unsafe/partial constants
  -- silently, so they are left out here, listed as not replayed, and the target checked apart.
  let t1 ← IO.monoMsNow
  let mut declared : HMap Name ConstantInfo := mapEmpty
  let mut consts : HMap Name ConstantInfo := mapEmpty
  let mut decls : Array Decl := #[]
  for ci in subConsts do
    let n := ci.name
    let safe := !ci.isUnsafe && !ci.isPartial
    declared := mapInsert declared n ci
    if safe then consts := mapInsert consts n ci
    decls := decls.push { name := n, kind := kindOf ci, replayed := safe }
  let env ← try
      -- The era's replay (core's `Lean.Environment.replay`, or this era's own), read through
      -- the kernel's view (`kernelOf`: in the v4.30 era `toKernelEnv`, lean4#13783).
      pure (kernelOf (← replayInto (startReplay base) consts))
    catch e =>
      let culprit ← firstRefused base consts
      return { cfg.failure "replay_failed" s!"the kernel refused a declaration: {e}" culprit with
               decls }
  timings := timings.push ("replay", (← IO.monoMsNow) - t1)

  -- 6. Axioms, walked here with one memo: a locked check walks the target's closure only, and
  -- lists the new declarations in it; a free compile walks every replayed declaration.
  let t2 ← IO.monoMsNow
  let roots : Array Name := match cfg.target with
    | some t => if mapContains consts t then #[t] else #[]
    | none => decls.filterMap fun d => if d.replayed then some d.name else none
  let mut memo : AxiomMemo := {}
  for r in roots do
    memo ← IO.ofExcept (walkAxioms env r memo)
  decls := decls.filterMap fun d =>
    match (if d.replayed then axiomsIn env memo d.name else none) with
    | some axioms => some { d with axioms }
    | none => if cfg.target.isNone then some d else none
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
    let some subCi := mapGet? declared t
      | return fault "target_missing" s!"the submission declares no {t}" t
    unless (subCi matches .thmInfo _) do
      return fault "not_a_theorem" s!"{t} is a {kindOf subCi}, not a theorem" t
    if base.contains t || !mapContains consts t then
      return fault "target_not_replayed" s!"{t} was not replayed from the submission" t
    let some (.thmInfo subThm) := findConst env t
      | return fault "target_not_replayed" s!"{t} is missing after replay" t
    let some (.thmInfo chThm) := mapGet? chConsts t
      | return fault "bad_input" s!"the challenge has no theorem {t}" t
    let t3 ← IO.monoMsNow
    if let some outcome := statementProblem chThm.toConstantVal subThm.toConstantVal then
      return fault outcome s!"{t} does not state the locked statement ({outcome})" t
    if let some (n, why) := closureProblem chConsts env t cfg.holes then
      return fault "statement_constant_changed" s!"{n}, part of the locked statement: {why}" n
    let some targetAxioms := axiomsIn env memo t
      | return fault "target_not_replayed" s!"{t} was not walked after replay" t
    let answers := cfg.holes.filterMap fun h => match findConst env h with
      | some (.defnInfo v) => some (h, toString v.value)  -- `Expr.dbgToString`: raw, no notation
      | _ => none
    timings := timings.push ("compare", (← IO.monoMsNow) - t3)
    report := { report with targetAxioms, answers,
                            disallowed := targetAxioms.filter (!cfg.axioms.contains ·) }
  timings := timings.push ("total", (← IO.monoMsNow) - start)
  return { report with timings }

/-- The version presets' `main`: contract 1 only. The export and serve modes (contract 2) read the
export format of `Proofgate/ExportParse.lean`, written against v4.32 alone, so a preset's checker
refuses them as a usage error (exit 2) rather than judging with a parser its era never built. -/
def runOlean (args : List String) : IO UInt32 := do
  let cfg ← match parseArgs {} args with
    | .ok cfg => pure cfg
    | .error msg =>
      IO.eprintln s!"proofgate-checker: {msg}\n{usage}"
      return 2
  if cfg.serve || cfg.submissionExport.isSome then
    IO.eprintln s!"proofgate-checker: --serve and --submission-export are not built for Lean \
      {Lean.versionString} (API era {era}): only --submission (contract 1)"
    return 2
  -- As lean4checker and SafeVerify do: the sysroot's library plus `LEAN_PATH` from `lake env`.
  initSearchPath (← findSysroot)
  let report ← check cfg
  IO.println report.render.compress
  return 0

end Proofgate.Checker
