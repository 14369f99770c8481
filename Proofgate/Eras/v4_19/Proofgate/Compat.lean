/-
proofgate's checker, API era `v4_19`: Lean v4.19 to v4.29 (the preset `lean_v4_26_0`). The same
names with the same types as every era module (docs/checker-contract.md, "API eras"), for the
shared checker (`Proofgate/Common.lean`, `Proofgate/Rebuild.lean`, `Proofgate/OleanCheck.lean`).

Core's `Lean.Environment.replay` was deprecated in v4.19 and removed after (lean4checker's tag
v4.26.0 carries its own, `Lean4Checker/Replay.lean`), and is back in core from v4.30: this era
replays by itself (`replayInto` below, proofgate's own code), on a `Kernel.Environment`.

UNTESTED AGAINST REAL LEAN: no toolchain runs where proofgate is developed. Read, not run, from
lean4checker's tag v4.26.0 (`Kernel.Environment.addDeclCore env 0 decl (cancelTk? := none)`,
`Kernel.Exception.toMessageData`, `Environment.toKernelEnv`, `Declaration.inductDecl`) and the
REPL's tag v4.26.0 (`importModules imports {} 0 (loadExts := ...)`).
-/
import Lean

open Lean

namespace Proofgate.Compat

def era : String := "v4_19"

abbrev HMap (κ α : Type) [BEq κ] [Hashable κ] := Std.HashMap κ α
abbrev HSet (κ : Type) [BEq κ] [Hashable κ] := Std.HashSet κ

section
variable {κ α : Type} [BEq κ] [Hashable κ]
@[inline] def mapEmpty : HMap κ α := {}
@[inline] def mapInsert (m : HMap κ α) (k : κ) (v : α) : HMap κ α := m.insert k v
@[inline] def mapGet? (m : HMap κ α) (k : κ) : Option α := m.get? k
@[inline] def mapContains (m : HMap κ α) (k : κ) : Bool := m.contains k
@[inline] def mapToList (m : HMap κ α) : List (κ × α) := m.toList
@[inline] def setEmpty : HSet κ := {}
@[inline] def setInsert (s : HSet κ) (k : κ) : HSet κ := s.insert k
@[inline] def setContains (s : HSet κ) (k : κ) : Bool := s.contains k
@[inline] def setErase (s : HSet κ) (k : κ) : HSet κ := s.erase k
end

/-! Environments: the replay works on the kernel's environment and the checker reads it there. -/

abbrev KEnv := Kernel.Environment
@[inline] def findConst (env : KEnv) (n : Name) : Option ConstantInfo := env.find? n

abbrev ReplayEnv := Kernel.Environment
@[inline] def startReplay (env : Environment) : ReplayEnv := env.toKernelEnv
@[inline] def kernelOf (env : ReplayEnv) : KEnv := env

deriving instance BEq for QuotKind, QuotVal, InductiveVal, ConstantInfo

/-! ### Replay (this era's own)

Each new constant goes to the kernel after every new constant it mentions, as the declaration its
`ConstantInfo` describes; an inductive family goes as one `inductDecl` built from its types and
their constructors. Constructors and recursors are never sent: after everything is in, each must
equal the one the kernel generated (else the `.olean` lied about it). -/

/-- The new constants `n`'s declaration depends on. An inductive stands for its whole family: the
types and constructors of every member, the family's own names left out. -/
def replayDeps (consts : HMap Name ConstantInfo) (ci : ConstantInfo) : Array Name := Id.run do
  let family : List Name := match ci with
    | .inductInfo v => v.all
    | _ => []
  let mut parts : Array ConstantInfo := #[ci]
  for i in family do
    if let some (.inductInfo iv) := consts.get? i then
      parts := parts.push (.inductInfo iv)
      for c in iv.ctors do
        if let some cc := consts.get? c then parts := parts.push cc
  let mut out : Array Name := #[]
  for p in parts do
    for n in p.getUsedConstants do
      let own := family.contains n || parts.any (·.name == n)
      if !own && consts.contains n && !out.contains n then out := out.push n
  return out

/-- The kernel's verdict on one declaration, its refusal as an `IO` error. -/
def addToKernel (env : Kernel.Environment) (decl : Declaration) : IO Kernel.Environment := do
  match env.addDeclCore 0 decl (cancelTk? := none) with
  | .ok next => return next
  | .error ex => throw <| IO.userError (← (ex.toMessageData {}).toString)

/-- One inductive family as the kernel takes it. -/
def familyDecl (consts : HMap Name ConstantInfo) (v : InductiveVal) : Except String Declaration := do
  let mut types : List InductiveType := []
  for i in v.all do
    let some (.inductInfo iv) := consts.get? i | throw s!"{i}, of the family of {v.name}, is missing"
    let mut ctors : List Constructor := []
    for c in iv.ctors do
      let some (.ctorInfo cv) := consts.get? c | throw s!"the constructor {c} of {i} is missing"
      ctors := ctors ++ [{ name := cv.name, type := cv.type }]
    types := types ++ [{ name := iv.name, type := iv.type, ctors }]
  return .inductDecl v.levelParams v.numParams types v.isUnsafe

/-- Replay `consts` (the caller left out unsafe and partial ones) onto `env`. -/
def replayInto (env : ReplayEnv) (consts : HMap Name ConstantInfo) : IO ReplayEnv := do
  let mut env := env
  let mut done : HSet Name := {}
  let roots := (consts.toList.map (·.1)).toArray.qsort (·.toString < ·.toString)
  for root in roots do
    -- Post-order, with an explicit stack; a name met again while its own deps are pending (a
    -- constructor naming its inductive) is skipped, the family being sent whole.
    let mut stack : List (Name × Bool) := [(root, false)]
    let mut open_ : HSet Name := {}
    while true do
      match stack with
      | [] => break
      | (n, finish) :: rest =>
        stack := rest
        if done.contains n then continue
        let some ci := consts.get? n | continue
        if !finish then
          if open_.contains n then continue
          open_ := open_.insert n
          stack := (n, true) :: stack
          for d in replayDeps consts ci do
            unless done.contains d do stack := (d, false) :: stack
          continue
        match ci with
        | .defnInfo v => env ← addToKernel env (.defnDecl v)
        | .thmInfo v => env ← addToKernel env (.thmDecl v)
        | .axiomInfo v => env ← addToKernel env (.axiomDecl v)
        | .opaqueInfo v => env ← addToKernel env (.opaqueDecl v)
        | .quotInfo _ => if (env.find? n).isNone then env ← addToKernel env .quotDecl
        | .inductInfo v =>
          match familyDecl consts v with
          | .ok decl => env ← addToKernel env decl
          | .error why => throw <| IO.userError s!"(replay) {why}"
          for i in v.all do done := done.insert i
        | .ctorInfo _ | .recInfo _ => pure ()  -- compared below
        done := done.insert n
  -- Constructors and recursors: exactly what the kernel generated from the replayed families.
  for (n, ci) in consts.toList do
    match ci with
    | .ctorInfo _ | .recInfo _ =>
      match env.find? n with
      | some built => unless built == ci do throw <| IO.userError s!"(replay) invalid {n}"
      | none => throw <| IO.userError s!"(replay) {n} was not generated by its inductive"
    | _ => pure ()
  return env

def importBase (imports : Array Import) : IO Environment := importModules imports {} 0

def readModule (path : System.FilePath) : IO ModuleData := do
  let (mod, _) ← readModuleData path
  return mod

/-- The module system (`module`, v4.22 on) splits a module's data in parts: refused. -/
def usesModuleSystem (mod : ModuleData) : Bool := mod.isModule

def freshString (s : String) : String := s.toList.asString

def freshNested {m : Type → Type} [Monad m] (v : InductiveVal) (nat : Nat → m Nat) :
    m InductiveVal := do
  return { v with numNested := ← nat v.numNested }

end Proofgate.Compat
