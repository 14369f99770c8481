/-
proofgate's reader of the export format (docs/export-format.md, `proofgate-export` version 1):
the trusted checker's side of docs/audit-design.md, requirement 2.

UNTESTED AGAINST REAL LEAN. It has never been compiled: no Lean toolchain runs where proofgate is
developed. It was written for Lean v4.32.0 after reading lean4export's `Export/Parse.lean` (its
newest snapshot, toolchain v4.31.0-rc2; comparator's tag v4.32.0 pins lean4export at 4e79152,
which that snapshot does not hold) and the `Declaration`, `Environment` and `Json` sources of
leanprover/lean4 (stored versions, not the v4.32.0 tag itself), and follows their conventions (a state monad over index-keyed tables, terms
built with `Expr`'s constructors), but it is not a copy: the rules are docs/export-format.md's and
mirror `src/proofgate/verify/export.py` (same records, limits, refusal codes). Every API below
(`Json.parse`, `Json.obj`'s `Std.TreeMap.Raw` and its `[k]?`/`toList`, `JsonNumber`'s fields,
`String.fromUTF8?`, `ByteArray.extract`) is a claim to confirm when the real-Lean workflow builds
it. `Proofgate/Checker.lean` uses it for its export mode (`--submission-export`).

Safety (design, requirement 4): no `unsafe`, no `readModuleData`, no recursion on a term's depth.
Every record refers only to earlier indices, so each term is built bottom-up from terms already
built (one fresh object per index, shared by every later reference), and its depth is computed
from its children's as it is read. Lean's JSON parser recurses on nesting, so each line is scanned
first (`scanLine`): nesting, number tokens, surrogate escapes and stray carriage returns are checked
before `Json.parse` sees the line, and the number of keys it read is compared with the number of
`:` outside strings, because its object map keeps one value of a repeated key.

Known difference from the Python reader: a `\u` escape of a surrogate is refused even as half of a
valid pair (Python accepts a pair). Lean's JSON parser reads each `\uXXXX` as one `Char`, so a pair
would not read back as the character Python reads. Lean's JSON printer writes every character
from U+0020 up as raw UTF-8 (`escapeAux` in `src/Lean/Data/Json/Printer.lean`, stored versions),
so an exporter written in Lean never writes such an escape.
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
/-- The bound on an index (`2**63` in the Python reader); the limits keep real ones far below. -/
def maxIndex : Nat := 2 ^ 63

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

/-- Why an export was refused: `limit` set means outcome `export_too_large` (code `limit`), else
`export_invalid`. `code` is one of docs/export-format.md's; `line` is 1-based, 0 for the whole
export. -/
structure Refusal where
  code : String
  line : Nat
  reason : String
  limit : Option String := none

/-- The reason as the Python reader words it: `line N: ...` unless it names its line itself. -/
def Refusal.text (r : Refusal) : String :=
  if r.line == 0 || r.reason.startsWith "line " then r.reason else s!"line {r.line}: {r.reason}"

/-- The first line (`{"meta": ...}`), checked. -/
structure ExportHeader where
  leanVersion : String
  leanGithash : String
  module : Name
  imports : Array Name

/-- One declaration line: the constants it declares in the order written (an `inductive` record:
its types, then its constructors, then its recursors) and the record's key. -/
structure DeclRecord where
  line : Nat
  kind : String
  consts : Array ConstantInfo
  deriving Inhabited

/-- A whole export, read. -/
structure ParsedExport where
  header : ExportHeader
  /-- Every constant, in the order written. -/
  consts : Array ConstantInfo
  constMap : Std.HashMap Name ConstantInfo
  records : Array DeclRecord

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
  order : Array ConstantInfo := #[]
  records : Array DeclRecord := #[]
  header? : Option ExportHeader := none
  ended : Bool := false

/-- Pure: parsing does no IO. The tables are only ever changed through `modify`, so the state
stays unshared and `Array.push` works in place. -/
abbrev M := StateT State (Except Refusal)

def invalid {α : Type} (code reason : String) : M α := do
  throw { code, line := (← get).line, reason }

def tooLarge {α : Type} (limit reason : String) : M α := do
  throw { code := "limit", line := (← get).line, reason, limit := some limit }

/-- Names print unescaped in reasons, as the Python reader renders them. -/
def nameText (n : Name) : String := n.toString (escape := false)

/-- The first 40 characters, for echoing input in a reason. -/
def clip (s : String) : String := String.ofList (s.toList.take 40)

/-! ## The line scan (before `Json.parse`) -/

/-- One pass over a line's bytes outside and inside strings: the JSON nesting, the number of
`:` outside strings (one per object member), number tokens (digits only, at most
`maxNumberDigits`, no leading zero), `\u` escapes of a surrogate, and a carriage return before or
after the object (Python strips only spaces and tabs there; Lean's parser would skip it). Returns
the colon count, or the refusal's code and reason. -/
def scanLine (bytes : ByteArray) : Except (String × String) Nat := Id.run do
  -- The first and last bytes that are not a space or a tab must not be a carriage return.
  let mut lo := 0
  while lo < bytes.size && (bytes[lo]! == 32 || bytes[lo]! == 9) do lo := lo + 1
  let mut hi := bytes.size
  while hi > lo && (bytes[hi - 1]! == 32 || bytes[hi - 1]! == 9) do hi := hi - 1
  if hi > lo && (bytes[lo]! == 13 || bytes[hi - 1]! == 13) then
    return .error ("bad_json", "a carriage return around the line's JSON object")
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
          if (h == 68 || h == 100) &&
              (h2 ≥ 56 && h2 ≤ 57 || h2 ≥ 65 && h2 ≤ 70 || h2 ≥ 97 && h2 ≤ 102) then
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

/-- A name by index; `anonymous := false` refuses index 0 where the format forbids it. -/
def getName (j : Json) (what : String) (anonymous := true) : M Name := do
  let i ← natOf j what (bound := maxIndex)
  let some n := (← get).names[i]?
    | invalid "forward_reference" s!"{what} refers to name {i}, not defined yet"
  if i == 0 && !anonymous then invalid "bad_field" s!"{what} is the anonymous name"
  return n

def getLevel (j : Json) (what : String) : M (Level × Nat) := do
  let i ← natOf j what (bound := maxIndex)
  let s ← get
  let some l := s.levels[i]?
    | invalid "forward_reference" s!"{what} refers to level {i}, not defined yet"
  return (l, s.levelDepth[i]!)

def getExpr (j : Json) (what : String) : M (Expr × Nat) := do
  let i ← natOf j what (bound := maxIndex)
  let s ← get
  let some e := s.exprs[i]?
    | invalid "forward_reference" s!"{what} refers to expression {i}, not defined yet"
  return (e, s.exprDepth[i]!)

def getNames (j : Json) (what : String) : M (List Name) := do
  (← arrOf j what).toList.mapM (getName · s!"{what}[]" (anonymous := false))

/-- The record's own index must be the next free one of its table. -/
def newIndex (j : Json) (size : Nat) (table : String) : M Unit := do
  let i ← natOf j s!"the {table} index" (bound := maxIndex)
  if i < size then invalid "duplicate_index" s!"{table} {i} is already defined"
  if i > size then invalid "index_gap" s!"{table} {i} skips {size}, the next free index"

def nodes (s : State) : Nat := s.names.size - 1 + s.levels.size - 1 + s.exprs.size

/-! ## Names, levels, expressions -/

def addName (n : Name) (depth : Nat) : M Unit := do
  let limit := (← get).limits.nameDepth
  if depth > limit then tooLarge "name_depth" s!"a name has over {limit} components"
  modify fun s => { s with names := s.names.push n, nameDepth := s.nameDepth.push depth }

def readName (idx : Json) (kind : String) (body : Json) : M Unit := do
  newIndex idx (← get).names.size "name"
  let o ← fields body #["pre", if kind == "str" then "str" else "i"] s!"Name.{kind}"
  let preJson ← field o "pre"
  let pre ← getName preJson s!"Name.{kind}.pre"
  let preIdx ← natOf preJson s!"Name.{kind}.pre" (bound := maxIndex)
  let depth := (← get).nameDepth[preIdx]! + 1
  if kind == "str" then addName (.str pre (← strOf (← field o "str") "Name.str.str")) depth
  else addName (.num pre (← natOf (← field o "i") "Name.num.i")) depth

def addLevel (l : Level) (depth : Nat) : M Unit := do
  let limit := (← get).limits.levelDepth
  if depth > limit then tooLarge "level_depth" s!"a universe level is deeper than {limit}"
  modify fun s => { s with levels := s.levels.push l, levelDepth := s.levelDepth.push depth }

def readLevel (idx : Json) (kind : String) (body : Json) : M Unit := do
  newIndex idx (← get).levels.size "level"
  match kind with
  | "succ" =>
    let (l, d) ← getLevel body "Level.succ"
    addLevel (.succ l) (d + 1)
  | "param" => addLevel (.param (← getName body "Level.param" (anonymous := false))) 1
  | _ =>
    let #[a, b] ← arrOf body s!"Level.{kind}" | invalid "bad_field" s!"Level.{kind} is not a pair"
    let (la, da) ← getLevel a s!"Level.{kind}"
    let (lb, db) ← getLevel b s!"Level.{kind}"
    addLevel (if kind == "max" then .max la lb else .imax la lb) (max da db + 1)

def binderInfoOf (j : Json) (what : String) : M BinderInfo := do
  match j with
  | .str "default" => return .default
  | .str "implicit" => return .implicit
  | .str "strictImplicit" => return .strictImplicit
  | .str "instImplicit" => return .instImplicit
  | _ => invalid "bad_field"
    s!"{what} is not one of default, implicit, strictImplicit, instImplicit"

def addExpr (e : Expr) (depth : Nat) : M Unit := do
  let limit := (← get).limits.exprDepth
  if depth > limit then tooLarge "expr_depth" s!"an expression is deeper than {limit}"
  modify fun s => { s with exprs := s.exprs.push e, exprDepth := s.exprDepth.push depth }

def exprKinds : Array String :=
  #["bvar", "sort", "natVal", "strVal", "const", "app", "lam", "forallE", "letE", "proj"]

/-- Each case builds the term with `Expr`'s constructors, so its cached data (hash, loose
bound-variable range, flags) is computed here, never read from the input. As the Python reader:
`mdata` and an unknown kind are refused before the index is looked at. -/
def readExpr (idx : Json) (kind : String) (body : Json) : M Unit := do
  if kind == "mdata" then
    invalid "mdata" "an mdata expression: the exporter drops mdata, the kernel looks through it"
  unless exprKinds.contains kind do invalid "unknown_record" s!"no expression record {kind}"
  newIndex idx (← get).exprs.size "expression"
  let limits := (← get).limits
  match kind with
  | "bvar" => addExpr (.bvar (← natOf body "Expr.bvar" (bound := limits.exprDepth - 1))) 1
  | "sort" =>
    let (l, _) ← getLevel body "Expr.sort"
    addExpr (.sort l) 1
  | "natVal" =>
    let digits ← strOf body "Expr.natVal"
    if digits.length > limits.natDigits then
      tooLarge "nat_digits" s!"a literal has over {limits.natDigits} digits"
    let canonical := digits == "0" ||
      (!digits.isEmpty && digits.all Char.isDigit && digits.front != '0')
    let some n := (if canonical then digits.toNat? else none)
      | invalid "bad_field" "a literal is not a canonical decimal numeral"
    addExpr (.lit (.natVal n)) 1
  | "strVal" => addExpr (.lit (.strVal (← strOf body "Expr.strVal"))) 1
  | "const" =>
    let o ← fields body #["name", "us"] "Expr.const"
    let us ← (← arrOf (← field o "us") "Expr.const.us").toList.mapM fun u => do
      return (← getLevel u "Expr.const.us[]").1
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
    let bi ← binderInfoOf (← field o "binderInfo") s!"Expr.{kind}.binderInfo"
    addExpr (if kind == "lam" then .lam n t b bi else .forallE n t b bi) (max dt db + 1)
  | "letE" =>
    let o ← fields body #["name", "type", "value", "body", "nondep"] "Expr.letE"
    let n ← getName (← field o "name") "Expr.letE.name"
    let (t, dt) ← getExpr (← field o "type") "Expr.letE.type"
    let (v, dv) ← getExpr (← field o "value") "Expr.letE.value"
    let (b, db) ← getExpr (← field o "body") "Expr.letE.body"
    let nondep ← boolOf (← field o "nondep") "Expr.letE.nondep"
    addExpr (.letE n t v b nondep) (max dt (max dv db) + 1)
  | _ => -- "proj", the last of `exprKinds`
    let o ← fields body #["typeName", "idx", "struct"] "Expr.proj"
    let s ← getName (← field o "typeName") "Expr.proj.typeName" (anonymous := false)
    let (e, d) ← getExpr (← field o "struct") "Expr.proj.struct"
    addExpr (.proj s (← natOf (← field o "idx") "Expr.proj.idx") e) (d + 1)

/-! ## Declarations -/

/-- One constant, declared: refused if its name is taken (names compare by components, so `a.b`
and `«a.b»` differ, as in the Python reader), then counted against the limit. -/
def addConst (c : ConstantInfo) : M Unit := do
  if (← get).consts.contains c.name then
    invalid "duplicate_declaration" s!"{nameText c.name} is declared twice"
  modify fun s => { s with consts := s.consts.insert c.name c, order := s.order.push c }
  let limit := (← get).limits.declarations
  if (← get).order.size > limit then
    tooLarge "declarations" s!"the export declares over {limit} constants"

def constantVal (o : Obj) (what : String) : M ConstantVal := do
  return {
    name := ← getName (← field o "name") s!"{what}.name" (anonymous := false)
    levelParams := ← getNames (← field o "levelParams") s!"{what}.levelParams"
    type := (← getExpr (← field o "type") s!"{what}.type").1 }

def inductiveOf (j : Json) : M ConstantInfo := do
  let o ← fields j #["name", "levelParams", "type", "numParams", "numIndices", "all", "ctors",
    "numNested", "isRec", "isUnsafe", "isReflexive"] "inductive type"
  return .inductInfo {
    toConstantVal := ← constantVal o "inductive"
    numParams := ← natOf (← field o "numParams") "inductive.numParams"
    numIndices := ← natOf (← field o "numIndices") "inductive.numIndices"
    all := ← getNames (← field o "all") "inductive.all"
    ctors := ← getNames (← field o "ctors") "inductive.ctors"
    numNested := ← natOf (← field o "numNested") "inductive.numNested"
    isRec := ← boolOf (← field o "isRec") "inductive.isRec"
    isUnsafe := ← boolOf (← field o "isUnsafe") "inductive.isUnsafe"
    isReflexive := ← boolOf (← field o "isReflexive") "inductive.isReflexive" }

def constructorOf (j : Json) : M ConstantInfo := do
  let o ← fields j #["name", "levelParams", "type", "induct", "cidx", "numParams", "numFields",
    "isUnsafe"] "constructor"
  return .ctorInfo {
    toConstantVal := ← constantVal o "constructor"
    induct := ← getName (← field o "induct") "constructor.induct" (anonymous := false)
    cidx := ← natOf (← field o "cidx") "constructor.cidx"
    numParams := ← natOf (← field o "numParams") "constructor.numParams"
    numFields := ← natOf (← field o "numFields") "constructor.numFields"
    isUnsafe := ← boolOf (← field o "isUnsafe") "constructor.isUnsafe" }

def ruleOf (j : Json) : M RecursorRule := do
  let o ← fields j #["ctor", "nfields", "rhs"] "recursor rule"
  return {
    ctor := ← getName (← field o "ctor") "recursor rule.ctor" (anonymous := false)
    nfields := ← natOf (← field o "nfields") "recursor rule.nfields"
    rhs := (← getExpr (← field o "rhs") "recursor rule.rhs").1 }

def recursorOf (j : Json) : M ConstantInfo := do
  let o ← fields j #["name", "levelParams", "type", "all", "numParams", "numIndices",
    "numMotives", "numMinors", "rules", "k", "isUnsafe"] "recursor"
  return .recInfo {
    toConstantVal := ← constantVal o "recursor"
    all := ← getNames (← field o "all") "recursor.all"
    numParams := ← natOf (← field o "numParams") "recursor.numParams"
    numIndices := ← natOf (← field o "numIndices") "recursor.numIndices"
    numMotives := ← natOf (← field o "numMotives") "recursor.numMotives"
    numMinors := ← natOf (← field o "numMinors") "recursor.numMinors"
    rules := ← (← arrOf (← field o "rules") "recursor.rules").toList.mapM ruleOf
    k := ← boolOf (← field o "k") "recursor.k"
    isUnsafe := ← boolOf (← field o "isUnsafe") "recursor.isUnsafe" }

/-- The constants of one declaration line, each declared (`addConst`) as soon as it is read, as
the Python reader does, so a duplicate or the declaration limit is found at the same constant. -/
def readConstants (kind : String) (body : Json) : M (Array ConstantInfo) := do
  let mut out : Array ConstantInfo := #[]
  match kind with
  | "axiom" =>
    let o ← fields body #["name", "levelParams", "type", "isUnsafe"] "axiom"
    let c := ConstantInfo.axiomInfo {
      toConstantVal := ← constantVal o "axiom"
      isUnsafe := ← boolOf (← field o "isUnsafe") "axiom.isUnsafe" }
    addConst c
    out := out.push c
  | "thm" =>
    let o ← fields body #["name", "levelParams", "type", "value", "all"] "theorem"
    let c := ConstantInfo.thmInfo {
      toConstantVal := ← constantVal o "theorem"
      value := (← getExpr (← field o "value") "theorem.value").1
      all := ← getNames (← field o "all") "theorem.all" }
    addConst c
    out := out.push c
  | "def" =>
    let o ← fields body #["name", "levelParams", "type", "value", "hints", "safety", "all"]
      "definition"
    let hints : ReducibilityHints ← match (← field o "hints") with
      | .str "opaque" => pure ReducibilityHints.opaque
      | .str "abbrev" => pure .abbrev
      | h => do
        let r ← fields h #["regular"] "definition.hints"
        -- at most 2^32 - 1 (`natOf`'s default bound), so `toUInt32` does not wrap
        pure (.regular (← natOf (← field r "regular") "definition.hints.regular").toUInt32)
    let safety : DefinitionSafety ← match (← field o "safety") with
      | .str "safe" => pure DefinitionSafety.safe
      | .str "unsafe" => pure .unsafe
      | .str "partial" => pure .partial
      | _ => invalid "bad_field" "definition.safety is not one of safe, unsafe, partial"
    let c := ConstantInfo.defnInfo {
      toConstantVal := ← constantVal o "definition"
      value := (← getExpr (← field o "value") "definition.value").1
      hints, safety
      all := ← getNames (← field o "all") "definition.all" }
    addConst c
    out := out.push c
  | "opaque" =>
    -- `isUnsafe` is required here (lean4export's parser lets it default to false).
    let o ← fields body #["name", "levelParams", "type", "value", "isUnsafe", "all"] "opaque"
    let c := ConstantInfo.opaqueInfo {
      toConstantVal := ← constantVal o "opaque"
      value := (← getExpr (← field o "value") "opaque.value").1
      isUnsafe := ← boolOf (← field o "isUnsafe") "opaque.isUnsafe"
      all := ← getNames (← field o "all") "opaque.all" }
    addConst c
    out := out.push c
  | "quot" =>
    let o ← fields body #["name", "levelParams", "type", "kind"] "quotient"
    let qkind : QuotKind ← match (← field o "kind") with
      | .str "type" => pure QuotKind.type
      | .str "ctor" => pure .ctor
      | .str "lift" => pure .lift
      | .str "ind" => pure .ind
      | _ => invalid "bad_field" "quotient.kind is not one of type, ctor, lift, ind"
    let c := ConstantInfo.quotInfo { toConstantVal := ← constantVal o "quotient", kind := qkind }
    addConst c
    out := out.push c
  | "inductive" =>
    let o ← fields body #["types", "ctors", "recs"] "inductive"
    let types ← arrOf (← field o "types") "inductive.types"
    if types.isEmpty then invalid "bad_field" "inductive.types is empty"
    for t in types do
      let c ← inductiveOf t
      addConst c
      out := out.push c
    for j in (← arrOf (← field o "ctors") "inductive.ctors") do
      let c ← constructorOf j
      addConst c
      out := out.push c
    for j in (← arrOf (← field o "recs") "inductive.recs") do
      let c ← recursorOf j
      addConst c
      out := out.push c
  | other => invalid "unknown_record" s!"no declaration record {other}"
  return out

def readDeclaration (kind : String) (body : Json) : M Unit := do
  let consts ← readConstants kind body
  let line := (← get).line
  modify fun s => { s with records := s.records.push { line, kind, consts } }

/-! ## Lines -/

def readHeader (top : Obj) (pin : String × String) : M Unit := do
  unless top.toList.length == 1 do invalid "missing_meta" "the first line is not the meta record"
  let some m := top["meta"]? | invalid "missing_meta" "the first line is not the meta record"
  let o ← fields m #["format", "lean", "module", "imports", "options"] "meta"
  let f ← fields (← field o "format") #["name", "version"] "meta.format"
  let l ← fields (← field o "lean") #["version", "githash"] "meta.lean"
  -- Compared as JSON values, as the Python reader does: a wrong type is a mismatch too.
  let formatOk := match (← field f "name"), (← field f "version") with
    | .str n, .num ⟨Int.ofNat v, 0⟩ => n == formatName && v == formatVersion
    | _, _ => false
  unless formatOk do
    invalid "version_mismatch"
      (s!"this reader reads {formatName} version {formatVersion}: " ++
        "export it again with the elaborator of this release")
  let leanVersion ← strOf (← field l "version") "meta.lean.version"
  let leanGithash ← strOf (← field l "githash") "meta.lean.githash"
  unless leanVersion == pin.1 && leanGithash == pin.2 do
    invalid "version_mismatch"
      (s!"exported by Lean {clip leanVersion} ({clip leanGithash}), " ++
        s!"this reader belongs to Lean {pin.1} ({pin.2}): " ++
        "the elaborator and the checker must share one toolchain")
  let imports ← (← arrOf (← field o "imports") "meta.imports").mapM fun i => do
    return (← strOf i "meta.imports[]").toName
  let .obj options ← field o "options"
    | invalid "bad_field" "meta.options is not an object of booleans, naturals, strings"
  for (_, v) in options.toList do
    match v with
    | .bool _ | .str _ | .num ⟨Int.ofNat _, 0⟩ => pure ()
    | _ => invalid "bad_field" "meta.options is not an object of booleans, naturals, strings"
  let mainModule := (← strOf (← field o "module") "meta.module").toName
  modify fun s => { s with
    header? := some { leanVersion, leanGithash, imports, module := mainModule } }

def readEnd (j : Json) : M Unit := do
  let o ← fields j #["lines", "declarations"] "end"
  let lines ← natOf (← field o "lines") "end.lines"
  let decls ← natOf (← field o "declarations") "end.declarations"
  let s ← get
  unless lines + 1 == s.line && decls == s.order.size do
    invalid "trailer_mismatch"
      (s!"the end record counts {lines} lines and {decls} declarations, " ++
        s!"the export has {s.line - 1} and {s.order.size}")
  modify fun s => { s with ended := true }

/-- One line (without its newline), as docs/export-format.md reads it. -/
def readLine (bytes : ByteArray) (pin : String × String) : M Unit := do
  modify fun s => { s with line := s.line + 1 }
  let limits := (← get).limits
  if (← get).line > limits.lines then
    tooLarge "lines" s!"the export has over {limits.lines} lines"
  if bytes.size > limits.lineBytes then
    tooLarge "line_bytes" s!"the line is over {limits.lineBytes} bytes"
  if (← get).ended then invalid "data_after_end" "a line follows the end record"
  let some text := String.fromUTF8? bytes | invalid "not_utf8" "the line is not UTF-8"
  let colons : Nat ← match scanLine bytes with
    | .ok n => pure n
    | .error (code, reason) => invalid code reason
  let .ok j := Json.parse text | invalid "bad_json" "the line is not one JSON object"
  unless countKeys j == colons do invalid "duplicate_key" "an object repeats a key"
  let .obj kvs := j | invalid "bad_json" "the line is a JSON value, not an object"
  if (← get).header?.isNone then
    readHeader kvs pin
  else
    match kvs.toList with
    | [("end", body)] => readEnd body
    | [(kind, body)] => readDeclaration kind body
    | [(a, x), (b, y)] =>
      -- a primitive: its index key and its one kind, in either order (the map sorts its keys)
      let (idxKey, idx, kind, body) :=
        if a == "in" || a == "il" || a == "ie" then (a, x, b, y) else (b, y, a, x)
      match idxKey, kind with
      | "in", "str" | "in", "num" => readName idx kind body
      | "il", "succ" | "il", "max" | "il", "imax" | "il", "param" => readLevel idx kind body
      | "ie", _ => readExpr idx kind body
      | _, _ => invalid "unknown_record" s!"no record of the format has the keys {a}, {b}"
    | _ => invalid "unknown_record" "no record of the format has these keys"
  let s ← get
  if nodes s > s.limits.termNodes then
    tooLarge "term_nodes" s!"the export has over {s.limits.termNodes} term nodes"

/-- Split at `\n`; the last piece is what follows the last newline (empty for a whole export). -/
def splitLines (data : ByteArray) : Array ByteArray := Id.run do
  let mut out := #[]
  let mut start := 0
  for i in [0:data.size] do
    if data[i]! == 10 then
      out := out.push (data.extract start i)
      start := i + 1
  return out.push (data.extract start data.size)

/-- The export, or why it was refused. `pin` is the checker's own (`Lean.versionString`,
`Lean.githash`). -/
def parse (data : ByteArray) (pin : String × String) (limits : Limits := {}) :
    Except Refusal ParsedExport := do
  if data.size > limits.bytes then
    throw { code := "limit", line := 0, reason := s!"the export is over {limits.bytes} bytes",
            limit := some "bytes" }
  let pieces := splitLines data
  let go : M Unit := do
    for bytes in pieces.pop do readLine bytes pin
    let rest := pieces.back!
    let next := (← get).line + 1
    if rest.size > limits.lineBytes then
      tooLarge "line_bytes" s!"line {next} is over {limits.lineBytes} bytes"
    unless rest.isEmpty do invalid "truncated" s!"line {next} has no final newline (cut off?)"
    if (← get).header?.isNone then
      throw { code := "truncated", line := 0, reason := "the export is empty: no meta record" }
    unless (← get).ended do
      invalid "truncated" s!"the export ends after line {(← get).line} without its end record"
  let ((), s) ← go.run { limits }
  let some header := s.header?
    | throw { code := "truncated", line := 0, reason := "the export is empty: no meta record" }
  return { header, consts := s.order, constMap := s.consts, records := s.records }

/-! ## Records to kernel declarations -/

/-- The kernel declaration of an `inductive` record: its types in order, each with the
constructors it lists, each constructor in the record exactly once, under its own type. Parameter
and universe counts come from the first type and must be every type's. The record's own fields
(`all`, the counts, `isRec`, the constructors' and recursors' fields) are not trusted here: the
checker compares each constant with the one the kernel builds. Unsafe records are never sent
(the checker skips them), hence `isUnsafe := false`, as core's `Environment.replay` does. -/
def DeclRecord.inductDecl (r : DeclRecord) : Except String Declaration := do
  let mut types : Array InductiveVal := #[]
  let mut ctors : Std.HashMap Name ConstructorVal := {}
  for c in r.consts do
    match c with
    | .inductInfo v => types := types.push v
    | .ctorInfo v => ctors := ctors.insert v.name v
    | .recInfo _ => pure ()
    | _ => throw s!"{nameText c.name} is no type, constructor or recursor"
  let some head := types[0]? | throw "an inductive record without a type"
  let mut listed : NameHashSet := {}
  let mut out : Array InductiveType := #[]
  for t in types do
    unless t.levelParams == head.levelParams do
      throw s!"{nameText t.name} has other universe parameters than {nameText head.name}"
    unless t.numParams == head.numParams do
      throw s!"{nameText t.name} has another number of parameters than {nameText head.name}"
    let mut cs : Array Constructor := #[]
    for n in t.ctors do
      let some cv := ctors[n]?
        | throw s!"{nameText t.name} lists {nameText n}, no constructor of the record"
      unless cv.induct == t.name do
        throw (s!"{nameText n} is a constructor of {nameText cv.induct}, " ++
          s!"listed under {nameText t.name}")
      if listed.contains n then throw s!"{nameText n} is listed twice"
      listed := listed.insert n
      cs := cs.push { name := n, type := cv.type }
    out := out.push { name := t.name, type := t.type, ctors := cs.toList }
  if listed.size != ctors.size then throw "a constructor of the record is listed by no type of it"
  return .inductDecl head.levelParams head.numParams out.toList false

/-- The declaration a record sends the kernel. A `quot` record sends `quotDecl`, which declares
all four quotient constants at once (the checker sends it once). -/
def DeclRecord.toDeclaration (r : DeclRecord) : Except String Declaration :=
  match r.kind, r.consts.toList with
  | "axiom", [.axiomInfo v] => .ok (.axiomDecl v)
  | "def", [.defnInfo v] => .ok (.defnDecl v)
  | "thm", [.thmInfo v] => .ok (.thmDecl v)
  | "opaque", [.opaqueInfo v] => .ok (.opaqueDecl v)
  | "quot", [.quotInfo _] => .ok .quotDecl
  | "inductive", _ => r.inductDecl
  | other, _ => .error s!"a {other} record of an unexpected shape"

end Proofgate.ExportParse
