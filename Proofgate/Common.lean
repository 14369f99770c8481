/-
proofgate's trusted checker, the part every API era shares (docs/checker-contract.md): the
command line, the report, the names a term is built from, the axiom walk and the statement
comparisons. The era-dependent names (containers, the kernel environment, replay) come from
`Proofgate.Compat`, one module per API era (`Proofgate/Eras/<era>/Proofgate/Compat.lean`), which
each Lake project picks by its toolchain: the root `lakefile.lean` (v4.30 era) and each preset's
under `LeanProjects/`. See "API eras" in docs/checker-contract.md.

UNTESTED AGAINST REAL LEAN: written for Lean v4.32.0 and narrowed to calls whose names and types
the older eras' sources (lean4checker's tags v4.9.0, v4.15.0, v4.26.0; the REPL's same tags;
SafeVerify's `minif2f-deepseek-check` and `minif2f-kimina-check` branches) show unchanged, without
compiling it on any of them. Worklists are `List`s and maps go through `Proofgate.Compat`, so no
container API that moved between versions is called here.
-/
import Lean
import Proofgate.Compat

open Lean
open Proofgate.Compat

namespace Proofgate.Checker
/-- Bumped with every change of the JSON output; proofgate refuses any other number. -/
def contractVersion : Nat := 1
def checkerId : String := "proofgate-checker 1"

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
  let mut seen : HSet USize := setEmpty
  let mut found : HSet Name := setEmpty
  let mut out : Array Name := #[]
  let mut todo : List Expr := [e]
  while true do
    match todo with
    | [] => break
    | e :: rest =>
      todo := rest
      let key := ptrAddrUnsafe e
      if setContains seen key then continue
      seen := setInsert seen key
      let mut named : Option Name := none
      match e with
      | .const n _ => named := some n
      | .proj s _ b =>
        named := some s
        todo := b :: todo
      | .app f a => todo := f :: a :: todo
      | .lam _ t b _ => todo := t :: b :: todo
      | .forallE _ t b _ => todo := t :: b :: todo
      | .letE _ t v b _ => todo := t :: v :: b :: todo
      | .mdata _ b => todo := b :: todo
      | _ => pure ()
      if let some n := named then
        unless setContains found n do
          found := setInsert found n
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

/-! ### Axioms -/

/-- The entry a constant's axioms are memoised under: an inductive type, its mutual siblings and
their constructors mention one another, so they share the entry of the family's first type;
every other constant is its own entry (a replayed environment has no other cycle). -/
def blockOf (env : KEnv) (n : Name) : Name :=
  match findConst env n with
  | some (.inductInfo v) => v.all.headD n
  | some (.ctorInfo v) =>
    match findConst env v.induct with
    | some (.inductInfo iv) => iv.all.headD v.induct
    | _ => v.induct
  | _ => n

/-- The constants of one entry (see `blockOf`). -/
def blockMembers (env : KEnv) (k : Name) : Array Name :=
  match findConst env k with
  | some (.inductInfo v) => v.all.foldl (init := #[]) fun acc i =>
    match findConst env i with
    | some (.inductInfo iv) => (acc.push i) ++ iv.ctors.toArray
    | _ => acc.push i
  | _ => #[k]

/-- The axioms each entry reaches. -/
abbrev AxiomMemo := HMap Name (Array Name)

/-- Walk from `root` through the replayed kernel environment (imported bodies too), never from
`#print axioms` or the `.olean`'s own axiom table, adding every entry it reaches to `memo`: each
constant is visited once however many roots share it. Post-order, with an explicit stack (no
recursion depth on long dependency chains). -/
def walkAxioms (env : KEnv) (root : Name) (memo : AxiomMemo) :
    Except String AxiomMemo := Id.run do
  let mut memo := memo
  let mut onPath : HSet Name := setEmpty
  let mut stack : List (Name × Bool) := [(blockOf env root, false)]
  while true do
    match stack with
    | [] => break
    | (k, finish) :: rest =>
      stack := rest
      if mapContains memo k then continue
      let members := blockMembers env k
      let mut children : Array Name := #[]
      let mut seen : HSet Name := setInsert setEmpty k
      for m in members do
        -- The kernel's view after replay (`Compat.findConst`; in the v4.30 era never
        -- `Environment.find?` on `ofKernelEnv`, lean4#13783).
        let some ci := findConst env m | return .error s!"unknown constant {m} reached from {root}"
        for c in mentions ci do
          let ck := blockOf env c
          unless setContains seen ck do
            seen := setInsert seen ck
            children := children.push ck
      if finish then
        let mut found : Array Name := #[]
        for m in members do
          if findConst env m matches some (.axiomInfo _) then found := found.push m
        for c in children do
          for a in (mapGet? memo c).getD #[] do
            unless found.contains a do found := found.push a
        memo := mapInsert memo k found
        onPath := setErase onPath k
      else
        if setContains onPath k then return .error s!"a dependency cycle through {k} from {root}"
        onPath := setInsert onPath k
        stack := (k, true) :: stack
        for c in children do
          unless mapContains memo c do stack := (c, false) :: stack
  return .ok memo

/-- The axioms `n` reaches, once `walkAxioms` has walked a root whose closure holds it. -/
def axiomsIn (env : KEnv) (memo : AxiomMemo) (n : Name) : Option (Array Name) :=
  (mapGet? memo (blockOf env n)).map (·.qsort byName)

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
def closureProblem (ch : HMap Name ConstantInfo) (env : KEnv) (target : Name)
    (holes : Array Name) : Option (Name × String) := Id.run do
  let some root := mapGet? ch target | return some (target, "not in the challenge")
  let mut seen : HSet Name := setInsert setEmpty target
  -- The answer holes are checked even where the statement does not mention them.
  let mut todo : List Name := (usedNames root.type ++ holes).toList
  while true do
    match todo with
    | [] => break
    | n :: rest =>
      todo := rest
      if setContains seen n then continue
      seen := setInsert seen n
      let some c := mapGet? ch n | continue
      let some s := findConst env n | return some (n, "the submission does not declare it")
      match c, s with
      | .defnInfo cv, .defnInfo sv =>
        if holes.contains n then
          unless cv.toConstantVal == sv.toConstantVal && cv.safety == sv.safety do
            return some (n, "the answer hole's type changed")
          todo := (usedNames cv.type).toList ++ todo
          continue
        unless c == s do return some (n, "the definition changed")
        todo := (mentions c).toList ++ todo
      | .thmInfo cv, .thmInfo sv =>
        unless cv.toConstantVal == sv.toConstantVal do
          return some (n, "the theorem's statement changed")
        todo := (usedNames cv.type).toList ++ todo
      | _, _ =>
        unless c == s do return some (n, s!"the {kindOf c} changed")
        todo := (mentions c).toList ++ todo
  return none

end Proofgate.Checker
