"""What the adapter tests share: statements and completions the stand-in stack answers (a proof
body `by omega` is proved; prose is no_proof; `native_decide` is refused as native code)."""

from __future__ import annotations

STATEMENT_A = "import Mathlib\nopen Nat\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
STATEMENT_B = "import Mathlib\n\ntheorem t4 (a : ℤ) : a * 1 = a := by sorry\n"


def fenced(lean: str) -> str:
    """A sampled completion: reasoning with a decoy block, then the answer's block."""
    return f"<think>\nmaybe simp\n```lean4\nby simp\n```\n</think>\nProof:\n```lean4\n{lean}\n```\n"


PROVED = fenced("by\n  omega")
CHEAT = fenced("by\n  native_decide")
PROSE = "I could not find a proof."
