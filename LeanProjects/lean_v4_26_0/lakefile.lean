import Lake
open Lake DSL

/-!
proofgate preset `lean_v4_26_0`: Lean v4.26.0 with Mathlib's `v4.26.0` tag (2df2f015) and the
REPL's `v4.26.0` tag.

The Kimina Lean Server's default (its `setup.sh` clones the REPL and Mathlib at the tag named by
`LEAN_SERVER_LEAN_VERSION`, `v4.26.0` since its commit fb2393de). Where each pin comes from:
LeanProjects/README.md.
Untested against real Lean: no toolchain runs where proofgate is developed.
-/

package «lean_v4_26_0»

require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "v4.26.0"

require REPL from git
  "https://github.com/leanprover-community/repl" @ "v4.26.0"

-- proofgate's trusted checker (`lake build proofgate-checker`; docs/checker-contract.md, contract 1
-- only): the shared sources of the root project (`../..`: `Proofgate/Common.lean`, `Rebuild.lean`,
-- `OleanCheck.lean`, `OleanMain.lean`) with this toolchain's API era module
-- `Proofgate/Eras/v4_19/Proofgate/Compat.lean` (Lean v4.19 to v4.29: no replay in core, the era module carries its own).
-- The root project cannot be required as a package (it requires another Mathlib), so its sources
-- are read in place: each `lean_lib` names its modules as roots, so no two libraries claim one.
-- Untested against real Lean, like the checker's sources.
lean_lib ProofgateChecker where
  srcDir := "../.."
  roots := #[`Proofgate.Common, `Proofgate.Rebuild, `Proofgate.OleanCheck]

lean_lib ProofgateCompat where
  srcDir := "../../Proofgate/Eras/v4_19"
  roots := #[`Proofgate.Compat]

lean_exe «proofgate-checker» where
  srcDir := "../.."
  root := `Proofgate.OleanMain
