import Lake
open Lake DSL

/-!
proofgate preset `lean_v4_9_0`: Lean v4.9.0 with Mathlib's `v4.9.0` tag (f0957a75) and the REPL's
`v4.9.0` tag.

The setting SafeVerify's `minif2f-deepseek-check` branch re-checks DeepSeek-Prover-V2's published
miniF2F solutions in; the nearest Mathlib tag to the DeepSeek-Prover-V1.5 / Goedel-Prover fork
(whose Mathlib is an ancestor of f0957a75). The lineage's exact environment is
`lean_v4_9_0_rc1_deepseek`. Where each pin comes from: LeanProjects/README.md.
Untested against real Lean: no toolchain runs where proofgate is developed.
-/

package «lean_v4_9_0»

require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "v4.9.0"

-- The REPL's v4.9.0 never flushes its replies (fixed by 4fc1e6d, first in v4.10.0): proofgate runs
-- it under `stdbuf -oL` (docs/repl-versions.md).
require REPL from git
  "https://github.com/leanprover-community/repl" @ "v4.9.0"

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
