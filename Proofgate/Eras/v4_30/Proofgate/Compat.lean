/-
proofgate's checker, API era `v4_30`: Lean v4.30 and later (the root project, the `default`
environment, v4.32.0). The same names with the same types as every era module
(docs/checker-contract.md, "API eras"), for the shared checker (`Proofgate/Common.lean`,
`Proofgate/Rebuild.lean`, `Proofgate/OleanCheck.lean`) and the export and serve modes of
`Proofgate/Checker.lean`, which only this era builds.

UNTESTED AGAINST REAL LEAN: no toolchain runs where proofgate is developed. Read, not run, from
Lean core's `src/Lean/Replay.lean` (`Lean.Environment.replay`, back in core via lean4#12972),
`src/Lean/Environment.lean` (`readModuleData`, `importModules` with `loadExts := false` and
`level := .private` by default, `ModuleData.isModule`, `toKernelEnv`; `ofKernelEnv` + `find?` is
lean4#13783) and comparator's tag v4.32.0 (the `BEq` derivations).
-/
import Lean

open Lean

namespace Proofgate.Compat

def era : String := "v4_30"

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

/-! Environments: core's replay extends an `Environment`; the checker reads the kernel's view of
it (`toKernelEnv`, then `Kernel.Environment.find?`). -/

abbrev KEnv := Kernel.Environment
@[inline] def findConst (env : KEnv) (n : Name) : Option ConstantInfo := env.find? n

abbrev ReplayEnv := Environment
@[inline] def startReplay (env : Environment) : ReplayEnv := env
@[inline] def kernelOf (env : ReplayEnv) : KEnv := env.toKernelEnv

/-- `Lean.Environment.replay (newConstants : Std.HashMap Name ConstantInfo) (env) : IO Environment`,
module `Lean.Replay` (v4.30 on; `Kernel.Environment.replay` from v4.34, lean4#14391). -/
def replayInto (env : ReplayEnv) (consts : HMap Name ConstantInfo) : IO ReplayEnv :=
  env.replay consts

/-- `Lean.importModules imports opts`: defaults `trustLevel := 0`, `loadExts := false` (no
extension state, no initializers run), `level := .private`. -/
def importBase (imports : Array Import) : IO Environment := importModules imports {}

/-- `Lean.readModuleData : FilePath → IO (ModuleData × CompactedRegion)`; the region stays mapped
until the process exits. -/
def readModule (path : System.FilePath) : IO ModuleData := do
  let (mod, _) ← readModuleData path
  return mod

def usesModuleSystem (mod : ModuleData) : Bool := mod.isModule

def freshString (s : String) : String := String.ofList s.toList

def freshNested {m : Type → Type} [Monad m] (v : InductiveVal) (nat : Nat → m Nat) :
    m InductiveVal := do
  return { v with numNested := ← nat v.numNested }

-- `ConstantInfo` has no `BEq` in core; comparator derives it the same way (Comparator/Compare.lean
-- at tag v4.32.0), the other `*Val` structures already have one.
deriving instance BEq for QuotKind, QuotVal, InductiveVal, ConstantInfo

end Proofgate.Compat
