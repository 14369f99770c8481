/-! Locked results for proofgate's CI mode: each must keep its statement and stay proved. -/
namespace CiDemo

/-- `n + 0` reduces to `n`. -/
theorem add_zero_right (n : Nat) : n + 0 = n := rfl

theorem two_add_two : 2 + 2 = 4 := by
  decide

theorem and_swap (p q : Prop) (h : p ∧ q) : q ∧ p :=
  ⟨h.2, h.1⟩

end CiDemo
