/-
proofgate's trusted checker: the rebuild of a module's terms before anything reads them (step 2 of
docs/checker-contract.md), shared by every API era. UNTESTED AGAINST REAL LEAN (see
`Proofgate/Common.lean`).
-/
import Lean
import Proofgate.Compat

open Lean
open Proofgate.Compat

namespace Proofgate.Checker
/-! ### Rebuilding the submission's terms

The `.olean` is written by a process that ran the submission's code, which can leave objects no
elaborator would build (e.g. `unsafeCast` of an `Int` to a `Nat`, a wrong cached hash, a shared
subterm aliasing another). Before anything is compared or replayed, every `Name`, `Level` and
`Expr` of every constant is rebuilt from its parts through the constructors, so each node is a
fresh object whose cached data (hash, flags, loose bound-variable range) is recomputed here; every
natural number in a term (literals, de Bruijn indices, projection indices, name components, the
counts of inductive types) is rebuilt from its decimal text, and one whose text is not a canonical
numeral is refused (SafeVerify's "badNat" class). `mdata` is dropped: the kernel looks through it.
Free and meta variables are refused: a closed constant has none. -/

/-- The rebuild's memo, by the address of the object read: the `.olean`'s region stays mapped for
the whole run, so an address names one object, and a shared subterm is rebuilt once. -/
structure Fresh where
  exprs : HMap USize Expr := mapEmpty
  levels : HMap USize Level := mapEmpty

abbrev FreshM := StateT Fresh (Except String)

/-- `n` rebuilt from its decimal text; refused unless that text is a canonical numeral. -/
def freshNat (what : String) (n : Nat) : FreshM Nat := do
  let text := toString n
  let digits := !text.isEmpty && text.all Char.isDigit
  unless digits && (text == "0" || !text.startsWith "0") do
    throw s!"{what} is a natural number that prints as {text.quote}, not a canonical numeral"
  return text.foldl (fun acc c => acc * 10 + (c.toNat - '0'.toNat)) 0

unsafe def freshName : Name → FreshM Name
  | .anonymous => pure .anonymous
  | .str p s => return .str (← freshName p) (freshString s)
  | .num p i => return .num (← freshName p) (← freshNat "a name component" i)

unsafe def freshLevel (l : Level) : FreshM Level := do
  let key := ptrAddrUnsafe l
  if let some done := mapGet? (← get).levels key then return done
  let fresh : Level ← match l with
    | .zero => pure .zero
    | .succ a => do return .succ (← freshLevel a)
    | .max a b => do return .max (← freshLevel a) (← freshLevel b)
    | .imax a b => do return .imax (← freshLevel a) (← freshLevel b)
    | .param n => do return .param (← freshName n)
    | .mvar _ => throw "a universe metavariable"
  modify fun s => { s with levels := mapInsert s.levels key fresh }
  return fresh

def freshBinder : BinderInfo → BinderInfo
  | .default => .default | .implicit => .implicit
  | .strictImplicit => .strictImplicit | .instImplicit => .instImplicit

unsafe def freshExpr (e : Expr) : FreshM Expr := do
  let key := ptrAddrUnsafe e
  if let some done := mapGet? (← get).exprs key then return done
  let fresh : Expr ← match e with
    | .bvar i => do return .bvar (← freshNat "a bound variable's index" i)
    | .fvar _ => throw "a free variable"
    | .mvar _ => throw "a metavariable"
    | .sort u => do return .sort (← freshLevel u)
    | .const n us => do return .const (← freshName n) (← us.mapM freshLevel)
    | .app f a => do return .app (← freshExpr f) (← freshExpr a)
    | .lam n t b bi => do
      return .lam (← freshName n) (← freshExpr t) (← freshExpr b) (freshBinder bi)
    | .forallE n t b bi => do
      return .forallE (← freshName n) (← freshExpr t) (← freshExpr b) (freshBinder bi)
    | .letE n t v b nonDep => do
      return .letE (← freshName n) (← freshExpr t) (← freshExpr v) (← freshExpr b)
        (if nonDep then true else false)
    | .lit (.natVal n) => do return .lit (.natVal (← freshNat "a literal" n))
    | .lit (.strVal s) => pure (.lit (.strVal (freshString s)))
    | .mdata _ b => freshExpr b
    | .proj s i b => do
      return .proj (← freshName s) (← freshNat "a projection's index" i) (← freshExpr b)
  modify fun s => { s with exprs := mapInsert s.exprs key fresh }
  return fresh

unsafe def freshVal (v : ConstantVal) : FreshM ConstantVal :=
  return { name := ← freshName v.name, levelParams := ← v.levelParams.mapM freshName,
           type := ← freshExpr v.type }

unsafe def freshConstant (ci : ConstantInfo) : FreshM ConstantInfo := do
  let c ← freshVal ci.toConstantVal
  let names (ns : List Name) : FreshM (List Name) := ns.mapM freshName
  let nat := freshNat s!"a count of {c.name}"
  match ci with
  | .axiomInfo v =>
    return .axiomInfo { v with name := c.name, levelParams := c.levelParams, type := c.type }
  | .defnInfo v =>
    return .defnInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                              value := ← freshExpr v.value, all := ← names v.all }
  | .thmInfo v =>
    return .thmInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                             value := ← freshExpr v.value, all := ← names v.all }
  | .opaqueInfo v =>
    return .opaqueInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                                value := ← freshExpr v.value, all := ← names v.all }
  | .quotInfo v =>
    return .quotInfo { v with name := c.name, levelParams := c.levelParams, type := c.type }
  | .inductInfo v =>
    -- `numNested` (a count, rebuilt) or, before it, `isNested` (a flag, copied): the era's.
    let v ← freshNested v nat
    return .inductInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                                numParams := ← nat v.numParams, numIndices := ← nat v.numIndices,
                                all := ← names v.all, ctors := ← names v.ctors }
  | .ctorInfo v =>
    return .ctorInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                              induct := ← freshName v.induct, cidx := ← nat v.cidx,
                              numParams := ← nat v.numParams, numFields := ← nat v.numFields }
  | .recInfo v =>
    let rules ← v.rules.mapM fun r => do
      return { r with ctor := ← freshName r.ctor, nfields := ← nat r.nfields,
                      rhs := ← freshExpr r.rhs }
    return .recInfo { v with name := c.name, levelParams := c.levelParams, type := c.type,
                             all := ← names v.all, numParams := ← nat v.numParams,
                             numIndices := ← nat v.numIndices, numMotives := ← nat v.numMotives,
                             numMinors := ← nat v.numMinors, rules }

/-- One constant of a module, rebuilt, checked to declare the name it is listed under. -/
unsafe def freshEntry (n : Name) (ci : ConstantInfo) : FreshM ConstantInfo := do
  let name ← freshName n
  let fresh ← freshConstant ci
  unless fresh.name == name do throw s!"it is listed as {name} but declares {fresh.name}"
  return fresh

/-- A module's constants, rebuilt (see above), one memo for the whole module; `.error` names the
first constant refused and why. -/
unsafe def freshConstantsUnsafe (mod : ModuleData) : Except (Name × String) (Array ConstantInfo) :=
  Id.run do
    let mut state : Fresh := {}
    let mut out : Array ConstantInfo := #[]
    for n in mod.constNames, ci in mod.constants do
      match (freshEntry n ci).run state with
      | .ok (fresh, next) =>
        state := next
        out := out.push fresh
      | .error why => return .error (n, why)
    return .ok out

@[implemented_by freshConstantsUnsafe]
opaque freshConstants (mod : ModuleData) : Except (Name × String) (Array ConstantInfo)

end Proofgate.Checker
