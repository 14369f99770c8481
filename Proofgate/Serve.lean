/-
proofgate-checker's serve mode, the protocol half: one request a line on stdin, read with a bound,
turned into the one-shot export mode's command line (docs/audit-design.md, section 9, step 4;
the Python side is `src/proofgate/verify/checkers.py`, the stand-in `serve` in
`tests/standins/export_checker.py`). The loop that judges each request is `serve` in
`Proofgate/Checker.lean`, which imports this module.

UNTESTED AGAINST REAL LEAN: never compiled (no Lean toolchain runs where proofgate is developed).
Written for Lean v4.32.0 after reading, in stored versions of leanprover/lean4 (not the tag
itself): `IO.FS.Stream` and `IO.getStdin`/`IO.getStdout` (`src/Init/System/IO.lean`), the C
implementations of `Handle.read` and `Handle.getLine` (`src/runtime/io.cpp`), `repeat`
(`src/Init/While.lean`); and the REPL's loop at tag v4.32.0 (`REPL/Main.lean`: `getLines` reads
`(← IO.getStdin).getLine` until a blank line, `printFlush` writes then flushes stdout). The request
is read here differently from the REPL: byte by byte up to a limit, since `getLine` has none.

Protocol (the stand-in's, exactly):
- once imported, the checker prints `{"ready": {"contract": 2, "checker": ..., "lean": ...}}`;
- each request is one line: `{"check": N, "submission": PATH, "reference": PATH | null,
  "target": NAME | null, "axioms": [...], "answer_holes": [...], "module_roots": [...]}`, every
  key required and no other, with the stand-in's `request_args` type rules (`check` a natural
  number, never a boolean; `submission` a string; `reference`, `target` a string or null; the
  three lists lists of strings); the rules relating them (reference and target together, answer
  holes need a reference) are the one-shot command line's, applied by `parseArgs` to `Request.argv`;
- the answer is the contract-2 report of the one-shot mode for the same options, one line;
- a line that is not such a request, or longer than `maxRequestBytes`, ends the process with exit
  2 (message on stderr); the end of stdin ends it with exit 0.
-/
import Lean
import Proofgate.ExportParse

open Lean

namespace Proofgate.Serve

/-- The longest request line read, in bytes, newline excluded. A request is two paths and a few
short lists of names; anything longer is not one. -/
def maxRequestBytes : Nat := 1024 * 1024

/-- A request's keys: the stand-in's `REQUEST_KEYS`. -/
def requestKeys : Array String :=
  #["answer_holes", "axioms", "check", "module_roots", "reference", "submission", "target"]

/-- One request, typed; the one-shot options as data. -/
structure Request where
  check : Nat
  submission : String
  reference : Option String
  target : Option String
  axioms : Array String
  answerHoles : Array String
  moduleRoots : Array String

/-- What the next line of the input holds. -/
inductive Line where
  | line (bytes : ByteArray)
  | eof
  | tooLong

/-- The next line, without its `\n`, of at most `limit` bytes. A last line with no newline before
the end of the input is a line too (Python's line iteration hands it to the stand-in the same
way).

One byte per `IO.FS.Stream.read`: for stdin that is `Handle.read`, an `fread` of exactly the count
asked for, which blocks until that many bytes or the end of the input; the server writes the next
request only after the answer, so asking for more than one byte could wait forever. The C stream
is buffered, so each call copies one byte from its buffer. `getLine` (the REPL's way) reads a
line of any length into memory, hence not used here. -/
def readLine (stream : IO.FS.Stream) (limit : Nat := maxRequestBytes) : IO Line := do
  let mut acc : ByteArray := ByteArray.empty
  repeat
    let chunk ← stream.read 1
    if chunk.isEmpty then
      return (if acc.isEmpty then .eof else .line acc)
    let b := chunk[0]!
    if b == 10 then return .line acc
    if acc.size ≥ limit then return .tooLong
    acc := acc.push b
  return .eof

def optString (key : String) : Json → Except String (Option String)
  | .null => pure none
  | .str s => pure (some s)
  | _ => throw s!"{key} must be a string or null"

def strings (key : String) (j : Json) : Except String (Array String) := do
  let .arr vs := j | throw s!"{key} must be a list of strings"
  vs.mapM fun v => match v with
    | .str s => pure s
    | _ => throw s!"{key} must be a list of strings"

/-- One request line as a `Request`, or why it is not one. The line goes through the export
reader's scan first (`ExportParse.scanLine`: nesting bounded before `Json.parse` recurses, no
number with a sign, fraction or exponent, no number over ten digits), and a repeated key is refused
(`ExportParse.countKeys` against the scan's count of `:`), where Python's `json.loads` keeps the
last value: stricter than the stand-in, never looser. -/
def parseRequest (bytes : ByteArray) : Except String Request := do
  let some text := String.fromUTF8? bytes | throw "the line is not UTF-8"
  let colons ← match ExportParse.scanLine bytes with
    | .ok n => pure n
    | .error (_, reason) => throw reason
  let j ← match Json.parse text with
    | .ok j => pure j
    | .error e => throw s!"not JSON ({e})"
  unless ExportParse.countKeys j == colons do throw "an object repeats a key"
  let .obj kvs := j | throw "a request is a JSON object"
  let keys := kvs.toList.map (·.1)
  unless keys.length == requestKeys.size && requestKeys.all keys.contains do
    throw s!"a request has exactly the keys {requestKeys.toList}, not {keys}"
  let value (k : String) : Json := (kvs[k]?).getD .null
  let check ← match value "check" with
    | .num ⟨Int.ofNat n, 0⟩ => pure n
    | other => throw s!"check must be a natural number, not {other.compress}"
  let .str submission := value "submission" | throw "submission must be a path"
  let reference ← optString "reference" (value "reference")
  let target ← optString "target" (value "target")
  let axioms ← strings "axioms" (value "axioms")
  let answerHoles ← strings "answer_holes" (value "answer_holes")
  let moduleRoots ← strings "module_roots" (value "module_roots")
  return { check, submission, reference, target, axioms, answerHoles, moduleRoots }

/-- The one-shot export mode's command line for `r`: each option a flag and its value, so every
value is read as a value (`parseArgs` takes them in pairs) and the one-shot's rules apply. -/
def Request.argv (r : Request) : List String := Id.run do
  let mut out := ["--submission-export", r.submission, "--check", toString r.check]
  if let some path := r.reference then out := out ++ ["--reference-export", path]
  if let some t := r.target then out := out ++ ["--target", t]
  for a in r.axioms do out := out ++ ["--axiom", a]
  for h in r.answerHoles do out := out ++ ["--answer-hole", h]
  for m in r.moduleRoots do out := out ++ ["--module-root", m]
  return out

/-- The line printed once the environment is imported, before the first request is read. -/
def readyLine (contract : Nat) (checker : String) : String :=
  (Json.mkObj [("ready", Json.mkObj [
    ("contract", toJson contract), ("checker", toJson checker),
    ("lean", toJson s!"v{Lean.versionString}")])]).compress

end Proofgate.Serve
