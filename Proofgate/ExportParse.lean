/-
proofgate's reader of the export format (docs/export-format.md, `proofgate-export` version 1):
the trusted checker's side of docs/audit-design.md, requirement 2.

UNTESTED AGAINST REAL LEAN. It has never been compiled: no Lean toolchain runs where proofgate is
developed. It was written for Lean v4.32.0 after reading lean4export's `Export/Parse.lean` (its
newest snapshot, toolchain v4.31.0-rc2) and comparator's use of it, and follows their conventions
(a state monad over index-keyed tables, terms built with `Expr`'s constructors), but it is not a
copy: the rules are docs/export-format.md's. Every API below (`Json.parse`, `Json.obj`'s map and
its `[k]?`/`toList`, `JsonNumber`'s fields, `String.fromUTF8?`, `ByteArray.extract`) is a claim
to confirm when the real-Lean workflow builds it. Not yet a root of `lean_lib Proofgate` in
`lakefile.lean` and not imported by `Proofgate/Checker.lean`: migration step 4 wires it in.

Safety (design, requirement 4): no `unsafe`, no `readModuleData`, no recursion on a term's depth.
Every record refers only to earlier indices, so each term is built bottom-up from terms already
built, and its depth is computed from its children's as it is read. Lean's JSON parser recurses on
nesting, so each line is scanned first (`scanLine`): nesting, number tokens and surrogate escapes
are checked before `Json.parse` sees the line, and the number of keys it read is compared with the
number of `:` outside strings, because its object map keeps one value of a repeated key.
-/
import Lean

open Lean

namespace Proofgate.ExportParse

def formatName : String := "proofgate-export"
/-- Bumped with the format; `FORMAT_VERSION` in `src/proofgate/verify/export.py` is the same. -/
def formatVersion : Nat := 1
def maxJsonNesting : Nat := 6
def maxNumberDigits : Nat := 10
def maxSmallNat : Nat := 2 ^ 32 - 1

/-- docs/export-format.md, "Limits"; `ExportLimits` on the Python side. -/
structure Limits where
  bytes : Nat := 64 * 1024 * 1024
  lineBytes : Nat := 1024 * 1024
  lines : Nat := 4100000
  termNodes : Nat := 4000000
  declarations : Nat := 20000
  exprDepth : Nat := 20000
  levelDepth : Nat := 1000
  nameDepth : Nat := 1000
  natDigits : Nat := 100000

/-- Why an export was refused: `limit` set means outcome `export_too_large`, else
`export_invalid`. `code` is one of docs/export-format.md's. -/
structure Refusal where
  code : String
  line : Nat
  reason : String
  limit : Option String := none

structure Meta where
  leanVersion : String
  leanGithash : String
  module : Name
  imports : Array Name

structure State where
  limits : Limits
  line : Nat := 0
  names : Array Name := #[.anonymous]
  nameDepth : Array Nat := #[0]
  levels : Array Level := #[.zero]
  levelDepth : Array Nat := #[1]
  exprs : Array Expr := #[]
  exprDepth : Array Nat := #[]
  consts : Std.HashMap Name ConstantInfo := {}
  order : Array Name := #[]
  meta? : Option Meta := none
  ended : Bool := false

/-- Pure: parsing does no IO. -/
abbrev M := StateT State (Except Refusal)

def invalid (code reason : String) : M α := do
  throw { code, line := (← get).line, reason }

def tooLarge (limit reason : String) : M α := do
  throw { code := "limit", line := (← get).line, reason, limit := some limit }

/-! ## The line scan (before `Json.parse`) -/

/-- One pass over a line's bytes outside and inside strings: the JSON nesting, the number of
`:` outside strings (one per object member), number tokens (digits only, at most
`maxNumberDigits`, no leading zero) and `\u` escapes of a surrogate. Returns the colon count. -/
def scanLine (bytes : ByteArray) : Except (String × String) Nat := Id.run do
  let mut depth := 0
  let mut colons := 0
  let mut inString := false
  let mut escaped := false
  let mut numberLen := 0
  let mut numberLeadingZero := false
  let mut i := 0
  while i < bytes.size do
    let b := bytes[i]!
    if inString then
      if escaped then
        escaped := false
        -- `\uD800`..`\uDFFF`: b is 'u', the next two hex digits say whether it is a surrogate
        if b == 117 && i + 2 < bytes.size then
          let h := bytes[i + 1]!
          let h2 := bytes[i + 2]!
          if (h == 68 || h == 100) && (h2 ≥ 56 && h2 ≤ 57 || h2 ≥ 65 && h2 ≤ 70 || h2 ≥ 97 && h2 ≤ 102) then
            return .error ("bad_json", "a string holds a surrogate escape")
      else if b == 92 then escaped := true
      else if b == 34 then inString := false
    else
      let isDigit := b ≥ 48 && b ≤ 57
      if isDigit then
        if numberLen == 0 then numberLeadingZero := b == 48
        else if numberLeadingZero then return .error ("bad_json", "a number with a leading zero")
        numberLen := numberLen + 1
        if numberLen > maxNumberDigits then
          return .error ("bad_json", s!"a number longer than {maxNumberDigits} digits")
      else
        -- `.`, `e`, `E` right after digits: a fraction or exponent (`true`/`false` have an `e`
        -- too, which is why only a number's neighbour counts); `-` only ever starts a number.
        if numberLen > 0 && (b == 46 || b == 101 || b == 69) || b == 45 then
          return .error ("bad_json", "a number with a sign, fraction or exponent")
        numberLen := 0
        if b == 34 then inString := true
        else if b == 123 || b == 91 then
          depth := depth + 1
          if depth > maxJsonNesting then
            return .error ("json_nesting", s!"JSON nested deeper than {maxJsonNesting}")
        else if b == 125 || b == 93 then depth := depth - 1
        else if b == 58 then colons := colons + 1
    i := i + 1
  return .ok colons

/-- The members of every object in `j`. Recursion on nesting, which `scanLine` bounded. -/
partial def countKeys : Json → Nat
  | .obj kvs => kvs.toList.foldl (fun n (_, v) => n + 1 + countKeys v) 0
  | .arr vs => vs.foldl (fun n v => n + countKeys v) 0
  | _ => 0

/-! ## Fields -/

abbrev Obj := Std.TreeMap.Raw String Json

/-- `j` as an object with exactly `keys`. -/
def fields (j : Json) (keys : Array String) (what : String) : M Obj := do
  let .obj kvs := j | invalid "bad_field" s!"{what} is not an object"
  unless kvs.toList.length == keys.size && keys.all (fun k => (kvs[k]?).isSome) do
    invalid "bad_field" s!"{what}: the fields are not {keys}"
  return kvs

def field (o : Obj) (k : String) : M Json := do
  let some v := o[k]? | invalid "bad_field" s!"no field {k}"
  return v

def natOf (j : Json) (what : String) (bound : Nat := maxSmallNat) : M Nat := do
  match j with
  | .num ⟨Int.ofNat n, 0⟩ =>
    if n ≤ bound then return n else invalid "bad_field" s!"{what} is {n}, above {bound}"
  | _ => invalid "bad_field" s!"{what} is not a natural number"

def boolOf (j : Json) (what : String) : M Bool := do
  let .bool b := j | invalid "bad_field" s!"{what} is not a boolean"
  return b

def strOf (j : Json) (what : String) : M String := do
  let .str s := j | invalid "bad_field" s!"{what} is not a string"
  return s

def arrOf (j : Json) (what : String) : M (Array Json) := do
  let .arr a := j | invalid "bad_field" s!"{what} is not an array"
  return a

def getName (j : Json) (what : String) (anonymous := true) : M Name := do
  let i ← natOf j what (bound := 2 ^ 63)
  let some n := (← get).names[i]? | invalid "forward_reference" s!"{what}: name {i} not defined yet"
  if n.isAnonymous && !anonymous then invalid "bad_field" s!"{what} is the anonymous name"
  return n

def getLevel (j : Json) (what : String) : M (Level × Nat) := do
  let i ← natOf j what (bound := 2 ^ 63)
  let s ← get
  let some l := s.levels[i]? | invalid "forward_reference" s!"{what}: level {i} not defined yet"
  return (l, s.levelDepth[i]!)

def getExpr (j : Json) (what : String) : M (Expr × Nat) := do
  let i ← natOf j what (bound := 2 ^ 63)
  let s ← get
  let some e := s.exprs[i]? | invalid "forward_reference" s!"{what}: expression {i} not defined yet"
  return (e, s.exprDepth[i]!)

def getNames (j : Json) (what : String) : M (List Name) := do
  (← arrOf j what).toList.mapM (getName · what (anonymous := false))

/-- The record's own index must be the next free one of its table. -/
def newIndex (j : Json) (size : Nat) (table : String) : M Unit := do
  let i ← natOf j s!"the {table} index" (bound := 2 ^ 63)
  if i < size then invalid "duplicate_index" s!"{table} {i} is already defined"
  if i > size then invalid "index_gap" s!"{table} {i} skips {size}, the next free index"

def nodes (s : State) : Nat := s.names.size - 1 + s.levels.size - 1 + s.exprs.size

/-! ## Records -/

def addName (n : Name) (depth : Nat) : M Unit := do
  if depth > (← get).limits.nameDepth then tooLarge "name_depth" "a name has too many components"
  modify fun s => { s with names := s.names.push n, nameDepth := s.nameDepth.push depth }

def readName (idx : Json) (kind : String) (body : Json) : M Unit := do
  newIndex idx (← get).names.size "name"
  let o ← fields body #["pre", if kind == "str" then "str" else "i"] s!"Name.{kind}"
  let preJson ← field o "pre"
  let pre ← getName preJson s!"Name.{kind}.pre"
  let preIdx ← natOf preJson s!"Name.{kind}.pre" (bound := 2 ^ 63)
  let depth := (← get).nameDepth[preIdx]! + 1
  if kind == "str" then addName (.str pre (← strOf (← field o "str") "Name.str.str")) depth
  else addName (.num pre (← natOf (← field o "i") "Name.num.i")) depth

def addLevel (l : Level) (depth : Nat) : M Unit := do
  if depth > (← get).limits.levelDepth then tooLarge "level_depth" "a universe level is too deep"
  modify fun s => { s with levels := s.levels.push l, levelDepth := s.levelDepth.push depth }

def readLevel (idx : Json) (kind : String) (body : Json) : M Unit := do
  newIndex idx (← get).levels.size "level"
  match kind with
  | "succ" => let (l, d) ← getLevel body "Level.succ"; addLevel (.succ l) (d + 1)
  | "param" => addLevel (.param (← getName body "Level.param" (anonymous := false))) 1
  | _ =>
    let #[a, b] ← arrOf body s!"Level.{kind}" | invalid "bad_field" s!"Level.{kind} is not a pair"
    let (la, da) ← getLevel a s!"Level.{kind}"
    let (lb, db) ← getLevel b s!"Level.{kind}"
    addLevel (if kind == "max" then .max la lb else .imax la lb) (max da db + 1)

def binderInfoOf (j : Json) : M BinderInfo := do
  match ← strOf j "binderInfo" with
  | "default" => return .default
  | "implicit" => return .implicit
  | "strictImplicit" => return .strictImplicit
  | "instImplicit" => return .instImplicit
  | other => invalid "bad_field" s!"binderInfo {other}"

def addExpr (e : Expr) (depth : Nat) : M Unit := do
  if depth > (← get).limits.exprDepth then tooLarge "expr_depth" "an expression is too deep"
  modify fun s => { s with exprs := s.exprs.push e, exprDepth := s.exprDepth.push depth }

/-- Each case builds the term with `Expr`'s constructors, so its cached data (hash, loose
bound-variable range, flags) is computed here, never read from the input. -/
def readExpr (idx : Json) (kind : String) (body : Json) : M Unit := do
  newIndex idx (← get).exprs.size "expression"
  let limits := (← get).limits
  match kind with
  | "bvar" => addExpr (.bvar (← natOf body "Expr.bvar" (bound := limits.exprDepth - 1))) 1
  | "sort" => let (l, _) ← getLevel body "Expr.sort"; addExpr (.sort l) 1
  | "natVal" =>
    let digits ← strOf body "Expr.natVal"
    if digits.length > limits.natDigits then tooLarge "nat_digits" "a literal has too many digits"
    let canonical := digits == "0" || (!digits.isEmpty && digits.all Char.isDigit && digits.front != '0')
    let some n := if canonical then digits.toNat? else none
      | invalid "bad_field" "a literal is not a canonical decimal numeral"
    addExpr (.lit (.natVal n)) 1
  | "strVal" => addExpr (.lit (.strVal (← strOf body "Expr.strVal"))) 1
  | "const" =>
    let o ← fields body #["name", "us"] "Expr.const"
    let us ← (← arrOf (← field o "us") "Expr.const.us").toList.mapM fun u => do
      return (← getLevel u "Expr.const.us").1
    addExpr (.const (← getName (← field o "name") "Expr.const.name" (anonymous := false)) us) 1
  | "app" =>
    let o ← fields body #["fn", "arg"] "Expr.app"
    let (f, df) ← getExpr (← field o "fn") "Expr.app.fn"
    let (a, da) ← getExpr (← field o "arg") "Expr.app.arg"
    addExpr (.app f a) (max df da + 1)
  | "lam" | "forallE" =>
    let o ← fields body #["name", "type", "body", "binderInfo"] s!"Expr.{kind}"
    let n ← getName (← field o "name") s!"Expr.{kind}.name"
    let (t, dt) ← getExpr (← field o "type") s!"Expr.{kind}.type"
    let (b, db) ← getExpr (← field o "body") s!"Expr.{kind}.body"
    let bi ← binderInfoOf (← field o "binderInfo")
    addExpr (if kind == "lam" then .lam n t b bi else .forallE n t b bi) (max dt db + 1)
  | "letE" =>
    let o ← fields body #["name", "type", "value", "body", "nondep"] "Expr.letE"
    let n ← getName (← field o "name") "Expr.letE.name"
    let (t, dt) ← getExpr (← field o "type") "Expr.letE.type"
    let (v, dv) ← getExpr (← field o "value") "Expr.letE.value"
    let (b, db) ← getExpr (← field o "body") "Expr.letE.body"
    addExpr (.letE n t v b (← boolOf (← field o "nondep") "Expr.letE.nondep")) (max dt (max dv db) + 1)
  | "proj" =>
    let o ← fields body #["typeName", "idx", "struct"] "Expr.proj"
    let s ← getName (← field o "typeName") "Expr.proj.typeName" (anonymous := false)
    let (e, d) ← getExpr (← field o "struct") "Expr.proj.struct"
    addExpr (.proj s (← natOf (← field o "idx") "Expr.proj.idx") e) (d + 1)
  | "mdata" => invalid "mdata" "an mdata expression (never exported)"
  | other => invalid "unknown_record" s!"no expression record {other}"

/-! ## Declarations -/

def addConst (c : ConstantInfo) : M Unit := do
  let s ← get
  if s.consts.contains c.name then invalid "duplicate_declaration" s!"{c.name} is declared twice"
  if s.order.size + 1 > s.limits.declarations then tooLarge "declarations" "too many constants"
  set { s with consts := s.consts.insert c.name c, order := s.order.push c.name }

def constantVal (o : Obj) (what : String) : M ConstantVal := do
  return {
    name := ← getName (← field o "name") s!"{what}.name" (anonymous := false)
    levelParams := ← getNames (← field o "levelParams") s!"{what}.levelParams"
    type := (← getExpr (← field o "type") s!"{what}.type").1 }

-- TODO(step 4, real Lean): `inductive` groups (types, ctors, recs), `quot` and `opaque` records,
-- as docs/export-format.md lists them; the shapes follow lean4export's `parseInductive`. Until
-- then a reader built from this outline refuses them as unknown records, which is safe (a
-- refusal) but incomplete: a submission declaring a structure cannot be checked.
def readDeclaration (kind : String) (body : Json) : M Unit := do
  match kind with
  | "axiom" =>
    let o ← fields body #["name", "levelParams", "type", "isUnsafe"] "axiom"
    addConst (.axiomInfo {
      toConstantVal := ← constantVal o "axiom"
      isUnsafe := ← boolOf (← field o "isUnsafe") "axiom.isUnsafe" })
  | "thm" =>
    let o ← fields body #["name", "levelParams", "type", "value", "all"] "thm"
    addConst (.thmInfo {
      toConstantVal := ← constantVal o "thm"
      value := (← getExpr (← field o "value") "thm.value").1
      all := ← getNames (← field o "all") "thm.all" })
  | "def" =>
    let o ← fields body #["name", "levelParams", "type", "value", "hints", "safety", "all"] "def"
    let hints ← match ← field o "hints" with
      | .str "opaque" => pure ReducibilityHints.opaque
      | .str "abbrev" => pure .abbrev
      | h => do
        let r ← fields h #["regular"] "def.hints"
        pure (.regular (← natOf (← field r "regular") "def.hints.regular").toUInt32)
    let safety ← match ← strOf (← field o "safety") "def.safety" with
      | "safe" => pure DefinitionSafety.safe
      | "unsafe" => pure .unsafe
      | "partial" => pure .partial
      | other => invalid "bad_field" s!"def.safety {other}"
    addConst (.defnInfo {
      toConstantVal := ← constantVal o "def"
      value := (← getExpr (← field o "value") "def.value").1
      hints, safety
      all := ← getNames (← field o "all") "def.all" })
  | other => invalid "unknown_record" s!"no declaration record {other} (yet: see the TODO above)"

/-! ## Lines -/

def readMeta (j : Json) (pin : String × String) : M Unit := do
  let .obj top := j | invalid "missing_meta" "the first line is not the meta record"
  unless top.toList.length == 1 do invalid "missing_meta" "the first line is not the meta record"
  let some m := top["meta"]? | invalid "missing_meta" "the first line is not the meta record"
  let o ← fields m #["format", "lean", "module", "imports", "options"] "meta"
  let f ← fields (← field o "format") #["name", "version"] "meta.format"
  let l ← fields (← field o "lean") #["version", "githash"] "meta.lean"
  let name ← strOf (← field f "name") "meta.format.name"
  let version ← natOf (← field f "version") "meta.format.version"
  unless name == formatName && version == formatVersion do
    invalid "version_mismatch" s!"format {name} version {version}, this reader reads {formatName} {formatVersion}"
  let leanVersion ← strOf (← field l "version") "meta.lean.version"
  let leanGithash ← strOf (← field l "githash") "meta.lean.githash"
  unless (leanVersion, leanGithash) == pin do
    invalid "version_mismatch" s!"exported by Lean {leanVersion} ({leanGithash}), this checker is {pin.1} ({pin.2})"
  let imports ← (← arrOf (← field o "imports") "meta.imports").mapM fun i => do
    return (← strOf i "meta.imports[]").toName
  set { (← get) with meta? := some {
    leanVersion, leanGithash, imports, module := (← strOf (← field o "module") "meta.module").toName } }

def readEnd (j : Json) : M Unit := do
  let o ← fields j #["lines", "declarations"] "end"
  let s ← get
  let lines ← natOf (← field o "lines") "end.lines"
  let decls ← natOf (← field o "declarations") "end.declarations"
  unless lines + 1 == s.line && decls == s.order.size do
    invalid "trailer_mismatch" s!"the end record counts {lines} lines and {decls} declarations"
  set { s with ended := true }

/-- One line (without its newline), as docs/export-format.md reads it. -/
def readLine (bytes : ByteArray) (pin : String × String) : M Unit := do
  modify fun s => { s with line := s.line + 1 }
  let s ← get
  if s.line > s.limits.lines then tooLarge "lines" "too many lines"
  if bytes.size > s.limits.lineBytes then tooLarge "line_bytes" "a line is too long"
  if s.ended then invalid "data_after_end" "a line follows the end record"
  let some text := String.fromUTF8? bytes | invalid "not_utf8" "the line is not UTF-8"
  let colons ← match scanLine bytes with
    | .ok n => pure n
    | .error (code, reason) => invalid code reason
  let .ok j := Json.parse text | invalid "bad_json" "the line is not one JSON object"
  unless countKeys j == colons do invalid "duplicate_key" "an object repeats a key"
  if s.meta?.isNone then
    readMeta j pin
    return
  let .obj kvs := j | invalid "bad_json" "the line is not a JSON object"
  match kvs.toList with
  | [("end", body)] => readEnd body
  | [(kind, body)] => readDeclaration kind body
  | [(a, x), (b, y)] =>
    -- a primitive: its index key and its one kind, in either order
    let (idxKey, idx, kind, body) := if a == "in" || a == "il" || a == "ie" then (a, x, b, y) else (b, y, a, x)
    match idxKey, kind with
    | "in", "str" | "in", "num" => readName idx kind body
    | "il", "succ" | "il", "max" | "il", "imax" | "il", "param" => readLevel idx kind body
    | "ie", _ => readExpr idx kind body
    | _, _ => invalid "unknown_record" s!"no record has the keys {a}, {b}"
  | _ => invalid "unknown_record" "no record has these keys"
  if nodes (← get) > (← get).limits.termNodes then tooLarge "term_nodes" "too many term nodes"

/-- Split at `\n`; the last piece is what follows the last newline (empty for a whole export). -/
def splitLines (data : ByteArray) : Array ByteArray := Id.run do
  let mut out := #[]
  let mut start := 0
  for i in [0:data.size] do
    if data[i]! == 10 then
      out := out.push (data.extract start i)
      start := i + 1
  return out.push (data.extract start data.size)

/-- The export's constants in order, or why it was refused. `pin` is the checker's own
(`Lean.versionString`, `Lean.githash`). -/
def parse (data : ByteArray) (pin : String × String) (limits : Limits := {}) :
    Except Refusal (Array ConstantInfo × Meta) := do
  if data.size > limits.bytes then
    throw { code := "limit", line := 0, reason := "the export is too large", limit := some "bytes" }
  let pieces := splitLines data
  let go : M Unit := do
    for bytes in pieces.pop do readLine bytes pin
    unless pieces.back!.isEmpty do invalid "truncated" "the last line has no newline (cut off?)"
    unless (← get).ended do invalid "truncated" "the export ends without its end record"
  let ((), s) ← go.run { limits }
  let some m := s.meta? | throw { code := "truncated", line := 0, reason := "no meta record" }
  return (s.order.filterMap (s.consts[·]?), m)

end Proofgate.ExportParse
