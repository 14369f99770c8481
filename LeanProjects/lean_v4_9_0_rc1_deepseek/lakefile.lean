import Lake
open Lake DSL

/-!
proofgate preset `lean_v4_9_0_rc1_deepseek`: the DeepSeek-Prover-V1.5 / Goedel-Prover miniF2F
lineage's own environment.

Lean v4.9.0-rc1 with the Mathlib fork commit those repositories record as their `mathlib4`
submodule (xinhjBrant/mathlib4, branch `deepseek`, 2f65ba7f): upstream Mathlib d1d1e4b7 with a
changed lakefile and manifest, Mathlib's own sources untouched. The REPL is upstream's `v4.9.0-rc1`
tag, the commit DeepSeek's own REPL fork branches from: proofgate speaks the upstream protocol, and
the fork's additions (data extraction on by default) are not wanted. The fork's lakefile also
requires `REPL` (DeepSeek's fork); this project requires upstream's first and `lake-manifest.json`
pins that name to it. Where each pin comes from: LeanProjects/README.md.
Untested against real Lean: no toolchain runs where proofgate is developed.
-/

package «lean_v4_9_0_rc1_deepseek»

-- The commit itself, not the branch: the lineage records this commit, and a branch can move.
require mathlib from git
  "https://github.com/xinhjBrant/mathlib4" @ "2f65ba7f1a9144b20c8e7358513548e317d26de1"

-- v4.9.0-rc1 predates the REPL's flush fix (4fc1e6d, first in v4.10.0): proofgate runs it under
-- `stdbuf -oL` (docs/repl-versions.md).
require REPL from git
  "https://github.com/leanprover-community/repl" @ "v4.9.0-rc1"

-- proofgate's trusted checker (`lake build proofgate-checker`; docs/checker-contract.md, contract 1
-- only): the shared sources of the root project (`../..`: `Proofgate/Common.lean`, `Rebuild.lean`,
-- `OleanCheck.lean`, `OleanMain.lean`) with this toolchain's API era module
-- `Proofgate/Eras/v4_9/Proofgate/Compat.lean` (Lean v4.9: core `Lean.Environment.replay` on a `Lean.HashMap`).
-- The root project cannot be required as a package (it requires another Mathlib), so its sources
-- are read in place: each `lean_lib` names its modules as roots, so no two libraries claim one.
-- Untested against real Lean, like the checker's sources.
lean_lib ProofgateChecker where
  srcDir := "../.."
  roots := #[`Proofgate.Common, `Proofgate.Rebuild, `Proofgate.OleanCheck]

lean_lib ProofgateCompat where
  srcDir := "../../Proofgate/Eras/v4_9"
  roots := #[`Proofgate.Compat]

lean_exe «proofgate-checker» where
  srcDir := "../.."
  root := `Proofgate.OleanMain
