// Lean's Unicode input, typed as in VS Code: a backslash, then a name. proofgate's own table of
// the symbols Mathlib statements use most. A name is replaced as soon as no longer name starts
// with it (`\R` -> ℝ at once), or else when the next character typed cannot continue it
// (`\to` waits, since `\top` exists; `\to ` gives `→ `).

export const ABBREVIATIONS = {
  // arrows and logic
  "to": "→", "r": "→", "->": "→", "imp": "→", "l": "←", "<-": "←", "gets": "←",
  "iff": "↔", "<->": "↔", "lr": "↔", "=>": "⇒", "mapsto": "↦", "|->": "↦",
  "forall": "∀", "all": "∀", "exists": "∃", "ex": "∃", "nexists": "∄",
  "and": "∧", "or": "∨", "not": "¬", "neg": "¬", "top": "⊤", "bot": "⊥",
  "|-": "⊢", "vdash": "⊢", "lam": "λ", "fun": "λ", "comp": "∘", "circ": "∘",
  // relations
  "ne": "≠", "neq": "≠", "le": "≤", "ge": "≥", "<=": "≤", ">=": "≥",
  "equiv": "≡", "==": "≡", "approx": "≈", "~~": "≈", "simeq": "≃", "iso": "≅", "cong": "≅",
  "dvd": "∣", "mid": "∣", "nmid": "∤", "sim": "∼", "prec": "≺", "succ": "≻",
  // sets
  "in": "∈", "mem": "∈", "notin": "∉", "nin": "∉", "sub": "⊂", "subset": "⊂",
  "subseteq": "⊆", "ss": "⊆", "sup": "⊔", "supset": "⊃", "supseteq": "⊇",
  "cup": "∪", "un": "∪", "cap": "∩", "empty": "∅", "emptyset": "∅",
  "bigcup": "⋃", "Union": "⋃", "bigcap": "⋂", "Inter": "⋂", "compl": "ᶜ",
  "inf": "⊓", "glb": "⊓", "lub": "⊔", "sqcup": "⊔", "sqcap": "⊓",
  // numbers and operators
  "N": "ℕ", "nat": "ℕ", "Z": "ℤ", "int": "ℤ", "Q": "ℚ", "rat": "ℚ", "R": "ℝ", "real": "ℝ",
  "C": "ℂ", "complex": "ℂ", "x": "×", "times": "×", "cdot": "·", ".": "·", "div": "÷",
  "sum": "∑", "prod": "∏", "integral": "∫", "infty": "∞",
  "sqrt": "√", "pm": "±", "oplus": "⊕", "otimes": "⊗", "bullet": "•", "smul": "•",
  "nabla": "∇", "partial": "∂", "deg": "°", "norm": "‖", "||": "‖",
  "inv": "⁻¹", "-1": "⁻¹", "^-1": "⁻¹", "^2": "²", "^3": "³", "^n": "ⁿ",
  "_0": "₀", "_1": "₁", "_2": "₂", "_3": "₃", "_4": "₄", "_5": "₅", "_6": "₆", "_7": "₇",
  "_8": "₈", "_9": "₉", "_i": "ᵢ", "_n": "ₙ",
  "<": "⟨", ">": "⟩", "<>": "⟨⟩", "langle": "⟨", "rangle": "⟩", "<<": "«", ">>": "»",
  "lceil": "⌈", "rceil": "⌉", "lfloor": "⌊", "rfloor": "⌋", "[[": "⟦", "]]": "⟧",
  // Greek
  "a": "α", "alpha": "α", "b": "β", "beta": "β", "g": "γ", "gamma": "γ", "d": "δ",
  "delta": "δ", "e": "ε", "eps": "ε", "epsilon": "ε", "z": "ζ", "zeta": "ζ", "eta": "η",
  "th": "θ", "theta": "θ", "k": "κ", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
  "xi": "ξ", "pi": "π", "rho": "ρ", "s": "σ", "sigma": "σ", "t": "τ", "tau": "τ",
  "phi": "φ", "ph": "φ", "chi": "χ", "psi": "ψ", "o": "ω", "omega": "ω",
  "G": "Γ", "Gamma": "Γ", "D": "Δ", "Delta": "Δ", "Th": "Θ", "Theta": "Θ", "L": "Λ",
  "Lambda": "Λ", "Pi": "Π", "S": "Σ", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "O": "Ω",
  "Omega": "Ω",
  // blackboard and script letters
  "bbF": "𝔽", "F": "𝔽", "bbH": "ℍ", "H": "ℍ", "bbP": "ℙ", "P": "ℙ", "bbE": "𝔼",
  "McN": "𝓝", "nhds": "𝓝", "cl": "𝓒",
};

const NAMES = Object.keys(ABBREVIATIONS);

function extendable(prefix) {
  return NAMES.some((name) => name.length > prefix.length && name.startsWith(prefix));
}

function startsSome(prefix) {
  return NAMES.some((name) => name.startsWith(prefix));
}

// Where the abbreviation being typed before `caret` starts (its backslash), or -1.
function pendingStart(text, caret) {
  for (let i = caret - 1; i >= 0 && caret - i <= 12; i -= 1) {
    const char = text[i];
    if (char === "\\") return i;
    if (/\s/.test(char)) return -1;
  }
  return -1;
}

// The edit to make after a character was typed at `caret - 1`: {start, end, insert} or null.
// `\x` then a character that cannot continue it: the known `x` is replaced, the character kept;
// a name that no longer name extends: replaced at once.
export function expansionAfterTyping(text, caret) {
  const typed = text[caret - 1];
  const start = pendingStart(text, caret - 1); // the backslash before the typed character
  if (start < 0) return null;
  const known = text.slice(start + 1, caret - 1);
  const name = known + typed;
  if (typed !== "\\" && !/\s/.test(typed) && startsSome(name)) {
    if (name in ABBREVIATIONS && !extendable(name)) {
      return { start, end: caret, insert: ABBREVIATIONS[name] };
    }
    return null;
  }
  if (known in ABBREVIATIONS) return { start, end: caret - 1, insert: ABBREVIATIONS[known] };
  return null;
}

// The edit that finishes an abbreviation still pending at `caret` (before a check, on blur).
export function expansionAtEnd(text, caret) {
  const start = pendingStart(text, caret);
  if (start < 0) return null;
  const name = text.slice(start + 1, caret);
  return name in ABBREVIATIONS ? { start, end: caret, insert: ABBREVIATIONS[name] } : null;
}
