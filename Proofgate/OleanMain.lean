/-
The version presets' `proofgate-checker` (`lean_exe` root of each `LeanProjects/<preset>/lakefile.lean`):
contract 1 on the shared sources and the preset's API era module. The root project's checker is
`Proofgate/Checker.lean` (contract 1 plus the export and serve modes).
UNTESTED AGAINST REAL LEAN: no toolchain runs where proofgate is developed.
-/
import Proofgate.OleanCheck

def main (args : List String) : IO UInt32 :=
  Proofgate.Checker.runOlean args
