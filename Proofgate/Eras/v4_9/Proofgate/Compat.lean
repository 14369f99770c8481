/-
proofgate's checker, API era `v4_9`: Lean v4.9.0-rc1 and v4.9.x (the presets `lean_v4_9_0` and
`lean_v4_9_0_rc1_deepseek`). The era-dependent names the shared checker
(`Proofgate/Common.lean`, `Proofgate/Rebuild.lean`, `Proofgate/OleanCheck.lean`) calls, and nothing
else: containers, the kernel environment, replay, reading and importing modules. Every era module
defines the same names with the same types (docs/checker-contract.md, "API eras").

UNTESTED AGAINST REAL LEAN: no toolchain runs where proofgate is developed. Read, not run, from
lean4checker's tag v4.9.0 (Main.lean: core `Lean.Replay`, `readModuleData`, `importModulesCore`),
the REPL's tag v4.9.0 (REPL/Snapshots.lean: `(← importModules imports {} 0).replay
(HashMap.ofList ...)`, so core's replay takes a `Lean.HashMap`) and SafeVerify's
`minif2f-deepseek-check` branch (Main.lean: `importModules mod.imports {} 0`, `env.replay`).
-/
import Lean
import Lean.Replay

open Lean

namespace Proofgate.Compat

def era : String := "v4_9"

/-! Containers: `Lean.HashMap` / `Lean.HashSet` (core's replay takes a `Lean.HashMap` here). -/

abbrev HMap (κ α : Type) [BEq κ] [Hashable κ] := Lean.HashMap κ α
abbrev HSet (κ : Type) [BEq κ] [Hashable κ] := Lean.HashSet κ

section
variable {κ α : Type} [BEq κ] [Hashable κ]
@[inline] def mapEmpty : HMap κ α := Lean.HashMap.empty
@[inline] def mapInsert (m : HMap κ α) (k : κ) (v : α) : HMap κ α := m.insert k v
@[inline] def mapGet? (m : HMap κ α) (k : κ) : Option α := m.find? k
@[inline] def mapContains (m : HMap κ α) (k : κ) : Bool := m.contains k
@[inline] def mapToList (m : HMap κ α) : List (κ × α) := m.toList
@[inline] def setEmpty : HSet κ := Lean.HashSet.empty
@[inline] def setInsert (s : HSet κ) (k : κ) : HSet κ := s.insert k
@[inline] def setContains (s : HSet κ) (k : κ) : Bool := s.contains k
@[inline] def setErase (s : HSet κ) (k : κ) : HSet κ := s.erase k
end

/-! Environments: no `Kernel.Environment` yet; the kernel's view is the `Environment` itself. -/

abbrev KEnv := Environment
@[inline] def findConst (env : KEnv) (n : Name) : Option ConstantInfo := env.find? n

/-- What a replay extends, block after block. -/
abbrev ReplayEnv := Environment
@[inline] def startReplay (env : Environment) : ReplayEnv := env
@[inline] def kernelOf (env : ReplayEnv) : KEnv := env

/-- Core's `Lean.Environment.replay` (module `Lean.Replay`): every constant of `consts` to the
kernel, constructors and recursors compared with the ones their inductive generates. -/
def replayInto (env : ReplayEnv) (consts : HMap Name ConstantInfo) : IO ReplayEnv :=
  env.replay consts

/-- `importModules imports opts trustLevel`: no extension state is needed here. -/
def importBase (imports : Array Import) : IO Environment := importModules imports {} 0

/-- `readModuleData : FilePath → IO (ModuleData × CompactedRegion)`; the region stays mapped. -/
def readModule (path : System.FilePath) : IO ModuleData := do
  let (mod, _) ← readModuleData path
  return mod

/-- No module system (`module`) before v4.2x: no `.olean` of this era uses it. -/
def usesModuleSystem (_ : ModuleData) : Bool := false

/-- A fresh copy of a string's characters. -/
def freshString (s : String) : String := s.toList.asString

/-- `InductiveVal` has `isNested : Bool` here (a scalar, copied); `numNested : Nat` came later. -/
def freshNested {m : Type → Type} [Monad m] (v : InductiveVal) (_ : Nat → m Nat) :
    m InductiveVal :=
  pure v

/-- Whole-`ConstantInfo` equality (comparator's rule). Derived for every part, since which ones
core already compares differs by version; a second instance is harmless. -/
deriving instance BEq for ReducibilityHints, DefinitionSafety, QuotKind, ConstantVal, AxiomVal,
  DefinitionVal, TheoremVal, OpaqueVal, QuotVal, InductiveVal, ConstructorVal, RecursorRule,
  RecursorVal, ConstantInfo

end Proofgate.Compat
