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
