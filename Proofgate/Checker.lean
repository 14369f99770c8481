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
import Proofgate.ExportParse
import Proofgate.Serve

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

/-- The command line, see `usage`. Three modes: `.olean` files (contract 1, `--submission`),
exports (contract 2, `--submission-export`, docs/export-format.md), or the warm checker
(`--serve`, contract 2, each check's options read from stdin); never two. -/
structure Config where
  submission : System.FilePath := ""
  challenge : Option System.FilePath := none
  submissionExport : Option System.FilePath := none
  referenceExport : Option System.FilePath := none
  check : Option Nat := none
  target : Option Name := none
  axioms : Array Name := #[]
  holes : Array Name := #[]
  roots : Array Name := #[]
  serve : Bool := false
  /-- `--import`, serve mode only: the modules imported once, at start. -/
  imports : Array Name := #[]

def usage : String :=
  "usage: proofgate-checker --submission SUB.olean [--challenge CH.olean --target NAME] \
   [--axiom NAME]... [--answer-hole NAME]... [--module-root ROOT]...\n\
   or:    proofgate-checker --submission-export SUB.ndjson [--reference-export REF.ndjson \
   --target NAME] [--axiom NAME]... [--answer-hole NAME]... [--module-root ROOT]... [--check N]\n\
   or:    proofgate-checker --serve --import MODULE [--import MODULE]...  (requests on stdin)"

def parseArgs (cfg : Config) : List String → Except String Config
  | [] =>
    if cfg.serve then
      if cfg.imports.isEmpty then .error "--serve needs at least one --import MODULE"
      else if cfg.submissionExport.isSome || !cfg.submission.toString.isEmpty ||
          cfg.challenge.isSome || cfg.referenceExport.isSome || cfg.check.isSome ||
          cfg.target.isSome || !cfg.axioms.isEmpty || !cfg.holes.isEmpty || !cfg.roots.isEmpty then
        .error "--serve takes only --import: each check's options come as a request on stdin"
      else .ok cfg
    else if !cfg.imports.isEmpty then .error "--import needs --serve"
    else if cfg.submissionExport.isSome then
      if !cfg.submission.toString.isEmpty || cfg.challenge.isSome then
        .error "--submission-export does not go with --submission or --challenge"
      else if cfg.referenceExport.isSome != cfg.target.isSome then
        .error "--reference-export and --target go together (neither: a free compile)"
      else if cfg.referenceExport.isNone && !cfg.holes.isEmpty then
        .error "--answer-hole needs --reference-export"
      else .ok cfg
    else if cfg.referenceExport.isSome || cfg.check.isSome then
      .error "--reference-export and --check need --submission-export"
    else if cfg.submission.toString.isEmpty then .error "--submission is required"
    else if cfg.challenge.isSome != cfg.target.isSome then
      .error "--challenge and --target go together (neither: a free compile)"
    else if cfg.challenge.isNone && !cfg.holes.isEmpty then .error "--answer-hole needs --challenge"
    else .ok cfg
  | "--submission" :: v :: rest => parseArgs { cfg with submission := v } rest
  | "--challenge" :: v :: rest => parseArgs { cfg with challenge := some v } rest
  | "--submission-export" :: v :: rest => parseArgs { cfg with submissionExport := some v } rest
  | "--reference-export" :: v :: rest => parseArgs { cfg with referenceExport := some v } rest
  | "--check" :: v :: rest =>
    match v.toNat? with
    | some n => parseArgs { cfg with check := some n } rest
    | none => .error s!"--check takes a natural number, not {v}"
  | "--target" :: v :: rest => parseArgs { cfg with target := some v.toName } rest
  | "--axiom" :: v :: rest => parseArgs { cfg with axioms := cfg.axioms.push v.toName } rest
  | "--answer-hole" :: v :: rest => parseArgs { cfg with holes := cfg.holes.push v.toName } rest
  | "--module-root" :: v :: rest => parseArgs { cfg with roots := cfg.roots.push v.toName } rest
  | "--serve" :: rest => parseArgs { cfg with serve := true } rest
  | "--import" :: v :: rest =>
    let m := v.toName
    let imports := if cfg.imports.contains m then cfg.imports else cfg.imports.push m
    parseArgs { cfg with imports } rest
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

def declJson (d : Decl) : Json :=
  Json.mkObj [("name", toJson (nameStr d.name)), ("kind", toJson d.kind),
    ("axioms", names d.axioms), ("replayed", toJson d.replayed)]

def Report.render (r : Report) : Json :=
  let opt (n? : Option Name) : Json := match n? with | some n => toJson (nameStr n) | none => .null
  Json.mkObj [
    ("contract", toJson contractVersion), ("checker", toJson checkerId),
    ("lean", toJson s!"v{Lean.versionString}"), ("outcome", toJson r.outcome),
    ("detail", toJson r.detail), ("target", opt r.target), ("declaration", opt r.declaration),
    ("target_axioms", names r.targetAxioms), ("disallowed_axioms", names r.disallowed),
    ("declarations", Json.arr (r.decls.map declJson)),
    ("answers", Json.mkObj (r.answers.toList.map fun (n, v) => (nameStr n, toJson v))),
    ("timings_ms", Json.mkObj (r.timings.toList.map fun (k, v) => (k, toJson v)))]

def kindOf : ConstantInfo → String
  | .axiomInfo _ => "axiom" | .defnInfo _ => "definition" | .thmInfo _ => "theorem"
  | .opaqueInfo _ => "opaque" | .quotInfo _ => "quotient" | .inductInfo _ => "inductive"
  | .ctorInfo _ => "constructor" | .recInfo _ => "recursor"

/-- The names `e` is built from: every constant, and the structure of every projection. An
`Expr.proj` names its structure without a `.const`, so `Expr.getUsedConstants` misses it and a
statement reaching a structure only by projection would leave it uncompared (comparator's
`proj_trick`). Visits each shared subterm once (by address, as core's `foldConsts` does). -/
unsafe def usedNamesUnsafe (e : Expr) : Array Name := Id.run do
  let mut seen : Std.HashSet USize := {}
  let mut found : NameHashSet := {}
  let mut out : Array Name := #[]
  let mut todo : Array Expr := #[e]
  while !todo.isEmpty do
    let e := todo.back!
    todo := todo.pop
    let key := ptrAddrUnsafe e
    if seen.contains key then continue
    seen := seen.insert key
    let mut named : Option Name := none
    match e with
    | .const n _ => named := some n
    | .proj s _ b =>
      named := some s
      todo := todo.push b
    | .app f a => todo := (todo.push f).push a
    | .lam _ t b _ => todo := (todo.push t).push b
    | .forallE _ t b _ => todo := (todo.push t).push b
    | .letE _ t v b _ => todo := ((todo.push t).push v).push b
    | .mdata _ b => todo := todo.push b
    | _ => pure ()
    if let some n := named then
      unless found.contains n do
        found := found.insert n
        out := out.push n
  return out

@[implemented_by usedNamesUnsafe] opaque usedNames (e : Expr) : Array Name

/-- Every name a declaration mentions, read off its constructor. Not `ConstantInfo.value?`:
since v4.2x it hides theorem values unless `allowOpaque := true`, and the axiom walk must see
proofs and opaque bodies (comparator's `runForUsedConsts` covers the same fields). -/
def mentions : ConstantInfo → Array Name
  | .axiomInfo v => usedNames v.type
  | .quotInfo v => usedNames v.type
  | .defnInfo v => usedNames v.type ++ usedNames v.value
  | .thmInfo v => usedNames v.type ++ usedNames v.value
  | .opaqueInfo v => usedNames v.type ++ usedNames v.value
  | .inductInfo v => usedNames v.type ++ v.ctors.toArray ++ v.all.toArray
  | .ctorInfo v => (usedNames v.type).push v.induct
  | .recInfo v => v.rules.foldl (init := usedNames v.type ++ v.all.toArray)
      fun acc r => (acc.push r.ctor) ++ usedNames r.rhs

/-! ### Rebuilding the submission's terms

The `.olean` is written by a process that ran the submission's code, which can leave objects no
elaborator would build (e.g. `unsafeCast` of an `Int` to a `Nat`, a wrong cached hash, a shared
subterm aliasing another). Before anything is compared or replayed, every `Name`, `Level` and
`Expr` of every constant is rebuilt from its parts through the constructors, so each node is a
fresh object whose cached data (hash, flags, loose bound-variable range) is recomputed here; every
natural number in a term (literals, de Bruijn indices, projection indices, name components, the
counts of inductive types) is rebuilt from its decimal text, and one whose text is not a canonical
numeral is refused (SafeVerify's "badNat" class). `mdata` is dropped: the kernel looks through it.
Free and meta variables are refused: a closed constant has none. -/

/-- The rebuild's memo, by the address of the object read: the `.olean`'s region stays mapped for
the whole run, so an address names one object, and a shared subterm is rebuilt once. -/
structure Fresh where
  exprs : Std.HashMap USize Expr := {}
  levels : Std.HashMap USize Level := {}

abbrev FreshM := StateT Fresh (Except String)

/-- `n` rebuilt from its decimal text; refused unless that text is a canonical numeral. -/
def freshNat (what : String) (n : Nat) : FreshM Nat := do
  let text := toString n
  let digits := !text.isEmpty && text.all Char.isDigit
  unless digits && (text == "0" || !text.startsWith "0") do
    throw s!"{what} is a natural number that prints as {text.quote}, not a canonical numeral"
  return text.foldl (fun acc c => acc * 10 + (c.toNat - '0'.toNat)) 0

def freshString (s : String) : String := String.ofList s.toList

unsafe def freshName : Name → FreshM Name
  | .anonymous => pure .anonymous
  | .str p s => return .str (← freshName p) (freshString s)
  | .num p i => return .num (← freshName p) (← freshNat "a name component" i)

unsafe def freshLevel (l : Level) : FreshM Level := do
  let key := ptrAddrUnsafe l
  if let some done := (← get).levels[key]? then return done
  let fresh : Level ← match l with
    | .zero => pure .zero
    | .succ a => do return .succ (← freshLevel a)
    | .max a b => do return .max (← freshLevel a) (← freshLevel b)
    | .imax a b => do return .imax (← freshLevel a) (← freshLevel b)
    | .param n => do return .param (← freshName n)
    | .mvar _ => throw "a universe metavariable"
  modify fun s => { s with levels := s.levels.insert key fresh }
  return fresh

def freshBinder : BinderInfo → BinderInfo
  | .default => .default | .implicit => .implicit
  | .strictImplicit => .strictImplicit | .instImplicit => .instImplicit

unsafe def freshExpr (e : Expr) : FreshM Expr := do
  let key := ptrAddrUnsafe e
  if let some done := (← get).exprs[key]? then return done
  let fresh : Expr ← match e with
    | .bvar i => do return .bvar (← freshNat "a bound variable's index" i)
    | .fvar _ => throw "a free variable"
    | .mvar _ => throw "a metavariable"
    | .sort u => do return .sort (← freshLevel u)
    | .const n us => do return .const (← freshName n) (← us.mapM freshLevel)
    | .app f a => do return .app (← freshExpr f) (← freshExpr a)
    | .lam n t b bi => do
      return .lam (← freshName n) (← freshExpr t) (← freshExpr b) (freshBinder bi)
    | .forallE n t b bi => do
      return .forallE (← freshName n) (← freshExpr t) (← freshExpr b) (freshBinder bi)
    | .letE n t v b nonDep => do
      return .letE (← freshName n) (← freshExpr t) (← freshExpr v) (← freshExpr b)
        (if nonDep then true else false)
    | .lit (.natVal n) => do return .lit (.natVal (← freshNat "a literal" n))
    | .lit (.strVal s) => pure (.lit (.strVal (freshString s)))
    | .mdata _ b => freshExpr b
    | .proj s i b => do
      return .proj (← freshName s) (← freshNat "a projection's index" i) (← freshExpr b)
  modify fun s => { s with exprs := s.exprs.insert key fresh }
  return fresh

unsafe def freshVal (v : ConstantVal) : FreshM ConstantVal :=
  return { name := ← freshName v.name, levelParams := ← v.levelParams.mapM freshName,
           type := ← freshExpr v.type }

unsafe def freshConstant (ci : ConstantInfo) : FreshM ConstantInfo := do
  let c ← freshVal ci.toConstantVal
  let names (ns : List Name) : FreshM (List Name) := ns.mapM freshName
  let nat := freshNat s!"a count of {c.name}"
  match ci with
  | .axiomInfo v =>
    return .axiomInfo { v with name := c.name, levelParams := c.levelParams, type := c.type }
  | .defnInfo v =>
    return .defnInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                              value := ← freshExpr v.value, all := ← names v.all }
  | .thmInfo v =>
    return .thmInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                             value := ← freshExpr v.value, all := ← names v.all }
  | .opaqueInfo v =>
    return .opaqueInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                                value := ← freshExpr v.value, all := ← names v.all }
  | .quotInfo v =>
    return .quotInfo { v with name := c.name, levelParams := c.levelParams, type := c.type }
  | .inductInfo v =>
    return .inductInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                                numParams := ← nat v.numParams, numIndices := ← nat v.numIndices,
                                all := ← names v.all, ctors := ← names v.ctors,
                                numNested := ← nat v.numNested }
  | .ctorInfo v =>
    return .ctorInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                              induct := ← freshName v.induct, cidx := ← nat v.cidx,
                              numParams := ← nat v.numParams, numFields := ← nat v.numFields }
  | .recInfo v =>
    let rules ← v.rules.mapM fun r => do
      return { r with ctor := ← freshName r.ctor, nfields := ← nat r.nfields,
                      rhs := ← freshExpr r.rhs }
    return .recInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                             all := ← names v.all, numParams := ← nat v.numParams,
                             numIndices := ← nat v.numIndices, numMotives := ← nat v.numMotives,
                             numMinors := ← nat v.numMinors, rules }

/-- One constant of a module, rebuilt, checked to declare the name it is listed under. -/
unsafe def freshEntry (n : Name) (ci : ConstantInfo) : FreshM ConstantInfo := do
  let name ← freshName n
  let fresh ← freshConstant ci
  unless fresh.name == name do throw s!"it is listed as {name} but declares {fresh.name}"
  return fresh

/-- A module's constants, rebuilt (see above), one memo for the whole module; `.error` names the
first constant refused and why. -/
unsafe def freshConstantsUnsafe (mod : ModuleData) : Except (Name × String) (Array ConstantInfo) :=
  Id.run do
    let mut state : Fresh := {}
    let mut out : Array ConstantInfo := #[]
    for n in mod.constNames, ci in mod.constants do
      match (freshEntry n ci).run state with
      | .ok (fresh, next) =>
        state := next
        out := out.push fresh
      | .error why => return .error (n, why)
    return .ok out

@[implemented_by freshConstantsUnsafe]
opaque freshConstants (mod : ModuleData) : Except (Name × String) (Array ConstantInfo)

/-! ### Axioms -/

/-- The entry a constant's axioms are memoised under: an inductive type, its mutual siblings and
their constructors mention one another, so they share the entry of the family's first type;
every other constant is its own entry (a replayed environment has no other cycle). -/
def blockOf (env : Kernel.Environment) (n : Name) : Name :=
  match env.find? n with
  | some (.inductInfo v) => v.all.headD n
  | some (.ctorInfo v) =>
    match env.find? v.induct with
    | some (.inductInfo iv) => iv.all.headD v.induct
    | _ => v.induct
  | _ => n

/-- The constants of one entry (see `blockOf`). -/
def blockMembers (env : Kernel.Environment) (k : Name) : Array Name :=
  match env.find? k with
  | some (.inductInfo v) => v.all.foldl (init := #[]) fun acc i =>
    match env.find? i with
    | some (.inductInfo iv) => (acc.push i) ++ iv.ctors.toArray
    | _ => acc.push i
  | _ => #[k]

/-- The axioms each entry reaches. -/
abbrev AxiomMemo := Std.HashMap Name (Array Name)

/-- Walk from `root` through the replayed kernel environment (imported bodies too), never from
`#print axioms` or the `.olean`'s own axiom table, adding every entry it reaches to `memo`: each
constant is visited once however many roots share it. Post-order, with an explicit stack (no
recursion depth on long dependency chains). -/
def walkAxioms (env : Kernel.Environment) (root : Name) (memo : AxiomMemo) :
    Except String AxiomMemo := Id.run do
  let mut memo := memo
  let mut onPath : NameHashSet := {}
  let mut stack : Array (Name × Bool) := #[(blockOf env root, false)]
  while !stack.isEmpty do
    let (k, finish) := stack.back!
    stack := stack.pop
    if memo.contains k then continue
    let members := blockMembers env k
    let mut children : Array Name := #[]
    let mut seen : NameHashSet := ({} : NameHashSet).insert k
    for m in members do
      -- `Kernel.Environment.find?`: after replay, never `Environment.find?` (lean4#13783).
      let some ci := env.find? m | return .error s!"unknown constant {m} reached from {root}"
      for c in mentions ci do
        let ck := blockOf env c
        unless seen.contains ck do
          seen := seen.insert ck
          children := children.push ck
    if finish then
      let mut found : Array Name := #[]
      for m in members do
        if env.find? m matches some (.axiomInfo _) then found := found.push m
      for c in children do
        for a in memo.getD c #[] do
          unless found.contains a do found := found.push a
      memo := memo.insert k found
      onPath := onPath.erase k
    else
      if onPath.contains k then return .error s!"a dependency cycle through {k} from {root}"
      onPath := onPath.insert k
      stack := stack.push (k, true)
      for c in children do
        unless memo.contains c do stack := stack.push (c, false)
  return .ok memo

/-- The axioms `n` reaches, once `walkAxioms` has walked a root whose closure holds it. -/
def axiomsIn (env : Kernel.Environment) (memo : AxiomMemo) (n : Name) : Option (Array Name) :=
  (memo.get? (blockOf env n)).map (·.qsort byName)

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
  let mut todo := usedNames root.type ++ holes
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
        todo := todo ++ usedNames cv.type
        continue
      unless c == s do return some (n, "the definition changed")
      todo := todo ++ mentions c
    | .thmInfo cv, .thmInfo sv =>
      unless cv.toConstantVal == sv.toConstantVal do return some (n, "the theorem's statement changed")
      todo := todo ++ usedNames cv.type
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
  -- Both modules' terms are rebuilt before anything reads them (the challenge's too, so that the
  -- two sides of every comparison went through the same rebuild).
  let mut chConsts : Std.HashMap Name ConstantInfo := {}
  if let some ch := challenge then
    match freshConstants ch with
    | .ok cis => for ci in cis do chConsts := chConsts.insert ci.name ci
    | .error (n, why) => return cfg.failure "bad_input" s!"the challenge's {n}: {why}" n
  let subConsts ← match freshConstants sub with
    | .ok cis => pure cis
    | .error (n, why) =>
      return cfg.failure "replay_failed" s!"refused before replay, a malformed term: {n}: {why}" n
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
  for ci in subConsts do
    let n := ci.name
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

  -- 6. Axioms, walked here with one memo: a locked check walks the target's closure only, and
  -- lists the new declarations in it; a free compile walks every replayed declaration.
  let t2 ← IO.monoMsNow
  let roots : Array Name := match cfg.target with
    | some t => if consts.contains t then #[t] else #[]
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
    let some targetAxioms := axiomsIn env memo t
      | return fault "target_not_replayed" s!"{t} was not walked after replay" t
    let answers := cfg.holes.filterMap fun h => match env.find? h with
      | some (.defnInfo v) => some (h, toString v.value)  -- `Expr.dbgToString`: raw, no notation
      | _ => none
    timings := timings.push ("compare", (← IO.monoMsNow) - t3)
    report := { report with targetAxioms, answers,
                            disallowed := targetAxioms.filter (!cfg.axioms.contains ·) }
  timings := timings.push ("total", (← IO.monoMsNow) - start)
  return { report with timings }

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
