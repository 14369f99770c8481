import Lake
open Lake DSL

/-!
proofgate preset `lean_v4_15_0`: Lean v4.15.0 with Mathlib's `v4.15.0` tag (9837ca9d) and the
REPL's `v4.15.0` tag.

The environment of Kimina-Prover-Preview's published miniF2F solved set (its
`minif2f_test_solved` project pins Mathlib 9837ca9d, `inputRev` `v4.15.0`); that project's own
`checkdecls` dependency is left out. Where each pin comes from: LeanProjects/README.md.
Untested against real Lean: no toolchain runs where proofgate is developed.
-/

package «lean_v4_15_0»

require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "v4.15.0"

require REPL from git
  "https://github.com/leanprover-community/repl" @ "v4.15.0"

-- proofgate's trusted checker (`lake build proofgate-checker`; docs/checker-contract.md, contract 1
-- only): the shared sources of the root project (`../..`: `Proofgate/Common.lean`, `Rebuild.lean`,
-- `OleanCheck.lean`, `OleanMain.lean`) with this toolchain's API era module
-- `Proofgate/Eras/v4_15/Proofgate/Compat.lean` (Lean v4.15: core `Lean.Environment.replay` on a `Std.HashMap`).
-- The root project cannot be required as a package (it requires another Mathlib), so its sources
-- are read in place: each `lean_lib` names its modules as roots, so no two libraries claim one.
-- Untested against real Lean, like the checker's sources.
lean_lib ProofgateChecker where
  srcDir := "../.."
  roots := #[`Proofgate.Common, `Proofgate.Rebuild, `Proofgate.OleanCheck]

lean_lib ProofgateCompat where
  srcDir := "../../Proofgate/Eras/v4_15"
  roots := #[`Proofgate.Compat]

lean_exe «proofgate-checker» where
  srcDir := "../.."
  root := `Proofgate.OleanMain
