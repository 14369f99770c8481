import Lake
open Lake DSL

/-!
proofgate's root Lake project: the `default` environment.

It pins Mathlib and the Lean REPL to the toolchain in `lean-toolchain`; `lake-manifest.json` pins
their exact commits. proofgate's own Lean targets (the trusted checker) live here too.
-/

package proofgate where
  -- Match Mathlib's own defaults, so a statement means here what it means in Mathlib.
  leanOptions := #[
    ⟨`autoImplicit, false⟩,
    ⟨`relaxedAutoImplicit, false⟩
  ]

require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "v4.32.0"

require REPL from git
  "https://github.com/leanprover-community/repl" @ "v4.32.0"

-- proofgate's own Lean code: the trusted checker (`Proofgate/Checker.lean`).
lean_lib Proofgate where
  roots := #[`Proofgate.Checker]

-- The trusted checker: `lake build proofgate-checker`, run by the audit under `lake env`.
-- See docs/checker-contract.md.
lean_exe «proofgate-checker» where
  root := `Proofgate.Checker
