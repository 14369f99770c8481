/-
The export writer (docs/export-format.md, format 1), shared by the two programs that write exports:
`proofgate-export` (`Proofgate/Export.lean`: the constants of a compiled `.olean`) and
`proofgate-elab` (`Proofgate/Elab.lean`: the constants a one-shot elaboration added). Both hand it
a header (module, imports, options) and a list of constants; it writes the meta line, one record
per constant (an inductive block as one record), and the trailer
(docs/audit-design.md, section 9, steps 3 and 6).

UNTESTED AGAINST REAL LEAN. It has never been compiled: no Lean toolchain runs where proofgate is
developed. It was moved out of `Proofgate/Export.lean` unchanged except that it reads a list of
`ConstantInfo` instead of a `ModuleData`; the sources it was written from are listed there.

Numbering. A term is written bottom-up: every node after its children, so every reference points
back. Two tables per kind: one by the address of the object read (the caller keeps the constants
alive for the whole run: the `.olean`'s region is never freed, and the elaborator holds its
environment until the export is written; so an address names one object and a shared subterm is
visited once), and one by the record's own text without its index (so equal records share one
index, whatever the input shared: exact structural sharing, binder names, binder info and `nondep`
included, with no use of `Expr`'s hash or `==`, whose cached data a crafted `.olean` controls).
`mdata` is looked through: an `mdata` node gets its body's index and no record. Free variables
and metavariables (expression or universe) are refused.

Stack. Nothing recurses on a term: expressions and universe levels are walked with an explicit
work array (post-order: a node is pushed back once above its children and written when it comes
up again, by which time they all have indices), names by walking their prefixes in a loop.
`Json.compress` is itself iterative (`src/Lean/Data/Json/Printer.lean`, stored versions) and a
record nests at most 6 deep; a literal is printed by Lean's own `Nat` printing.

Refusals (`Refusal`, the `code`s of docs/export-format.md, "The writer"): `module_mismatch` and a
constant declared twice (`checkConstants`), `free_variable`, `metavariable`, `write_failed`,
`internal` (a term used before it was written: a bug of this writer).
-/
import Lean
import Proofgate.ExportParse

open Lean

namespace Proofgate.Export

/-- Why the exporter stopped. -/
structure Refusal where
  code : String
  detail : String

def Refusal.render (r : Refusal) : String :=
  (Json.mkObj [("error", Json.str r.code), ("detail", Json.str r.detail)]).compress

/-! ## Names without recursion -/

/-- The components of `n`, root first, each as a one-component name; a loop over the prefixes,
so a name of any length costs no stack. -/
def components (n : Name) : Array Name := Id.run do
  let mut out : Array Name := #[]
  let mut cur := n
  let mut more := true
  while more do
    match cur with
    | .anonymous => more := false
    | .str p s =>
      out := out.push (Name.str .anonymous s)
      cur := p
    | .num p i =>
      out := out.push (Name.num .anonymous i)
      cur := p
  return out.reverse

/-- A name printed unescaped (as the readers render names), without recursion. -/
def nameText (n : Name) : String :=
  ".".intercalate ((components n).toList.map fun c =>
    match c with
    | .str _ s => s
    | .num _ i => toString i
    | .anonymous => "")

/-- The module a private name belongs to: `_private.M.0.x` gives `M`'s components (those between
the `_private` root and the first numeric component, `mkPrivateNameCore` in
`src/Lean/PrivateName.lean`); none for a name that is not private. -/
def privateModule? (n : Name) : Option (Array Name) := Id.run do
  let cs := components n
  unless cs.size > 0 && cs[0]! == Name.str .anonymous "_private" do return none
  let mut out : Array Name := #[]
  for c in cs[1:] do
    if c.isNum then break
    out := out.push c
  return some out

/-! ## Options (the meta line's typed values) -/

/-- `0`, or digits without a leading zero. -/
def isCanonicalNumeral (s : String) : Bool :=
  !s.isEmpty && s.all Char.isDigit && (s == "0" || s.front != '0')

/-- An option's value as the format types it: a boolean, a natural, else a string. A numeral
longer than the format's integers (`maxNumberDigits`) is refused: both readers would refuse the
export. -/
def optionValue (name text : String) : Except String Json := do
  if text == "true" then return Json.bool true
  if text == "false" then return Json.bool false
  unless isCanonicalNumeral text do return Json.str text
  if text.length > ExportParse.maxNumberDigits then
    throw (s!"--option {name}: {text} has over {ExportParse.maxNumberDigits} digits, " ++
      "more than the export format's integers hold")
  return toJson text.toNat!

/-- `NAME=VALUE` split at the first `=`. -/
def splitOption (pair : String) : Option (String × String) :=
  match pair.splitOn "=" with
  | name :: first :: rest => some (name, "=".intercalate (first :: rest))
  | _ => none

/-! ## Writing -/

structure Ctx where
  out : IO.FS.Handle

/-- The tables. `*At`: by the address of an object of the `.olean`; `*Rec`: by a record's text
without its index. Indices: names from 1 (0 is the anonymous name), levels from 1 (0 is
`Level.zero`), expressions from 0. -/
structure State where
  lines : Nat := 0
  decls : Nat := 0
  nameCount : Nat := 1
  levelCount : Nat := 1
  exprCount : Nat := 0
  nameAt : Std.HashMap USize Nat := {}
  levelAt : Std.HashMap USize Nat := {}
  exprAt : Std.HashMap USize Nat := {}
  nameRec : Std.HashMap String Nat := {}
  levelRec : Std.HashMap String Nat := {}
  exprRec : Std.HashMap String Nat := {}

abbrev M := ReaderT Ctx (StateT State (ExceptT Refusal IO))

def refuse {α : Type} (code detail : String) : M α :=
  throwThe Refusal { code, detail }

def writeLine (j : Json) : M Unit := do
  (← read).out.putStrLn j.compress
  modify fun s => { s with lines := s.lines + 1 }

inductive Table where
  | name | level | expr

/-- The index of the record `{kind: inner}` in table `t`: the index an equal record already has,
else the next free one, written now with its index key (`in`, `il`, `ie`). -/
def intern (t : Table) (kind : String) (inner : Json) : M Nat := do
  let text := (Json.mkObj [(kind, inner)]).compress
  let s ← get
  let (found, next, key) := match t with
    | .name => (s.nameRec[text]?, s.nameCount, "in")
    | .level => (s.levelRec[text]?, s.levelCount, "il")
    | .expr => (s.exprRec[text]?, s.exprCount, "ie")
  if let some i := found then return i
  writeLine (Json.mkObj [(key, toJson next), (kind, inner)])
  modify fun s => match t with
    | .name => { s with nameCount := next + 1, nameRec := s.nameRec.insert text next }
    | .level => { s with levelCount := next + 1, levelRec := s.levelRec.insert text next }
    | .expr => { s with exprCount := next + 1, exprRec := s.exprRec.insert text next }
  return next

/-- A name's index, writing the components not written yet: walk up the prefixes to the first
one already known (or the anonymous root), then write the rest from the root down. -/
unsafe def nameIdx (n : Name) : M Nat := do
  if n.isAnonymous then return 0
  if let some i := (← get).nameAt[ptrAddrUnsafe n]? then return i
  let mut pending : Array Name := #[]
  let mut cur := n
  let mut base := 0
  let mut searching := true
  while searching do
    match cur with
    | .anonymous => searching := false
    | .str p _ | .num p _ =>
      match (← get).nameAt[ptrAddrUnsafe cur]? with
      | some i =>
        base := i
        searching := false
      | none =>
        pending := pending.push cur
        cur := p
  let mut parent := base
  for k in pending.reverse do
    let idx ← match k with
      | .str _ s => intern .name "str" (Json.mkObj [("pre", toJson parent), ("str", Json.str s)])
      | .num _ i => intern .name "num" (Json.mkObj [("pre", toJson parent), ("i", toJson i)])
      | .anonymous => pure 0
    modify fun st => { st with nameAt := st.nameAt.insert (ptrAddrUnsafe k) idx }
    parent := idx
  return parent

/-- The index of a level already written. -/
unsafe def levelRef (l : Level) : M Nat := do
  if let .zero := l then return 0
  match (← get).levelAt[ptrAddrUnsafe l]? with
  | some i => return i
  | none => refuse "internal" "a universe level was used before it was written"

/-- A level's index, writing every sub-level not written yet, children first (explicit stack). -/
unsafe def levelIdx (l : Level) : M Nat := do
  if let .zero := l then return 0
  if let some i := (← get).levelAt[ptrAddrUnsafe l]? then return i
  let mut todo : Array (Level × Bool) := #[(l, false)]
  while !todo.isEmpty do
    let (x, ready) := todo.back!
    todo := todo.pop
    if let .zero := x then continue
    if (← get).levelAt.contains (ptrAddrUnsafe x) then continue
    if !ready then
      todo := todo.push (x, true)
      match x with
      | .succ a => todo := todo.push (a, false)
      | .max a b | .imax a b => todo := (todo.push (b, false)).push (a, false)
      | .mvar _ => refuse "metavariable" "a universe level metavariable"
      | _ => pure ()
    else
      let idx ← match x with
        | .succ a => do
          let i ← levelRef a
          intern .level "succ" (toJson i)
        | .max a b => do
          let i ← levelRef a
          let j ← levelRef b
          intern .level "max" (Json.arr #[toJson i, toJson j])
        | .imax a b => do
          let i ← levelRef a
          let j ← levelRef b
          intern .level "imax" (Json.arr #[toJson i, toJson j])
        | .param n => do
          let i ← nameIdx n
          intern .level "param" (toJson i)
        | .mvar _ => refuse "metavariable" "a universe level metavariable"
        | .zero => pure 0
      modify fun s => { s with levelAt := s.levelAt.insert (ptrAddrUnsafe x) idx }
  levelRef l

/-- The index of an expression already written. -/
unsafe def exprRef (e : Expr) : M Nat := do
  match (← get).exprAt[ptrAddrUnsafe e]? with
  | some i => return i
  | none => refuse "internal" "an expression was used before it was written"

def binderText : BinderInfo → String
  | .default => "default"
  | .implicit => "implicit"
  | .strictImplicit => "strictImplicit"
  | .instImplicit => "instImplicit"

/-- The record of one expression whose children are all written (`mdata`: its body's index). -/
unsafe def exprRecord (x : Expr) : M Nat := do
  match x with
  | .bvar i => intern .expr "bvar" (toJson i)
  | .sort u => do
    let i ← levelIdx u
    intern .expr "sort" (toJson i)
  | .const n us => do
    let ni ← nameIdx n
    let mut ls : Array Json := #[]
    for u in us do
      let i ← levelIdx u
      ls := ls.push (toJson i)
    intern .expr "const" (Json.mkObj [("name", toJson ni), ("us", Json.arr ls)])
  | .app f a => do
    let fi ← exprRef f
    let ai ← exprRef a
    intern .expr "app" (Json.mkObj [("fn", toJson fi), ("arg", toJson ai)])
  | .lam n t b bi => do
    let ni ← nameIdx n
    let ti ← exprRef t
    let bj ← exprRef b
    intern .expr "lam" (Json.mkObj [("name", toJson ni), ("type", toJson ti),
      ("body", toJson bj), ("binderInfo", Json.str (binderText bi))])
  | .forallE n t b bi => do
    let ni ← nameIdx n
    let ti ← exprRef t
    let bj ← exprRef b
    intern .expr "forallE" (Json.mkObj [("name", toJson ni), ("type", toJson ti),
      ("body", toJson bj), ("binderInfo", Json.str (binderText bi))])
  | .letE n t v b nondep => do
    let ni ← nameIdx n
    let ti ← exprRef t
    let vi ← exprRef v
    let bj ← exprRef b
    intern .expr "letE" (Json.mkObj [("name", toJson ni), ("type", toJson ti),
      ("value", toJson vi), ("body", toJson bj), ("nondep", Json.bool nondep)])
  | .lit (.natVal k) => intern .expr "natVal" (Json.str (toString k))
  | .lit (.strVal s) => intern .expr "strVal" (Json.str s)
  | .mdata _ b => exprRef b
  | .proj s i b => do
    let si ← nameIdx s
    let bj ← exprRef b
    intern .expr "proj" (Json.mkObj [("typeName", toJson si), ("idx", toJson i),
      ("struct", toJson bj)])
  | .fvar _ => refuse "free_variable" "an expression holds a free variable"
  | .mvar _ => refuse "metavariable" "an expression holds a metavariable"

/-- An expression's index, writing every subterm not written yet, children first (explicit
stack: a node is pushed back above its children and written when it comes up again). -/
unsafe def exprIdx (e : Expr) : M Nat := do
  if let some i := (← get).exprAt[ptrAddrUnsafe e]? then return i
  let mut todo : Array (Expr × Bool) := #[(e, false)]
  while !todo.isEmpty do
    let (x, ready) := todo.back!
    todo := todo.pop
    if (← get).exprAt.contains (ptrAddrUnsafe x) then continue
    if !ready then
      todo := todo.push (x, true)
      match x with
      | .app f a => todo := (todo.push (a, false)).push (f, false)
      | .lam _ t b _ | .forallE _ t b _ => todo := (todo.push (b, false)).push (t, false)
      | .letE _ t v b _ => todo := ((todo.push (b, false)).push (v, false)).push (t, false)
      | .mdata _ b | .proj _ _ b => todo := todo.push (b, false)
      | .fvar _ => refuse "free_variable" "an expression holds a free variable"
      | .mvar _ => refuse "metavariable" "an expression holds a metavariable"
      | _ => pure ()
    else
      let idx ← exprRecord x
      modify fun s => { s with exprAt := s.exprAt.insert (ptrAddrUnsafe x) idx }
  exprRef e

/-! ## Declaration records (the shapes `Proofgate/ExportParse.lean` and `verify/export.py` read) -/

unsafe def namesJson (ns : List Name) : M Json := do
  let mut out : Array Json := #[]
  for n in ns do
    let i ← nameIdx n
    out := out.push (toJson i)
  return Json.arr out

/-- `name`, `levelParams`, `type`: the fields every declaration has. -/
unsafe def constantFields (v : ConstantVal) : M (List (String × Json)) := do
  let n ← nameIdx v.name
  let ps ← namesJson v.levelParams
  let t ← exprIdx v.type
  return [("name", toJson n), ("levelParams", ps), ("type", toJson t)]

def hintsJson : ReducibilityHints → Json
  | .opaque => Json.str "opaque"
  | .abbrev => Json.str "abbrev"
  | .regular h => Json.mkObj [("regular", toJson h.toNat)]

def safetyText : DefinitionSafety → String
  | .safe => "safe"
  | .unsafe => "unsafe"
  | .partial => "partial"

def quotText : QuotKind → String
  | .type => "type"
  | .ctor => "ctor"
  | .lift => "lift"
  | .ind => "ind"

/-- Writes one declaration record declaring `count` constants. -/
def writeDecl (kind : String) (body : List (String × Json)) (count : Nat := 1) : M Unit := do
  writeLine (Json.mkObj [(kind, Json.mkObj body)])
  modify fun s => { s with decls := s.decls + count }

unsafe def inductiveJson (v : InductiveVal) : M Json := do
  let fields ← constantFields v.toConstantVal
  let all ← namesJson v.all
  let ctors ← namesJson v.ctors
  return Json.mkObj (fields ++ [("numParams", toJson v.numParams),
    ("numIndices", toJson v.numIndices), ("all", all), ("ctors", ctors),
    ("numNested", toJson v.numNested), ("isRec", Json.bool v.isRec),
    ("isUnsafe", Json.bool v.isUnsafe), ("isReflexive", Json.bool v.isReflexive)])

unsafe def constructorJson (v : ConstructorVal) : M Json := do
  let fields ← constantFields v.toConstantVal
  let induct ← nameIdx v.induct
  return Json.mkObj (fields ++ [("induct", toJson induct), ("cidx", toJson v.cidx),
    ("numParams", toJson v.numParams), ("numFields", toJson v.numFields),
    ("isUnsafe", Json.bool v.isUnsafe)])

unsafe def recursorJson (v : RecursorVal) : M Json := do
  let fields ← constantFields v.toConstantVal
  let all ← namesJson v.all
  let mut rules : Array Json := #[]
  for r in v.rules do
    let ctor ← nameIdx r.ctor
    let rhs ← exprIdx r.rhs
    rules := rules.push (Json.mkObj [("ctor", toJson ctor), ("nfields", toJson r.nfields),
      ("rhs", toJson rhs)])
  return Json.mkObj (fields ++ [("all", all), ("numParams", toJson v.numParams),
    ("numIndices", toJson v.numIndices), ("numMotives", toJson v.numMotives),
    ("numMinors", toJson v.numMinors), ("rules", Json.arr rules), ("k", Json.bool v.k),
    ("isUnsafe", Json.bool v.isUnsafe)])

/-- The inductive type of this module a recursor belongs to: the first of its `all` that is one,
else the prefix of its name (`T.rec_1` ↦ `T`) if that is one. -/
def recOwner (byName : Std.HashMap Name ConstantInfo) (rv : RecursorVal) : Option Name :=
  let isType (n : Name) : Bool := match byName[n]? with
    | some (.inductInfo _) => true
    | _ => false
  match rv.all.find? isType with
  | some t => some t
  | none => if isType rv.name.getPrefix then some rv.name.getPrefix else none

/-- The inductive type whose block a constant of an inductive declaration is written in. -/
def blockHead (byName : Std.HashMap Name ConstantInfo) : ConstantInfo → Option Name
  | .ctorInfo v => some v.induct
  | .recInfo v => recOwner byName v
  | c => some c.name

/-- One inductive block: the types of the `all` list of the inductive `head`, each type's
constructors, and every recursor of the module that `recOwner` gives one of the types (in
module order). Each must be a constant of this module of the right kind, else `bad_olean`. -/
def inductiveBlock (byName : Std.HashMap Name ConstantInfo)
    (recsOf : Std.HashMap Name (Array Name)) (head : Name) :
    M (Array InductiveVal × Array ConstructorVal × Array RecursorVal) := do
  let some (.inductInfo hv) := byName[head]?
    | refuse "bad_olean" s!"{nameText head} is not an inductive type of this module"
  if hv.all.isEmpty then refuse "bad_olean" s!"{nameText head} lists no types in its block"
  let mut types : Array InductiveVal := #[]
  let mut ctors : Array ConstructorVal := #[]
  let mut recs : Array RecursorVal := #[]
  let mut seenRecs : NameHashSet := {}
  for t in hv.all do
    let some (.inductInfo tv) := byName[t]?
      | refuse "bad_olean"
          s!"{nameText t}, of the block of {nameText head}, is not an inductive type of this module"
    types := types.push tv
  for tv in types do
    for c in tv.ctors do
      let some (.ctorInfo cv) := byName[c]?
        | refuse "bad_olean"
            s!"{nameText c}, a constructor of {nameText tv.name}, is no constructor of this module"
      ctors := ctors.push cv
    for r in recsOf.getD tv.name #[] do
      if seenRecs.contains r then continue
      seenRecs := seenRecs.insert r
      let some (.recInfo rv) := byName[r]?
        | refuse "bad_olean" s!"{nameText r} is not a recursor of this module"
      recs := recs.push rv
  return (types, ctors, recs)

/-- Every constant of the list, in its order, each in exactly one record. -/
unsafe def writeConstants (constants : Array ConstantInfo) : M Unit := do
  let mut byName : Std.HashMap Name ConstantInfo := {}
  let mut recsOf : Std.HashMap Name (Array Name) := {}
  for c in constants do
    byName := byName.insert c.name c
  for c in constants do
    if let .recInfo r := c then
      if let some t := recOwner byName r then
        recsOf := recsOf.insert t ((recsOf.getD t #[]).push r.name)
  let mut done : NameHashSet := {}
  for c in constants do
    if done.contains c.name then continue
    match c with
    | .axiomInfo v =>
      let fields ← constantFields v.toConstantVal
      writeDecl "axiom" (fields ++ [("isUnsafe", Json.bool v.isUnsafe)])
    | .defnInfo v =>
      let fields ← constantFields v.toConstantVal
      let value ← exprIdx v.value
      let all ← namesJson v.all
      writeDecl "def" (fields ++ [("value", toJson value), ("hints", hintsJson v.hints),
        ("safety", Json.str (safetyText v.safety)), ("all", all)])
    | .thmInfo v =>
      let fields ← constantFields v.toConstantVal
      let value ← exprIdx v.value
      let all ← namesJson v.all
      writeDecl "thm" (fields ++ [("value", toJson value), ("all", all)])
    | .opaqueInfo v =>
      let fields ← constantFields v.toConstantVal
      let value ← exprIdx v.value
      let all ← namesJson v.all
      writeDecl "opaque" (fields ++ [("value", toJson value), ("isUnsafe", Json.bool v.isUnsafe),
        ("all", all)])
    | .quotInfo v =>
      let fields ← constantFields v.toConstantVal
      writeDecl "quot" (fields ++ [("kind", Json.str (quotText v.kind))])
    | .inductInfo _ | .ctorInfo _ | .recInfo _ =>
      let some head := blockHead byName c
        | refuse "bad_olean" s!"the recursor {nameText c.name} belongs to no inductive type here"
      let (types, ctors, recs) ← inductiveBlock byName recsOf head
      let mut members : Array Name := #[]
      for v in types do members := members.push v.name
      for v in ctors do members := members.push v.name
      for v in recs do members := members.push v.name
      unless members.contains c.name do
        refuse "bad_olean" s!"{nameText c.name} is not in the inductive block of {nameText head}"
      for n in members do
        if done.contains n then
          refuse "bad_olean" s!"{nameText n} is in two inductive blocks"
        done := done.insert n
      let mut typesJson : Array Json := #[]
      for v in types do typesJson := typesJson.push (← inductiveJson v)
      let mut ctorsJson : Array Json := #[]
      for v in ctors do ctorsJson := ctorsJson.push (← constructorJson v)
      let mut recsJson : Array Json := #[]
      for v in recs do recsJson := recsJson.push (← recursorJson v)
      writeDecl "inductive" [("types", Json.arr typesJson), ("ctors", Json.arr ctorsJson),
        ("recs", Json.arr recsJson)] (count := members.size)
    done := done.insert c.name

/-- What the meta line says besides the format and the toolchain: the main module the constants
were made under, the header's imports, and the option set (already typed, `optionValue`). -/
structure ExportHeader where
  module : String
  imports : Array Name
  options : Array (String × Json)

def metaRecord (h : ExportHeader) : Json :=
  Json.mkObj [("meta", Json.mkObj [
    ("format", Json.mkObj [("name", Json.str ExportParse.formatName),
      ("version", toJson ExportParse.formatVersion)]),
    ("lean", Json.mkObj [("version", Json.str Lean.versionString),
      ("githash", Json.str Lean.githash)]),
    ("module", Json.str h.module),
    ("imports", Json.arr (h.imports.map fun i => Json.str (nameText i))),
    ("options", Json.mkObj h.options.toList)])]

unsafe def writeExport (h : ExportHeader) (constants : Array ConstantInfo) : M Unit := do
  writeLine (metaRecord h)
  writeConstants constants
  let s ← get
  writeLine (Json.mkObj [("end", Json.mkObj [("lines", toJson s.lines),
    ("declarations", toJson s.decls)])])

/-- The checks every list of constants passes before anything is written: no constant twice, and
every private name (`_private.M.0.x`) private to `module`. For an `.olean` the private names are
the only evidence of the module it was compiled as (it stores no module name); for an
elaboration they show a constant made under another module's prefix. A list with no private
constant passes. (To confirm on real Lean: whether a module can declare a constant under an
imported module's private prefix, e.g. a realized equation lemma of an imported private
definition; such a module would be refused.) -/
def checkConstants (constants : Array ConstantInfo) (module : Name) : Option Refusal := Id.run do
  let want := components module
  let mut seen : NameHashSet := {}
  for c in constants do
    let n := c.name
    if seen.contains n then
      return some { code := "bad_olean", detail := s!"{nameText n} is declared twice" }
    seen := seen.insert n
    if let some m := privateModule? n then
      unless m == want do
        let owner := ".".intercalate (m.toList.map nameText)
        return some { code := "module_mismatch",
                      detail := s!"{nameText n} is private to {owner}, not {nameText module}" }
  return none

/-- Writes the export to `out`, or says why not (an IO error while writing: `write_failed`). -/
unsafe def exportTo (out : System.FilePath) (h : ExportHeader) (constants : Array ConstantInfo) :
    IO (Except Refusal Unit) := do
  try
    let handle ← IO.FS.Handle.mk out .write
    let r ← (((writeExport h constants).run { out := handle }).run' {}).run
    handle.flush
    return r
  catch e =>
    return .error { code := "write_failed", detail := s!"cannot write {out}: {e}" }

/-- The one entry point of both programs: `checkConstants`, then the export of `constants` to
`out`. A refused or cut export leaves no file behind (it has no trailer and would be refused
anyway). The caller keeps `constants` alive until this returns (the address tables rely on it). -/
unsafe def exportFile (out : System.FilePath) (h : ExportHeader)
    (constants : Array ConstantInfo) : IO (Option Refusal) := do
  if let some r := checkConstants constants h.module.toName then
    return some r
  match (← exportTo out h constants) with
  | .ok () => return none
  | .error refusal =>
    try IO.FS.removeFile out catch _ => pure ()
    return some refusal

def refused (r : Refusal) : IO UInt32 := do
  IO.println r.render
  return 1

end Proofgate.Export
