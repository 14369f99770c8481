import Lake
open Lake DSL

/-!
proofgate's root Lake project: the `default` environment.

It pins Mathlib and the Lean REPL to the toolchain in `lean-toolchain`; `lake-manifest.json` pins
their exact commits. proofgate's own Lean targets (the trusted checker) live here too.
-/

package proofgate where
  -- These options apply only when Lake builds this package's own modules (the checker). They do
  -- not reach `lake env lean` or the REPL, so submissions are not checked under them: a check
  -- runs under its environment's option set (`proofgate-options.json`, default none: Lean's own
  -- defaults), passed to every Lean process explicitly (docs/verdicts.md, "Options").
  leanOptions := #[
    ⟨`autoImplicit, false⟩,
    ⟨`relaxedAutoImplicit, false⟩
  ]

require mathlib from git
  "https://github.com/leanprover-community/mathlib4" @ "v4.32.0"

require REPL from git
  "https://github.com/leanprover-community/repl" @ "v4.32.0"

-- proofgate's own Lean code: the trusted checker (`Proofgate/Checker.lean`; its contract-1 logic,
-- shared with the presets, in `Proofgate/Common.lean`, `Rebuild.lean`, `OleanCheck.lean`), its reader of
-- exports (`Proofgate/ExportParse.lean`, docs/export-format.md) and its serve mode's request
-- reader (`Proofgate/Serve.lean`), which the checker imports, and the two untrusted programs that
-- write exports through one writer (`Proofgate/ExportWrite.lean`): the exporter
-- (`Proofgate/Export.lean`) and the one-shot elaborator (`Proofgate/Elab.lean`). Lake builds a module as this
-- library's only when one of its globs matches it, and the default globs are the roots themselves
-- (`LeanLibConfig.isBuildableModule`), so each module is a root.
-- Untested against real Lean: no toolchain runs where proofgate is developed.
lean_lib Proofgate where
  roots := #[`Proofgate.Checker, `Proofgate.Common, `Proofgate.Rebuild, `Proofgate.OleanCheck,
    `Proofgate.ExportParse, `Proofgate.Serve, `Proofgate.ExportWrite, `Proofgate.Export,
    `Proofgate.Elab, `Proofgate.Zygote]

-- The checker's API era module for this toolchain (v4.30 on: core's replay is back): the one
-- module whose names differ between Lean versions. Each preset under LeanProjects/ builds the
-- shared sources above with its own era's (docs/checker-contract.md, "API eras").
lean_lib ProofgateCompat where
  srcDir := "Proofgate/Eras/v4_30"
  roots := #[`Proofgate.Compat]

-- The trusted checker: `lake build proofgate-checker`, run by the audit under `lake env`.
-- See docs/checker-contract.md.
lean_exe «proofgate-checker» where
  root := `Proofgate.Checker

-- The exporter: `lake build proofgate-export`. Reads the `.olean` a jailed `lean -o` compile just
-- wrote and writes the module's new constants as an export (docs/export-format.md). Untrusted and
-- short-lived: it loads an attacker-influenced memory image; the checker parses its output.
-- See docs/audit-design.md, section 9, step 3.
lean_exe «proofgate-export» where
  root := `Proofgate.Export

-- The elaboration zygote's native shim (`Proofgate/native/zygote.c`: fork, the children's
-- confinement and seccomp filter, the task manager around the fork), bound in Lean by
-- `Proofgate/Zygote.lean`. Compiled with the toolchain's own C compiler (`buildLeanO`), which sees
-- no system header (`-nostdinc`): the file includes lean.h only and declares the rest itself, so
-- no system C compiler or libc headers are needed where `proofgate-elab` is built.
-- Written after Lake's `buildLeanO`, `buildO`, `inputTextFile` and `getLeanIncludeDir` (stored
-- versions of Lake's `Build/Common.lean`) and projects that link a C object through
-- `moreLinkObjs` with a `target NAME pkg : FilePath`. Untested against real Lean (never built).
target proofgateZygoteO pkg : System.FilePath := do
  let src ← inputTextFile <| pkg.dir / "Proofgate" / "native" / "zygote.c"
  buildLeanO (pkg.buildDir / "native" / "zygote.o") src
    #["-I", (← getLeanIncludeDir).toString] #["-O2", "-fPIC", "-std=c11"]

-- The one-shot elaborator: `lake build proofgate-elab`. A fresh process per request imports the
-- header, elaborates the body under the main module `ProofgateSubmission`, and writes the
-- REPL-shaped reply and the export of the new constants (docs/audit-design.md, section 9, step 6);
-- it replaces `lean -o` plus `proofgate-export` when `PROOFGATE_AUDIT_COMPILER=elab`. Untrusted
-- and short-lived: it runs the submission's elaboration. Untested against real Lean.
lean_exe «proofgate-elab» where
  root := `Proofgate.Elab
  -- `--zygote` (docs/audit-design.md, section 9, step 7): the native shim above, linked into this
  -- executable only
  moreLinkObjs := #[proofgateZygoteO]
