"""Issue 24's done-when: a GRPO-style loop against `POST /v1/rewards` on the simulated backend
(the real app, pool, policy, auditor and cache on the stand-ins of tests/support/stack.py).

A trainer sends one group a step (one statement, 16 sampled completions) and needs a record for
every completion, in order. The planted cheats of every policy-stage class of
`../shared/adversarial/` get reward 0, and `/metrics` counts each by its cheat class. (The
audit-stage classes need real Lean: tests/rewards/test_rewards_lean.py.)
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import serve_stack
from tests.support.adversarial import OWN_CASES, load_cases
from tests.support.stack import Stack

pytestmark = pytest.mark.timeout(300)

STEPS = 20
GROUP_SIZE = 16
#: The statements the loop cycles through (a dataset of four problems).
STATEMENTS = {
    "t1": "(a b : ℕ) : a + b = b + a",
    "t2": "(x : ℝ) (h : 0 < x) : 0 < x ^ 2 + x",
    "t3": "(n : ℕ) (h : n % 4 = 3) : n % 2 = 1",
    "t4": "(a : ℤ) : a * 1 = a",
}
#: What a sampled completion may be (an honest proof body twice as often).
KINDS = (
    "proof", "proof", "restated", "prose", "failed", "sorry", "hidden_sorry", "axiom", "mismatch",
    "policy",
)  # fmt: skip
#: The manifest's stage of the cases the policy pass alone must stop.
POLICY_STAGE = "policy"
ANY_THEOREM = "\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by omega\n"


def statement(name: str) -> str:
    return f"import Mathlib\nopen Real Nat\n\ntheorem {name} {STATEMENTS[name]} := by sorry\n"


def restated(name: str, proof: str, axioms: str = "", signature: str | None = None) -> str:
    marker = f"\n-- standin-axioms: {axioms}" if axioms else ""
    return f"theorem {name} {signature or STATEMENTS[name]} := by\n  {proof}{marker}"


def completion(lean: str, seed: int) -> str:
    """A sampled completion: reasoning (with a decoy block), prose, the answer's block."""
    return (
        f"<think>\nSample {seed}: maybe `simp` closes it.\n```lean4\nby simp\n```\n</think>\n"
        f"The proof:\n```lean4\n{lean}\n```\n"
    )


def sample(name: str, rng: random.Random) -> tuple[str, str, str | None]:
    """(completion, expected status, expected cheat) for one sampled answer to `name`."""
    seed = rng.randrange(4)  # few seeds: identical completions within and across groups
    kind = rng.choice(KINDS)
    if kind == "proof":
        return completion(f"by\n  omega -- {seed}", seed), "proved", None
    if kind == "restated":
        return (
            completion(restated(f"mine{seed}", "omega", signature=STATEMENTS[name]), seed),
            ("proved"),
            None,
        )
    if kind == "prose":
        return f"I am not sure how to prove this ({seed}).", "no_proof", None
    if kind == "failed":
        lean = f"by\n  -- standin: error unknown identifier 'h{seed}'\n  exact h{seed}"
        return completion(lean, seed), "failed", None
    if kind == "sorry":
        lean = restated(name, "sorry -- standin: sorry", "propext sorryAx")
        return completion(lean, seed), "incomplete", None
    if kind == "hidden_sorry":
        lean = restated(name, f"exact sorryAx _ false -- {seed}", "propext sorryAx")
        return completion(lean, seed), "incomplete", "hidden_sorry"
    if kind == "axiom":
        lean = f"axiom cheat{seed} : False\n\n" + restated(
            name, f"exact cheat{seed}.elim", f"propext cheat{seed}"
        )
        return completion(lean, seed), "axiom_violation", "axiom"
    if kind == "mismatch":
        lean = restated(name, "trivial", signature=f": {seed} = {seed}")
        return completion(lean, seed), "statement_mismatch", "statement_mismatch"
    lean = f"set_option debug.skipKernelTC true in\n{restated(name, 'omega')}"
    return completion(lean, seed), "rejected", "policy:debug-option"


def metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for match in re.finditer(rf"^{name}\{{([^}}]*)\}} ([0-9.e+-]+)$", text, re.MULTILINE):
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match.group(2))
    return total


def test_a_grpo_loop_gets_a_record_for_every_completion(stack: Stack) -> None:
    rng = random.Random(24)
    names = sorted(STATEMENTS)
    expected_cheats: Counter[str] = Counter()
    with serve_stack(stack) as url, httpx.Client(base_url=url, timeout=120) as http:
        for step in range(STEPS):
            name = names[step % len(names)]
            group = [sample(name, rng) for _ in range(GROUP_SIZE)]
            answer = http.post(
                "/v1/rewards",
                json={"statement": statement(name), "completions": [c for c, _, _ in group]},
            )
            assert answer.status_code == 200, answer.text
            records = answer.json()["records"]
            assert [r["index"] for r in records] == list(range(GROUP_SIZE)), step
            for record, (text, status, cheat) in zip(records, group, strict=True):
                assert (record["status"], record["cheat"]) == (status, cheat), (step, text)
                assert record["reward"] == (1.0 if status == "proved" else 0.0)
                assert record["retry"] is False
            expected_cheats.update(cheat for _, _, cheat in group if cheat is not None)
        metrics = http.get("/metrics").text
    assert metric_sum(metrics, "proofgate_rewards_total") == STEPS * GROUP_SIZE
    for cheat, count in expected_cheats.items():
        assert metric_sum(metrics, "proofgate_reward_cheats_total", cheat=cheat) == count, cheat
    assert len(expected_cheats) == 4  # every class the loop plants was planted


def planted(case: dict[str, Any]) -> tuple[str, str]:
    """(statement, completion) for a shared case: a free compile's code gets a theorem to target,
    as a model would restate one beside its cheat."""
    code = case["code"]
    if case["statement"] is None:
        return statement("t1"), completion(code + ANY_THEOREM, 0)
    return case["statement"], completion(code, 0)


def test_planted_policy_stage_cheats_get_reward_zero_with_their_class_counted(
    stack: Stack, shared_dir: Path
) -> None:
    cases = load_cases(shared_dir / "adversarial" / "cases.jsonl")
    policy_stage = [c for c in cases if c["stage"] == POLICY_STAGE]
    assert {c["category"] for c in policy_stage} >= {"kernel", "checker", "host", "axiom"}
    honest = statement("t1"), completion(restated("t1", "omega"), 1)
    by_class: Counter[str] = Counter()
    seen_categories: set[str] = set()
    with serve_stack(stack) as url, httpx.Client(base_url=url, timeout=120) as http:
        for case in policy_stage:
            locked, cheat = planted(case)
            # a group as a trainer sends it: the cheat among honest completions (if it states t1)
            completions = [cheat, honest[1]] if locked == honest[0] else [cheat]
            answer = http.post(
                "/v1/rewards",
                json={"statement": locked, "completions": completions},
                headers={"Accept": "application/x-ndjson"},
            )
            assert answer.status_code == 200, answer.text
            records = {r["index"]: r for r in map(json.loads, answer.text.splitlines())}
            record = records[0]
            assert record["status"] == "rejected", (case["id"], record)
            assert record["reward"] == 0.0 and record["cheat"] is not None, case["id"]
            assert record["cheat"] == "native_code" or record["cheat"].startswith("policy:")
            by_class[record["cheat"]] += 1
            seen_categories.add(case["category"])
            if 1 in records:
                assert records[1]["status"] == "proved" and records[1]["reward"] == 1.0
        metrics = http.get("/metrics").text
    assert seen_categories == {c["category"] for c in policy_stage}
    for cheat, count in by_class.items():
        assert metric_sum(metrics, "proofgate_reward_cheats_total", cheat=cheat) == count, cheat
    assert metric_sum(metrics, "proofgate_reward_cheats_total") == len(policy_stage)


def test_the_projects_own_policy_stage_cheats_get_reward_zero_and_a_class(stack: Stack) -> None:
    """tests/data/adversarial.jsonl: every class, without ../shared."""
    cases = [c for c in load_cases(OWN_CASES) if c["stage"] == POLICY_STAGE]
    with serve_stack(stack) as url, httpx.Client(base_url=url, timeout=120) as http:
        for case in cases:
            locked, cheat = planted(case)
            answer = http.post("/v1/rewards", json={"statement": locked, "completions": [cheat]})
            (record,) = answer.json()["records"]
            assert (record["status"], record["reward"]) == ("rejected", 0.0), (case["id"], record)
            assert record["cheat"] == "native_code" or record["cheat"].startswith("policy:")
        metrics = http.get("/metrics").text
    assert metric_sum(metrics, "proofgate_reward_cheats_total") == len(cases)
