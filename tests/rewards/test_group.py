"""A group of completions checked through a checker (proofgate.rewards.group), on a scripted one:
each completion's submission, identical ones checked once, bounded concurrency, and what becomes of
a busy, unready or failing check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from proofgate.exceptions import Busy, NotReady, SubmissionError
from proofgate.models import Submission, Verdict, VerdictStatus
from proofgate.models.rewards import RewardRecord, RewardRequest
from proofgate.rewards import Group, score_group
from tests.support.fake_service import judge

pytestmark = pytest.mark.timeout(30)

STATEMENT = "import Mathlib\nopen Real Nat\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"


def lean(text: str) -> str:
    return f"Proof:\n```lean4\n{text}\n```"


@dataclass
class Scripted:
    """A checker: `judge` (tests/support/fake_service.py) unless `script` says otherwise; checks
    wait inside until `release` is set, so a test sees how many run at once."""

    script: Callable[[Submission, int], Verdict | BaseException | None] = lambda s, n: None
    release: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[tuple[Submission, str]] = field(default_factory=list)
    inside: int = 0
    most_inside: int = 0
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def check(self, submission: Submission, *, tenant: str) -> Verdict:
        self.seen.append((submission, tenant))
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        self.entered.set()
        try:
            await self.release.wait()
            outcome = self.script(submission, len(self.seen))
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome or judge(submission)
        finally:
            self.inside -= 1


def request(*completions: str, statement: str = STATEMENT) -> RewardRequest:
    return RewardRequest(statement=statement, completions=list(completions))


def planned(*completions: str, statement: str = STATEMENT) -> list[Submission | str | None]:
    """Each completion's submission, or its `no_proof` reason."""
    group = Group.read(request(*completions, statement=statement))
    return [p.reason or p.submission for p in group.planned]


def test_a_proof_body_completes_the_statement() -> None:
    (made,) = planned(lean("by\n  omega"))
    assert isinstance(made, Submission)
    assert made.statement == STATEMENT and made.proof == "by\n  omega" and made.code is None


def test_a_restatement_is_code_under_the_statements_opens_with_its_target_named() -> None:
    same, renamed, nested, bare_file = planned(
        lean("theorem t1 (a b : ℕ) : a + b = b + a := by omega"),
        lean("lemma mine (a b : ℕ) : a + b = b + a := by omega"),
        lean("namespace X\ntheorem mine (a b : ℕ) : a + b = b + a := by omega\nend X"),
        lean("import Mathlib\ntheorem mine (a b : ℕ) : a + b = b + a := by omega"),
    )
    assert isinstance(same, Submission) and same.proof is None
    assert same.code == "open Real Nat\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by omega"
    assert isinstance(renamed, Submission) and renamed.code is not None
    assert renamed.code.endswith("lemma t1 (a b : ℕ) : a + b = b + a := by omega")
    assert isinstance(nested, Submission) and "theorem _root_.t1 (a b" in (nested.code or "")
    assert isinstance(bare_file, Submission)  # its own header: nothing added
    assert bare_file.code == "import Mathlib\ntheorem t1 (a b : ℕ) : a + b = b + a := by omega"


def test_a_declaration_of_the_targets_name_is_the_target_whatever_its_kind() -> None:
    (made,) = planted = planned(
        lean("def t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\ntheorem x : True := trivial")
    )
    assert isinstance(made, Submission) and (made.code or "").count("t1") == 1, planted


def test_a_restatement_without_a_target_to_take_is_no_proof() -> None:
    none, two = planned(
        lean("example (a b : ℕ) : a + b = b + a := by omega"),
        lean("theorem x : True := trivial\ntheorem y : True := trivial"),
    )
    assert isinstance(none, str) and "no theorem" in none
    assert isinstance(two, str) and "2 theorems, none named t1" in two


def test_answer_holes_need_a_restatement() -> None:
    statement = (
        "import Mathlib\n\nabbrev answer : ℕ := sorry\n\ntheorem t1 : answer = 2 := by sorry\n"
    )
    body, whole = planned(
        lean("by rfl"),
        lean("abbrev answer : ℕ := 2\n\ntheorem t1 : answer = 2 := by rfl"),
        statement=statement,
    )
    assert isinstance(body, str) and "answer holes (answer)" in body
    assert isinstance(whole, Submission) and whole.answer_holes == ["answer"]


def test_a_malformed_statement_is_refused_before_anything_runs() -> None:
    with pytest.raises(SubmissionError) as raised:
        Group.read(request(lean("by omega"), statement="import Mathlib\n\ndef x : ℕ := 1\n"))
    assert raised.value.field == "statement"


async def test_a_restatement_without_a_target_is_checked_only_for_a_policy_refusal() -> None:
    checker = Scripted()
    checker.release.set()
    examples = lean("example : True := trivial"), lean("example : True := trivial\n#exit")
    records = await score_group(checker, request(*examples))
    assert [(r.status.value, r.cheat, r.read_as) for r in records] == [
        ("no_proof", None, "theorem"),
        ("rejected", "policy:exit", "theorem"),
    ]
    assert "no theorem to take for t1" in records[0].reason and len(checker.seen) == 2


async def test_identical_submissions_are_checked_once_and_answered_for_each() -> None:
    checker = Scripted()
    checker.release.set()
    completions = [lean("by omega"), lean("by  omega"), "nothing", lean("by omega")]
    # the first and last are one submission (checked once); the second differs by a space
    records = await score_group(checker, request(*completions), tenant="key-x")
    assert [r.index for r in records] == [0, 1, 2, 3]
    assert [r.status.value for r in records] == ["proved", "proved", "no_proof", "proved"]
    assert len(checker.seen) == 2 and {tenant for _, tenant in checker.seen} == {"key-x"}


async def test_checks_run_at_most_concurrency_at_once() -> None:
    checker = Scripted()
    completions = [lean(f"by\n  simp [h{i}]") for i in range(12)]
    group = await Group.prepare(request(*completions))
    records = group.records(checker, concurrency=3)
    collected = asyncio.ensure_future(_all(records))
    await checker.entered.wait()
    while checker.inside < 3:  # the first three enter; the rest wait for a slot
        await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)
    assert checker.inside == 3 and len(checker.seen) == 3
    checker.release.set()
    done = await collected
    assert len(done) == 12 and checker.most_inside == 3


async def _all(records: AsyncIterator[RewardRecord]) -> list[RewardRecord]:
    return [record async for record in records]


async def test_a_busy_pool_is_waited_for_then_the_record_says_retry() -> None:
    def busy_twice(submission: Submission, count: int) -> BaseException | None:
        return Busy(retry_after=0.0) if count <= 2 else None

    checker = Scripted(script=busy_twice)
    checker.release.set()
    (record,) = await score_group(checker, request(lean("by omega")))
    assert record.status.value == "proved" and len(checker.seen) == 3

    always = Scripted(script=lambda s, n: Busy("all workers are busy", retry_after=0.0))
    always.release.set()
    (record,) = await score_group(always, request(lean("by omega")), busy_wait=0.0)
    assert record.status.value == "internal" and record.retry and record.reward is None
    assert "busy" in record.reason


async def test_an_unready_service_raises_or_gives_retry_records() -> None:
    checker = Scripted(script=lambda s, n: NotReady("no toolchain"))
    checker.release.set()
    with pytest.raises(NotReady):
        await score_group(checker, request(lean("by omega"), "prose"))
    group = await Group.prepare(request(lean("by omega"), "prose"))
    records = sorted(
        [r async for r in group.records(checker, raise_not_ready=False)], key=lambda r: r.index
    )
    assert [(r.status.value, r.retry) for r in records] == [("internal", True), ("no_proof", False)]
    assert "no toolchain" in records[0].reason


async def test_a_failing_check_is_an_internal_record_and_a_refused_one_no_proof() -> None:
    def script(submission: Submission, count: int) -> BaseException | None:
        if submission.proof == "by ring":
            return RuntimeError("boom")
        if submission.proof == "by simp":
            return SubmissionError("bad", field="proof")
        return None

    checker = Scripted(script=script)
    checker.release.set()
    records = await score_group(checker, request(lean("by ring"), lean("by simp"), lean("by rfl")))
    assert [(r.status.value, r.retry, r.reward) for r in records] == [
        ("internal", True, None),
        ("no_proof", False, 0.0),
        ("proved", False, 1.0),
    ]
    assert records[1].read_as == "proof" and "proof: bad" in records[1].reason


async def test_the_verdict_callback_sees_each_check() -> None:
    checker = Scripted()
    checker.release.set()
    seen: list[VerdictStatus] = []
    await score_group(
        checker,
        request(lean("by omega"), lean("by omega"), lean("by rfl")),
        on_verdict=lambda verdict, seconds: seen.append(verdict.status),
    )
    assert seen == [VerdictStatus.proved, VerdictStatus.proved]
