/-
proofgate's checker, API era `v4_15`: Lean v4.15.x (the preset `lean_v4_15_0`). The same names
with the same types as every era module (docs/checker-contract.md, "API eras"), for the shared
checker (`Proofgate/Common.lean`, `Proofgate/Rebuild.lean`, `Proofgate/OleanCheck.lean`).

UNTESTED AGAINST REAL LEAN: no toolchain runs where proofgate is developed. Read, not run, from
lean4checker's tag v4.15.0 (Main.lean: core `Lean.Replay`, `env.replay newConstants`), the REPL's
tag v4.15.0 (REPL/Snapshots.lean: `(← importModules imports {} 0).replay (Std.HashMap.ofList
...)`, so core's replay takes a `Std.HashMap` here) and SafeVerify's `minif2f-kimina-check`
branch (Main.lean: `importModules mod.imports {} 0`, `env.replay`, `CollectAxioms` moved to
`Lean.Util.CollectAxioms`; proofgate walks axioms itself and uses neither).
-/
import Lean
import Lean.Replay

open Lean

namespace Proofgate.Compat

def era : String := "v4_15"

/-! Containers: `Std.HashMap` / `Std.HashSet` (core's replay takes a `Std.HashMap` here). -/

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

/-! Environments: the kernel's view is the `Environment` itself (core's replay returns one). -/

abbrev KEnv := Environment
@[inline] def findConst (env : KEnv) (n : Name) : Option ConstantInfo := env.find? n

abbrev ReplayEnv := Environment
@[inline] def startReplay (env : Environment) : ReplayEnv := env
@[inline] def kernelOf (env : ReplayEnv) : KEnv := env

/-- Core's `Lean.Environment.replay` (module `Lean.Replay`, in core up to v4.18). -/
def replayInto (env : ReplayEnv) (consts : HMap Name ConstantInfo) : IO ReplayEnv :=
  env.replay consts

def importBase (imports : Array Import) : IO Environment := importModules imports {} 0

def readModule (path : System.FilePath) : IO ModuleData := do
  let (mod, _) ← readModuleData path
  return mod

/-- No module system (`module`) in this era. -/
def usesModuleSystem (_ : ModuleData) : Bool := false

def freshString (s : String) : String := s.toList.asString

/-- `InductiveVal.numNested : Nat` (it replaced `isNested : Bool`), rebuilt like every count. -/
def freshNested {m : Type → Type} [Monad m] (v : InductiveVal) (nat : Nat → m Nat) :
    m InductiveVal := do
  return { v with numNested := ← nat v.numNested }

deriving instance BEq for ReducibilityHints, DefinitionSafety, QuotKind, ConstantVal, AxiomVal,
  DefinitionVal, TheoremVal, OpaqueVal, QuotVal, InductiveVal, ConstructorVal, RecursorRule,
  RecursorVal, ConstantInfo

end Proofgate.Compat
