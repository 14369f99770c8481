/-
proofgate-elab, one-shot: a fresh process per request that imports the header, elaborates the body
under the main module `ProofgateSubmission`, writes the feedback reply in the REPL's
`CommandResponse` shape and the export of the new constants (docs/audit-design.md, section 9,
step 6; docs/export-format.md). It replaces the audit's `lean -o` compile plus the separate
`proofgate-export` process on the warm-checker path (`PROOFGATE_AUDIT_COMPILER=elab`).

    proofgate-elab --request PATH --reply PATH --export PATH [--option NAME=VALUE]...

UNTESTED AGAINST REAL LEAN. It has never been compiled: no Lean toolchain runs where proofgate is
developed. tests/verify/test_elab_lean.py runs it in the real-Lean workflow. Written for Lean
v4.32.0 after reading (stored versions of leanprover/lean4 unless a tag is named):
- leanprover-community/repl at tag v4.32.0: `REPL/Frontend.lean` (`processInput`: `initSearchPath`
  of `findSysroot`, `enableInitializersExecution`, `Parser.mkInputContext`, `Parser.parseHeader`,
  `processHeader header opts messages inputCtx`, `Command.mkState env messages opts`, then
  `IO.processCommands` from the header's parser state; a later command on a kept state starts
  from a fresh `Parser.ModuleParserState`), `REPL/JSON.lean` (`Message.of`: positions, severity
  `info`/`warning`/`error`, `(← m.data.toString).trimAscii.toString`; `CommandResponse`: `env`,
  lists left out when empty);
- `src/Lean/Elab/Frontend.lean` (`IO.processCommands`, its result's `commandState`; `runFrontend`
  writes no `.olean` when a message is an error, and sets `Elab.async`);
- `src/Lean/Elab/Import.lean` (`processHeader`'s `leakEnv` parameter; an import failure becomes
  a message, not an exception);
- `src/Lean/Environment.lean` (`setMainModule`, `Environment.header.imports`, `toKernelEnv` and
  `mkModuleData`, which folds stage 2 of the kernel environment's constants: the same set is
  exported here); a stored `src/Lean/Language/Lean.lean` comment: `Command.mkState` derives the
  auxiliary-name prefix from the main module, so it is set before `mkState`;
- `src/Lean/Language/Lean.lean` (`Language.Lean.reparseOptions`: `-D` values left as strings are
  typed by the declarations the import registered, an unknown name refused).
Used from memory, not read: `IO.FS.readBinFile`, `IO.FS.writeFile`, `MessageLog.hasErrors`,
`MessageLog.toList`, `KVMap.insert` with `DataValue.ofString`, `Position`'s fields.

Request (`--request`): one JSON object, at most `maxRequestBytes` bytes (a final `\n` allowed),
exactly the keys `header` (the normalized header: `import` lines, `proofgate.lean.header`) and
`body` (the text after it), both strings. A zygote child (design step 7) will get the body only.

What it does, as the REPL pool runs a header command and then a body on its environment:
1. header: parse it, import it (`leakEnv := true`), set the main module `ProofgateSubmission`,
   type the `--option`s (an unknown or ill-typed one is an error message of the header, as
   `lean -D` makes it one of the file), `Command.mkState`, elaborate the rest of the header text;
2. unless the header has an error: the body on that state, from a fresh parser state, messages
   cleared, `Elab.async` off (every message is in when `processCommands` returns);
3. writes `--reply`: `{"header": R, "body": R}` with R the REPL's `CommandResponse` shape (`env`
   0, `messages` when any; no `sorries`, which need the REPL's info-tree walk: feedback from this
   process is step 8), `body` left out when the header had an error. Positions are those the REPL
   gives: the header's in the header text, the body's in the body text;
4. unless a message of either is an error (no `.olean` either then, as `lean -o`): takes the
   constants of `env.toKernelEnv` (it waits for every kernel check) stage 2, the set
   `mkModuleData` writes, and exports them with `Proofgate/ExportWrite.lean`'s writer (the same as
   `proofgate-export`'s): meta line with module `ProofgateSubmission`, the header's imports and
   the typed options.

Exit 0: the reply is written, and the export exactly when no message is an error. Exit 1: one
line `{"error": CODE, "detail": ...}` on stdout, and neither `--reply` nor `--export` left
behind. Codes: `bad_arguments` (as `proofgate-export`'s), `bad_request` (unreadable, over the
limit, not UTF-8, not one JSON object of the two string keys), `elaboration_failed` (Lean threw
while elaborating: the text's fault, as a compile that stops), `write_failed`, and the writer's
`module_mismatch`, `free_variable`, `metavariable`, `internal`. Any other exit (a signal, Lean's
stack-overflow abort) is the process's, as for `lean`.

Trust. Untrusted and short-lived: it runs the submission's elaboration, which can run code. What
it writes is data: the checker parses the export with safe code (`Proofgate/ExportParse.lean`).
-/
import Lean
import Proofgate.ExportWrite

open Lean

namespace Proofgate.Elab

open Proofgate.Export (Refusal ExportHeader exportFile refused optionValue splitOption)

/-- The main module every request is elaborated under (the audit's `MODULE`). -/
def mainModule : Name := `ProofgateSubmission

/-- The largest request read, in bytes: a submission is one small file. -/
def maxRequestBytes : Nat := 1024 * 1024

def usage : String :=
  "usage: proofgate-elab --request PATH --reply PATH --export PATH [--option NAME=VALUE]..."

/-! ## The command line -/

structure Config where
  request : Option System.FilePath := none
  reply : Option System.FilePath := none
  exportPath : Option System.FilePath := none
  options : Array (String × String) := #[]

structure Args where
  request : System.FilePath
  reply : System.FilePath
  exportPath : System.FilePath
  /-- As given (a later pair of one name replaces an earlier one): Lean types them after import. -/
  options : Array (String × String)
  /-- The same, typed as the export's meta line types them (`optionValue`). -/
  typed : Array (String × Json)

def parseArgs (cfg : Config) : List String → Except String Args
  | [] =>
    match cfg.request, cfg.reply, cfg.exportPath with
    | some request, some reply, some exportPath => do
      let typed ← cfg.options.mapM fun (n, v) => do return (n, ← optionValue n v)
      return { request, reply, exportPath, options := cfg.options, typed }
    | _, _, _ => .error "--request, --reply and --export are required"
  | "--request" :: v :: rest =>
    if cfg.request.isSome then .error "--request is given twice"
    else parseArgs { cfg with request := some v } rest
  | "--reply" :: v :: rest =>
    if cfg.reply.isSome then .error "--reply is given twice"
    else parseArgs { cfg with reply := some v } rest
  | "--export" :: v :: rest =>
    if cfg.exportPath.isSome then .error "--export is given twice"
    else parseArgs { cfg with exportPath := some v } rest
  | "--option" :: v :: rest =>
    match splitOption v with
    | none => .error s!"--option takes NAME=VALUE, not {v}"
    | some (name, text) =>
      if name.isEmpty then .error s!"--option {v} has no name"
      else
        let kept := cfg.options.filter (·.1 != name)
        parseArgs { cfg with options := kept.push (name, text) } rest
  | [flag] =>
    if ["--request", "--reply", "--export", "--option"].contains flag then
      .error s!"{flag} needs a value"
    else .error s!"unexpected argument {flag}"
  | arg :: _ => .error s!"unexpected argument {arg}"

/-! ## The request -/

structure Request where
  header : String
  body : String

/-- The request file as a `Request`, or why it is not one. Scanned by the export reader first
(`ExportParse.scanLine`: nesting bounded before `Json.parse` recurses), a repeated key refused,
as `Proofgate/Serve.lean` reads a checker request. -/
def readRequest (path : System.FilePath) : IO (Except String Request) := do
  let mut bytes := ByteArray.empty
  try bytes ← IO.FS.readBinFile path
  catch e => return .error s!"cannot read {path}: {e}"
  if bytes.size > maxRequestBytes + 1 then
    return .error s!"the request has {bytes.size} bytes, more than {maxRequestBytes}"
  let bytes := if bytes.size > 0 && bytes[bytes.size - 1]! == 10 then
    bytes.extract 0 (bytes.size - 1) else bytes
  let some text := String.fromUTF8? bytes | return .error "the request is not UTF-8"
  let colons ← match ExportParse.scanLine bytes with
    | .ok n => pure n
    | .error (_, reason) => return .error reason
  let j ← match Json.parse text with
    | .ok j => pure j
    | .error e => return .error s!"the request is not JSON ({e})"
  unless ExportParse.countKeys j == colons do return .error "the request repeats a key"
  let .obj kvs := j | return .error "the request is a JSON object"
  let keys := kvs.toList.map (·.1)
  unless keys.length == 2 && keys.contains "header" && keys.contains "body" do
    return .error s!"the request has exactly the keys header and body, not {keys}"
  let some (.str header) := kvs["header"]? | return .error "header must be a string"
  let some (.str body) := kvs["body"]? | return .error "body must be a string"
  return .ok { header, body }

/-! ## The reply (the REPL's shapes, `REPL/JSON.lean` at v4.32.0) -/

def posJson (p : Position) : Json :=
  Json.mkObj [("line", toJson p.line), ("column", toJson p.column)]

def messageJson (m : Message) : IO Json := do
  let severity := match m.severity with
    | .information => "info"
    | .warning => "warning"
    | .error => "error"
  let data := (← m.data.toString).trimAscii.toString
  return Json.mkObj [("pos", posJson m.pos),
    ("endPos", match m.endPos with | some p => posJson p | none => Json.null),
    ("severity", Json.str severity), ("data", Json.str data)]

/-- A `CommandResponse`: `env` 0 (nothing continues from a one-shot run), `messages` when any. -/
def responseJson (log : MessageLog) : IO Json := do
  let ms ← log.toList.mapM messageJson
  return Json.mkObj ([("env", toJson (0 : Nat))] ++
    (if ms.isEmpty then [] else [("messages", Json.arr ms.toArray)]))

/-! ## Elaboration -/

/-- Each `--option` as a string value, as `lean -D` leaves an option it does not know before the
import; `Language.Lean.reparseOptions` types them once the import has declared them. -/
def rawOptions (pairs : Array (String × String)) : Options := Id.run do
  let mut opts : Options := {}
  for (name, value) in pairs do
    opts := opts.insert name.toName (DataValue.ofString value)
  return opts

structure Elaborated where
  header : MessageLog
  /-- None when the header had an error (the body was not elaborated). -/
  body : Option MessageLog
  env : Environment

/-- The header's run, then the body's on its state (module docstring, steps 1 and 2). -/
unsafe def elaborate (req : Request) (options : Array (String × String)) : IO Elaborated := do
  Lean.initSearchPath (← Lean.findSysroot)
  enableInitializersExecution
  let raw := rawOptions options
  let headerCtx := Parser.mkInputContext req.header "<header>"
  let (header, parserState, messages) ← Parser.parseHeader headerCtx
  let (env, messages) ← Lean.Elab.processHeader header raw messages headerCtx (leakEnv := true)
  -- before `Command.mkState`, which takes the auxiliary-name prefix from it
  let env := env.setMainModule mainModule
  let mut messages := messages
  let mut opts := raw
  try
    opts ← Language.Lean.reparseOptions raw
  catch e =>
    messages := messages.add { fileName := headerCtx.fileName, pos := ⟨1, 0⟩, data := toString e }
  let elabOpts := Lean.Elab.async.set opts false
  let s ← Lean.Elab.IO.processCommands headerCtx parserState
    (Lean.Elab.Command.mkState env messages elabOpts)
  let headerLog := s.commandState.messages
  if headerLog.hasErrors then
    return { header := headerLog, body := none, env := s.commandState.env }
  let bodyCtx := Parser.mkInputContext req.body "<body>"
  let start := { s.commandState with messages := {} }
  let s ← Lean.Elab.IO.processCommands bodyCtx {} start
  return { header := headerLog, body := some s.commandState.messages, env := s.commandState.env }

/-- The constants the elaboration added: stage 2 of the kernel environment, the set
`mkModuleData` writes into an `.olean`. `toKernelEnv` waits for every kernel check. -/
def newConstants (env : Environment) : Array ConstantInfo :=
  env.toKernelEnv.constants.foldStage2 (fun cs _ c => cs.push c) #[]

def removeQuietly (path : System.FilePath) : IO Unit :=
  try IO.FS.removeFile path catch _ => pure ()

unsafe def runUnsafe (argv : List String) : IO UInt32 := do
  let args ← match parseArgs {} argv with
    | .ok args => pure args
    | .error msg =>
      IO.eprintln usage
      return (← refused { code := "bad_arguments", detail := msg })
  let req ← match (← readRequest args.request) with
    | .ok req => pure req
    | .error msg => return (← refused { code := "bad_request", detail := msg })
  let mut elaborated : Option Elaborated := none
  try
    elaborated := some (← elaborate req args.options)
  catch e =>
    return (← refused { code := "elaboration_failed", detail := toString e })
  let some done := elaborated
    | return (← refused { code := "internal", detail := "no elaboration result" })
  let headerJson ← responseJson done.header
  let mut reply := [("header", headerJson)]
  if let some body := done.body then
    reply := reply ++ [("body", ← responseJson body)]
  try IO.FS.writeFile args.reply ((Json.mkObj reply).compress ++ "\n")
  catch e =>
    removeQuietly args.reply
    return (← refused { code := "write_failed", detail := s!"cannot write {args.reply}: {e}" })
  let clean := !done.header.hasErrors && done.body.any (!·.hasErrors)
  unless clean do return 0
  let header : ExportHeader := { module := mainModule.toString,
    imports := done.env.header.imports.map (·.module), options := args.typed }
  -- `done.env` stays alive until the export is written (the writer's address tables)
  match (← exportFile args.exportPath header (newConstants done.env)) with
  | none => return 0
  | some r =>
    removeQuietly args.reply
    refused r

@[implemented_by runUnsafe]
opaque run (argv : List String) : IO UInt32

end Proofgate.Elab

def main (args : List String) : IO UInt32 :=
  Proofgate.Elab.run args
