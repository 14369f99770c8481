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
