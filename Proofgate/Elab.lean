/-
proofgate-elab, one-shot: a fresh process per request that imports the header, elaborates the body
under the main module `ProofgateSubmission`, writes the feedback reply in the REPL's
`CommandResponse` shape and the export of the new constants (docs/audit-design.md, section 9,
step 6; docs/export-format.md). It replaces the audit's `lean -o` compile plus the separate
`proofgate-export` process on the warm-checker path (`PROOFGATE_AUDIT_COMPILER=elab`).

    proofgate-elab --request PATH --reply PATH --export PATH [--option NAME=VALUE]...
    proofgate-elab --zygote [--option NAME=VALUE]...

`--zygote` is the elaboration zygote (section 9, step 7; "Zygote mode" below): the header once,
then one forked child per body, through the native shim `Proofgate/native/zygote.c`
(`Proofgate/Zygote.lean`).

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
The body's `sorries` (also UNTESTED AGAINST REAL LEAN, never compiled; "Sorries" below), after
reading leanprover-community/repl at tag v4.32.0: `REPL/Main.lean` (`sorries`: the info trees'
sorries, a term `sorry` without an expected type left out, the goal text `"\n".intercalate` of
the `ProofSnapshot`'s `ppGoals`, `Sorry.of` with a `proofState` id; `runCommand` passes the
command's starting environment), `REPL/Lean/InfoTree.lean` (`Syntax.isSorryTactic`/`isSorryTerm`
by the syntax's text, `findAllInfo` with `PartialContextInfo.mergeIntoOuter?` and its `stop`,
`findSorryTacticNodes` (goals before not empty), `findSorryTermNodes` (not below a `sorry`
tactic), `InfoTree.sorries` (the tactic ones first, `mctx := mctxBefore` and a child `ngen`),
`stxRange`), `REPL/Snapshots.lean` (`ProofSnapshot.create`: under `ContextInfo.runMetaM` with the
local context, a term's goal a fresh metavariable of its expected type, the `Core.State`'s
environment replaced by the given one; `ppGoals`: `Meta.ppGoal` of each goal), `REPL/Frontend.lean`
(`processCommandsWithInfoTrees`: `infoState.enabled := true`, the trees
`commandState.infoState.trees`), `REPL/JSON.lean` (`Sorry` and its `ToJson`: `goal`, `proofState`,
`pos`/`endPos` each left out when its line is 0; `CommandResponse` leaves `sorries` out when
empty); leanprover/lean4 (stored versions, not a tag): `src/Lean/Elab/InfoTree/Types.lean`
(`InfoState`, `Info.ofTacticInfo`/`ofTermInfo`, `TacticInfo`'s `mctxBefore`/`goalsBefore`,
`TermInfo`'s `lctx`/`expectedType?`, `ContextInfo`'s `mctx`/`ngen`/`fileMap`),
`src/Lean/Elab/InfoTree/Main.lean` (`ContextInfo.runMetaM info lctx x`,
`PartialContextInfo.mergeIntoOuter?`), `src/Lean/Elab/Frontend.lean` (`IO.processCommands`
returns this run's commands' info trees in `commandState.infoState.trees`).
Used from memory, not read: `modifyThe` on `Core.State` inside `MetaM` (the REPL reads it with
`getThe`), `ToString Syntax`/`ToString Format` (the REPL's `s!"{..}"`), `List.foldl`,
`Option.bind`, `PersistentArray.toList` (the REPL calls it), `MVarId.name`, `IO.userError`.
Zygote mode (also UNTESTED AGAINST REAL LEAN, never compiled): the header and body runs are this
file's `elabHeader`/`elabBody` (the one-shot's own, split in two); `Proofgate/Zygote.lean`'s
externs; `Environment.toKernelEnv` (as above) taken once before `Zygote.prepare` so that no kernel
check is in flight when the task manager goes. Used from memory, not read: `IO.getStdin` and
`Stream.getLine`, `IO.getStdout`/`putStrLn`/`flush`, `ptrAddrUnsafe` (to keep the compiler from
dropping an unused value), `String.toUTF8`, `Nat.toUInt32`, `Json.bool`.

Request (`--request`): one JSON object, at most `maxRequestBytes` bytes (a final `\n` allowed),
exactly the keys `header` (the normalized header: `import` lines, `proofgate.lean.header`) and
`body` (the text after it), both strings. A zygote child (design step 7) will get the body only.

What it does, as the REPL pool runs a header command and then a body on its environment:
1. header: parse it, import it (`leakEnv := true`), set the main module `ProofgateSubmission`,
   type the `--option`s (an unknown or ill-typed one is an error message of the header, as
   `lean -D` makes it one of the file), `Command.mkState`, elaborate the rest of the header text;
2. unless the header has an error: the body on that state, from a fresh parser state, messages
   cleared, info trees enabled and cleared (the REPL's `processCommandsWithInfoTrees`),
   `Elab.async` off (every message is in when `processCommands` returns);
3. writes `--reply`: `{"header": R, "body": R}` with R the REPL's `CommandResponse` shape (`env`
   0, `messages` when any; the body's `sorries` when any, found by the REPL's info-tree walk
   ("Sorries" below); the header's response has none, its trees are not walked), `body` left out
   when the header had an error. Positions are those the REPL gives: the header's in the header
   text, the body's in the body text;
4. unless a message of either is an error (no `.olean` either then, as `lean -o`): takes the
   constants of `env.toKernelEnv` (it waits for every kernel check) stage 2, the set
   `mkModuleData` writes, and exports them with `Proofgate/ExportWrite.lean`'s writer (the same as
   `proofgate-export`'s): meta line with module `ProofgateSubmission`, the header's imports and
   the typed options.

Sorries: the body's, as the REPL at v4.32.0 reports them for a command (`REPL/Main.lean`
`sorries`, `REPL/Lean/InfoTree.lean`): in each of the body's info trees, first every `sorry`
tactic (its syntax's text `(Tactic.tacticSorry "sorry")`, some goal before it; its goal the first
goal before, in the metavariable context before it), then every `sorry` term (text
`(Term.sorry "sorry")`, not below a `sorry` tactic) that has an expected type (its goal a fresh
metavariable of that type in the term's local context; one without an expected type is no sorry),
each in pre-order and under a context. One is `{"goal", "pos", "endPos"}`: `goal` is
`Meta.ppGoal` of that goal, printed with the node's context but the environment the body started
from (the header's: the REPL's `ProofSnapshot.create` with `initialCmdState.env`), `pos`/`endPos`
the syntax's start and end in the body text (each left out when its line is 0, as the REPL's
`ToJson Sorry`). No `proofState`: the REPL gives the id of a proof state it keeps; nothing here
can resume one, and proofgate's parser (`ReplSorry`) takes the field as optional. A goal that
cannot be printed (the REPL's "unknown metavariable") throws, as Lean throwing while elaborating.

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
import Proofgate.Zygote

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

/-- A `Sorry` (`REPL/JSON.lean`'s `ToJson Sorry`): `goal`, `pos` and `endPos` each when its line is
not 0; no `proofState` (module docstring, "Sorries"). -/
def sorryJson (goal : String) (pos endPos : Position) : Json :=
  Json.mkObj ([("goal", Json.str goal)] ++
    (if pos.line != 0 then [("pos", posJson pos)] else []) ++
    (if endPos.line != 0 then [("endPos", posJson endPos)] else []))

/-- A `CommandResponse`: `env` 0 (nothing continues from a one-shot run), `messages` when any,
`sorries` when any (the header's response has none). -/
def responseJson (log : MessageLog) (sorries : Array Json := #[]) : IO Json := do
  let ms ← log.toList.mapM messageJson
  return Json.mkObj ([("env", toJson (0 : Nat))] ++
    (if ms.isEmpty then [] else [("messages", Json.arr ms.toArray)]) ++
    (if sorries.isEmpty then [] else [("sorries", Json.arr sorries)]))

/-! ## Sorries (module docstring, "Sorries"; the REPL's walk at v4.32.0, written anew) -/

/-- What a sorry closed: a `sorry` tactic's goal, or a `sorry` term's local context and expected
type. -/
inductive SorryKind where
  | tactic (goal : MVarId)
  | term (lctx : LocalContext) (expected : Expr)

structure FoundSorry where
  /-- The context the goal is printed in (for a tactic: its metavariable context before it). -/
  ctx : Lean.Elab.ContextInfo
  kind : SorryKind
  stx : Syntax

/-- The REPL's test: the syntax prints as an explicit `sorry` tactic. -/
def isSorryTactic (stx : Syntax) : Bool :=
  toString stx == "(Tactic.tacticSorry \"sorry\")"

/-- The REPL's test: the syntax prints as an explicit `sorry` term. -/
def isSorryTerm (stx : Syntax) : Bool :=
  toString stx == "(Term.sorry \"sorry\")"

/-- The nodes of `tree` that `pick` takes, in pre-order, each with the context merged down to it
(a node with no context above it is skipped); below a node that `stop` takes the walk goes no
deeper. Holes are skipped. -/
partial def collectInfos {α : Type} (pick : Lean.Elab.ContextInfo → Lean.Elab.Info → Option α)
    (stop : Lean.Elab.Info → Bool) (ctx? : Option Lean.Elab.ContextInfo) :
    Lean.Elab.InfoTree → Array α → Array α
  | .context inner tree, acc => collectInfos pick stop (inner.mergeIntoOuter? ctx?) tree acc
  | .node info children, acc =>
    let acc := match ctx?.bind (pick · info) with
      | some a => acc.push a
      | none => acc
    if stop info then acc
    else children.toList.foldl (fun acc child => collectInfos pick stop ctx? child acc) acc
  | _, acc => acc

/-- A `sorry` tactic with a goal before it, its context given the metavariable context before it
and a child name generator (as the REPL's `InfoTree.sorries`). -/
def sorryTactic (ctx : Lean.Elab.ContextInfo) : Lean.Elab.Info → Option FoundSorry
  | .ofTacticInfo i =>
    match i.goalsBefore with
    | goal :: _ =>
      if isSorryTactic i.stx then
        some { ctx := { ctx with mctx := i.mctxBefore, ngen := ctx.ngen.mkChild.1 },
               kind := .tactic goal, stx := i.stx }
      else none
    | [] => none
  | _ => none

/-- A `sorry` term with an expected type (one without is no sorry for the REPL). -/
def sorryTerm (ctx : Lean.Elab.ContextInfo) : Lean.Elab.Info → Option FoundSorry
  | .ofTermInfo i =>
    match i.expectedType? with
    | some expected =>
      if isSorryTerm i.stx then some { ctx, kind := .term i.lctx expected, stx := i.stx }
      else none
    | none => none
  | _ => none

/-- Under a `sorry` tactic the walk for terms goes no deeper (the REPL's `findSorryTermNodes`). -/
def belowSorryTactic : Lean.Elab.Info → Bool
  | .ofTacticInfo i => isSorryTactic i.stx
  | _ => false

/-- One tree's sorries: its `sorry` tactics, then its `sorry` terms. -/
def treeSorries (tree : Lean.Elab.InfoTree) : Array FoundSorry :=
  let tactics := collectInfos sorryTactic (fun _ => false) none tree #[]
  collectInfos sorryTerm belowSorryTactic none tree tactics

/-- The goal's text, as the REPL's `ProofSnapshot.create` then `ppGoals` print it: under the
node's context and local context, the `Core.State`'s environment replaced by `env` (the one the
body started from), `Meta.ppGoal` of the one goal. -/
def sorryGoal (env : Environment) (found : FoundSorry) : IO String := do
  let printGoal (g : MVarId) : Lean.Meta.MetaM String := do
    modifyThe Lean.Core.State fun st => { st with env }
    return toString (← Lean.Meta.ppGoal g)
  match found.kind with
  | .tactic goal =>
    let some decl := found.ctx.mctx.findDecl? goal
      | throw (IO.userError s!"unknown metavariable '{goal.name}'")
    found.ctx.runMetaM decl.lctx (printGoal goal)
  | .term lctx expected =>
    found.ctx.runMetaM lctx do
      let g := (← Lean.Meta.mkFreshExprMVar (some expected)).mvarId!
      printGoal g

/-- The syntax's start and end in the text of its context (the REPL's `stxRange`). -/
def stxPositions (fileMap : FileMap) (stx : Syntax) : Position × Position :=
  let pos := stx.getPos?.getD 0
  let endPos := stx.getTailPos?.getD pos
  (fileMap.toPosition pos, fileMap.toPosition endPos)

/-- The body's `sorries`, in the REPL's order: tree by tree, each tree's as `treeSorries`. -/
def sorriesJson (env : Environment) (trees : List Lean.Elab.InfoTree) : IO (Array Json) := do
  let mut out := #[]
  for tree in trees do
    for found in treeSorries tree do
      let goal ← sorryGoal env found
      let (pos, endPos) := stxPositions found.ctx.fileMap found.stx
      out := out.push (sorryJson goal pos endPos)
  return out

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
  /-- The body's `sorries` (`sorriesJson`), empty when it was not elaborated. -/
  bodySorries : Array Json := #[]
  env : Environment

/-- The header's run (module docstring, step 1): its messages, and the command state a body
continues from (the header's environment, main module set, options typed, `Elab.async` off). -/
unsafe def elabHeader (header : String) (options : Array (String × String)) :
    IO (MessageLog × Lean.Elab.Command.State) := do
  Lean.initSearchPath (← Lean.findSysroot)
  enableInitializersExecution
  let raw := rawOptions options
  let headerCtx := Parser.mkInputContext header "<header>"
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
  return (s.commandState.messages, s.commandState)

/-- The body's run on the header's command state (module docstring, step 2): from a fresh parser
state, its messages alone, and its sorries from its own info trees (recorded for this run only, as
the REPL's `processCommandsWithInfoTrees` records them; the header's run is left as it was). -/
def elabBody (headerState : Lean.Elab.Command.State) (body : String) :
    IO (MessageLog × Array Json × Environment) := do
  let bodyCtx := Parser.mkInputContext body "<body>"
  let start := { headerState with messages := {}, infoState := { enabled := true } }
  let s ← Lean.Elab.IO.processCommands bodyCtx {} start
  let sorries ← sorriesJson start.env s.commandState.infoState.trees.toList
  return (s.commandState.messages, sorries, s.commandState.env)

/-- The header's run, then the body's on its state (module docstring, steps 1 and 2). -/
unsafe def elaborate (req : Request) (options : Array (String × String)) : IO Elaborated := do
  let (headerLog, headerState) ← elabHeader req.header options
  if headerLog.hasErrors then
    return { header := headerLog, body := none, env := headerState.env }
  let (bodyLog, bodySorries, env) ← elabBody headerState req.body
  return { header := headerLog, body := some bodyLog, bodySorries, env }

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
    reply := reply ++ [("body", ← responseJson body done.bodySorries)]
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

/-! ## Zygote mode (`--zygote`; docs/audit-design.md, section 4 "Zygote start", section 9 step 7)

    proofgate-elab --zygote [--option NAME=VALUE]...

The protocol is `src/proofgate/lean/zygote.py`'s (`tests/standins/zygote.py` is its stand-in):
1. stdin gives one line `{"header": "<normalized import lines>"}`; the header is run once as
   `elabHeader` runs it (main module `ProofgateSubmission`, options typed after the import);
2. a header with an error: stdout `{"ready": false, "header": R}`, exit 0. Otherwise the kernel
   checks are waited for (`toKernelEnv`), `Zygote.prepare` leaves one thread (the emitted `main`'s
   task manager finalized, the libuv loop stopped) and makes the process non-dumpable; more than
   one thread left: one stderr line `{"error": "zygote_unsafe", ...}`, exit 3. Then stdout
   `{"ready": true, "header": R}` (R the header's `CommandResponse`) and `Zygote.serve`;
3. each child (the shim returns in it, confined, with its own task manager) reads
   `{"body": "..."}` (at most `maxRequestBytes`) from fd 3, runs it as `elabBody` does on the
   header's state, and writes on fd 4 one line `{"response": R}` (R with the body's `sorries`,
   as the one-shot's body response has them), with `"refusal": {"error", "detail"}` when the
   export writer refused (its codes; `elaboration_failed` when Lean threw);
   on fd 5 the export (`Proofgate/ExportWrite.lean`'s writer, through `/proc/self/fd/5`), only
   when no message is an error. Exit 0; exit 1 (the service's `ReplCrashed`) for a request that
   is not `{"body": string}` or a reply that cannot be written. -/

/-- `--option` pairs after `--zygote`, kept as `parseArgs` keeps them (a later pair of one name
replaces an earlier one). -/
def parseZygoteArgs :
    List String → Array (String × String) → Except String (Array (String × String))
  | [], acc => .ok acc
  | "--option" :: v :: rest, acc =>
    match splitOption v with
    | none => .error s!"--option takes NAME=VALUE, not {v}"
    | some (name, text) =>
      if name.isEmpty then .error s!"--option {v} has no name"
      else parseZygoteArgs rest ((acc.filter (·.1 != name)).push (name, text))
  | arg :: _, _ => .error s!"unexpected argument {arg} (zygote mode takes --option NAME=VALUE only)"

/-- The zygote's one header line: exactly `{"header": string}`. -/
def parseHello (line : String) : Except String String := do
  let j ← match Json.parse line.trimAscii.toString with
    | .ok j => pure j
    | .error e => throw s!"the header line is not JSON ({e})"
  let .obj kvs := j | throw "the header line is a JSON object"
  unless kvs.toList.map (·.1) == ["header"] do throw "the header line has exactly the key header"
  let some (.str header) := kvs["header"]? | throw "header must be a string"
  return header

/-- A child's request: exactly `{"body": string}`, at most `maxRequestBytes` (a final newline
allowed), a repeated key refused (as `readRequest` reads the one-shot's). -/
def parseBody (bytes : ByteArray) : Except String String := do
  if bytes.size > maxRequestBytes + 1 then
    throw s!"the request has more than {maxRequestBytes} bytes"
  let bytes := if bytes.size > 0 && bytes[bytes.size - 1]! == 10 then
    bytes.extract 0 (bytes.size - 1) else bytes
  let some text := String.fromUTF8? bytes | throw "the request is not UTF-8"
  let colons ← match ExportParse.scanLine bytes with
    | .ok n => pure n
    | .error (_, reason) => throw reason
  let j ← match Json.parse text with
    | .ok j => pure j
    | .error e => throw s!"the request is not JSON ({e})"
  unless ExportParse.countKeys j == colons do throw "the request repeats a key"
  let .obj kvs := j | throw "the request is a JSON object"
  unless kvs.toList.map (·.1) == ["body"] do throw "the request has exactly the key body"
  let some (.str body) := kvs["body"]? | throw "body must be a string"
  return body

/-- In a forked child: one body on the header's state, the reply on fd 4, the export on fd 5.
Never returns (`Zygote.exit`). -/
unsafe def zygoteChild (headerState : Lean.Elab.Command.State) (typed : Array (String × Json)) :
    IO Unit := do
  let fail (why : String) : IO Unit := do
    IO.eprintln s!"proofgate-elab --zygote child: {why}"
    Zygote.exit 1
  let body ← match parseBody (← Zygote.readRequest maxRequestBytes.toUInt32) with
    | .ok body => pure body
    | .error why =>
      fail s!"bad request: {why}"
      return
  let mut reply : List (String × Json) := []
  try
    let (log, sorries, env) ← elabBody headerState body
    reply := [("response", ← responseJson log sorries)]
    unless log.hasErrors do
      let header : ExportHeader := { module := mainModule.toString,
        imports := env.header.imports.map (·.module), options := typed }
      -- `env` stays alive until the export is written (the writer's address tables)
      match (← exportFile Zygote.exportPath header (newConstants env)) with
      | none => pure ()
      | some r =>
        reply := reply ++ [("refusal", Json.mkObj [("error", Json.str r.code),
          ("detail", Json.str r.detail)])]
  catch e =>
    reply := [("response", ← responseJson ({} : MessageLog)), ("refusal", Json.mkObj
      [("error", Json.str "elaboration_failed"), ("detail", Json.str (toString e))])]
  try Zygote.writeFd Zygote.replyFd ((Json.mkObj reply).compress ++ "\n").toUTF8
  catch e => fail s!"cannot write the reply: {e}"
  Zygote.exit 0

unsafe def runZygoteUnsafe (argv : List String) : IO UInt32 := do
  let options ← match parseZygoteArgs argv #[] with
    | .ok options => pure options
    | .error msg => return (← refused { code := "bad_arguments", detail := msg })
  let typed ← match options.mapM (fun (n, v) => do return (n, ← optionValue n v)) with
    | .ok typed => pure typed
    | .error msg => return (← refused { code := "bad_arguments", detail := msg })
  let line ← (← IO.getStdin).getLine
  let header ← match parseHello line with
    | .ok header => pure header
    | .error msg => return (← refused { code := "bad_request", detail := msg })
  let mut elaborated : Option (MessageLog × Lean.Elab.Command.State) := none
  try
    elaborated := some (← elabHeader header options)
  catch e =>
    return (← refused { code := "elaboration_failed", detail := toString e })
  let some (headerLog, headerState) := elaborated
    | return (← refused { code := "internal", detail := "no elaboration result" })
  let headerJson ← responseJson headerLog
  let stdout ← IO.getStdout
  if headerLog.hasErrors then
    stdout.putStrLn (Json.mkObj [("ready", Json.bool false), ("header", headerJson)]).compress
    stdout.flush
    return 0
  -- every kernel check of the header's own commands in before the task manager goes (the
  -- address is taken so that the compiler cannot drop the otherwise unused value)
  if ptrAddrUnsafe headerState.env.toKernelEnv == 0 then
    IO.eprintln "proofgate-elab --zygote: no kernel environment"
  let left ← Zygote.prepare
  unless left == 1 do
    IO.eprintln (Json.mkObj [("error", Json.str "zygote_unsafe"), ("detail", Json.str
      s!"{left} threads after the task manager and the libuv loop were stopped")]).compress
    return 3
  stdout.putStrLn (Json.mkObj [("ready", Json.bool true), ("header", headerJson)]).compress
  stdout.flush
  let _ ← Zygote.serve 0  -- returns in a child only
  zygoteChild headerState typed
  return 1

@[implemented_by runZygoteUnsafe]
opaque runZygote (argv : List String) : IO UInt32

end Proofgate.Elab

def main (args : List String) : IO UInt32 :=
  match args with
  | "--zygote" :: rest => Proofgate.Elab.runZygote rest
  | _ => Proofgate.Elab.run args
