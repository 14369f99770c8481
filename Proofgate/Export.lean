/-
proofgate-export: writes the new constants of one compiled module as an export in format 1
(docs/export-format.md), the data the trusted checker reads instead of a memory image
(docs/audit-design.md, requirement 2; section 9, migration step 3).

    proofgate-export --olean PATH --module NAME --out PATH [--option NAME=VALUE]...

UNTESTED AGAINST REAL LEAN. It has never been compiled: no Lean toolchain runs where proofgate is
developed. It was written for Lean v4.32.0 after reading lean4export's `Export.lean` and
`Main.lean` (its newest snapshot, toolchain v4.31.0-rc2), the `ModuleData`, `readModuleData` and
`mkModuleData` of `src/Lean/Environment.lean`, the `*Val` structures of `src/Lean/Declaration.lean`
and the private-name prefix of `src/Lean/PrivateName.lean` (stored versions of leanprover/lean4,
not the v4.32.0 tag itself), and Lean's `.olean` header (`src/library/module.cpp`, stored
versions: it holds no module name). It is not a copy of lean4export: it exports only the module's
own constants, numbers records by proofgate's rules, and never recurses on a term.
tests/verify/test_exporter_lean.py runs it in the real-Lean workflow.

Trust. This program is untrusted and short-lived: it loads an `.olean` that a compile of
submitted text wrote (`readModuleData` maps that memory image as it is), and everything it
writes is data the checker parses with its own safe reader (`Proofgate/ExportParse.lean`). A
crafted `.olean` can make it crash or write nonsense; it cannot make the checker trust anything.

What it writes (docs/export-format.md):
1. the `meta` line: the format's name and version (`Proofgate.ExportParse`'s constants, so the
   reader and the writer change together), `Lean.versionString` and `Lean.githash`, `--module`,
   the `.olean`'s header imports, and the `--option` pairs (`true`/`false` a boolean, a canonical
   numeral of at most 10 digits a natural, anything else a string; a later pair of the same name
   replaces an earlier one);
2. the module's own constants (`ModuleData.constNames`/`constants`, in that order): one `axiom`,
   `def`, `thm`, `opaque` or `quot` record each, and one `inductive` record per inductive block
   (its types in `all` order, their constructors, then every recursor of the module whose `all`
   names one of the types, `T.rec_1`... of a nested type included), written where the block's
   first constant comes. Unsafe and partial constants are written too (the checker lists them
   unreplayed). Each name, level and expression a record uses is written before the record;
3. the `end` trailer with the count of lines before it and of constants declared.

The writer itself (numbering, the records, the checks every list of constants passes) is
`Proofgate/ExportWrite.lean`, shared with `proofgate-elab` (`Proofgate/Elab.lean`); this file is
the `.olean` side: the command line, reading the `.olean` and its own consistency checks.

Refusals: one line `{"error": CODE, "detail": ...}` on stdout, exit 1, and no `--out` file left
behind. Codes: `bad_arguments`; `bad_olean` (unreadable, another toolchain's, compiled with the
module system, inconsistent: a name list that does not match the constants, a constant listed
twice, a constructor or recursor whose inductive type is not in the module);
`module_mismatch` (see `checkConstants` in `Proofgate/ExportWrite.lean`); `free_variable`; `metavariable`; `write_failed`;
`internal` (a term used before it was written: a bug of this program). Exit 0 means the whole
export, trailer included, was written and flushed.
-/
import Lean
import Proofgate.ExportWrite

open Lean

namespace Proofgate.Export

def usage : String :=
  "usage: proofgate-export --olean PATH --module NAME --out PATH [--option NAME=VALUE]..."

/-! ## The command line -/

structure Config where
  olean : Option System.FilePath := none
  module : Option String := none
  out : Option System.FilePath := none
  options : Array (String × Json) := #[]

structure Args where
  olean : System.FilePath
  module : String
  out : System.FilePath
  options : Array (String × Json)

def parseArgs (cfg : Config) : List String → Except String Args
  | [] =>
    match cfg.olean, cfg.module, cfg.out with
    | some olean, some module, some out =>
      if module.isEmpty then .error "--module is empty"
      else .ok { olean, module, out, options := cfg.options }
    | _, _, _ => .error "--olean, --module and --out are required"
  | "--olean" :: v :: rest =>
    if cfg.olean.isSome then .error "--olean is given twice"
    else parseArgs { cfg with olean := some v } rest
  | "--module" :: v :: rest =>
    if cfg.module.isSome then .error "--module is given twice"
    else parseArgs { cfg with module := some v } rest
  | "--out" :: v :: rest =>
    if cfg.out.isSome then .error "--out is given twice"
    else parseArgs { cfg with out := some v } rest
  | "--option" :: v :: rest =>
    match splitOption v with
    | none => .error s!"--option takes NAME=VALUE, not {v}"
    | some (name, text) =>
      if name.isEmpty then .error s!"--option {v} has no name"
      else match optionValue name text with
        | .error msg => .error msg
        | .ok value =>
          let kept := cfg.options.filter (·.1 != name)
          parseArgs { cfg with options := kept.push (name, value) } rest
  | [flag] =>
    if ["--olean", "--module", "--out", "--option"].contains flag then
      .error s!"{flag} needs a value"
    else .error s!"unexpected argument {flag}"
  | arg :: _ => .error s!"unexpected argument {arg}"

/-! ## Reading and checking the `.olean` -/

/-- The module data of one `.olean`, or why it cannot be read. `readModuleData`
(`src/Lean/Environment.lean`; `lean_read_module_data`) refuses a file written by another
toolchain (its header holds the Lean version and githash); the region it maps is never freed, so
the objects stay valid for the whole run (the address tables rely on it). -/
def readOlean (path : System.FilePath) : IO (Except String ModuleData) := do
  try
    let (mod, _) ← readModuleData path
    return .ok mod
  catch e => return .error s!"cannot read {path}: {e}"

/-- The checks made before anything is written: the `.olean`'s own consistency (`bad_olean`),
then `checkConstants` (no constant twice; private names of `--module` only, the one evidence of the
module it was compiled as: an `.olean` holds no module name), which `exportFile` applies. -/
def checkOlean (mod : ModuleData) : Option Refusal := Id.run do
  let bad (detail : String) : Option Refusal := some { code := "bad_olean", detail }
  if mod.isModule then
    return bad "the module was compiled with the module system (`module`): not supported"
  unless mod.constNames.size == mod.constants.size do
    return bad s!"the .olean lists {mod.constNames.size} names for {mod.constants.size} constants"
  for i in [0:mod.constNames.size] do
    let n := mod.constNames[i]!
    let c := mod.constants[i]!
    unless c.name == n do
      return bad s!"constant {i} is listed as {nameText n} but declares {nameText c.name}"
  return none

unsafe def runUnsafe (argv : List String) : IO UInt32 := do
  let args ← match parseArgs {} argv with
    | .ok args => pure args
    | .error msg =>
      IO.eprintln usage
      return (← refused { code := "bad_arguments", detail := msg })
  let mod ← match (← readOlean args.olean) with
    | .ok mod => pure mod
    | .error msg => return (← refused { code := "bad_olean", detail := msg })
  if let some r := checkOlean mod then
    return (← refused r)
  let header : ExportHeader :=
    { module := args.module, imports := mod.imports.map (·.module), options := args.options }
  match (← exportFile args.out header mod.constants) with
  | none => return 0
  | some r => refused r

@[implemented_by runUnsafe]
opaque run (argv : List String) : IO UInt32

end Proofgate.Export

def main (args : List String) : IO UInt32 :=
  Proofgate.Export.run args

