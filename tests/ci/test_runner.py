"""`proofgate ci`'s run on fixture repositories, with the fake checker behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from proofgate.ci.manifest import MANIFEST_NAME, load_manifest
from proofgate.ci.results import Outcome
from proofgate.ci.runner import run_ci
from proofgate.exceptions import Busy, ConfigError, NotReady
from tests.ci.conftest import SCENARIOS, Repo


async def test_clean_repository_passes(repo: Repo) -> None:
    report = await repo.run()
    assert report.exit_code == 0
    assert [(r.file, r.theorem, r.status) for r in report.results] == [
        ("Demo/Basic.lean", "Demo.add_zero_right", "proved"),
        ("Demo/Basic.lean", "Demo.two_eq", "proved"),
        ("Demo/Basic.lean", "Demo.small", "proved"),
        ("Demo/Extra.lean", "extra_true", "proved"),
    ]
    assert all(r.outcome is Outcome.passed for r in report.results)


async def test_lock_skips_dependencies_and_keeps_settings(repo: Repo) -> None:
    manifest = load_manifest(repo.root / MANIFEST_NAME)
    assert {entry.file for entry in manifest.locked} == {"Demo/Basic.lean", "Demo/Extra.lean"}
    text = (repo.root / MANIFEST_NAME).read_text()
    assert "environment" not in text  # not chosen: the repository's lean-toolchain decides
    (repo.root / MANIFEST_NAME).write_text(
        text.replace("version = 1", 'version = 1\nenvironment = "mine"')
    )
    repo.lock()
    assert load_manifest(repo.root / MANIFEST_NAME).environment == "mine"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_each_failure_points_at_its_file_and_line(repo: Repo, scenario: str) -> None:
    spec = repo.apply(scenario)
    report = await repo.run()
    assert report.exit_code == 1
    failing = [r for r in report.results if r.outcome is not Outcome.passed]
    assert len(failing) == 1, failing
    (failure,) = failing
    assert failure.outcome is Outcome.failed
    assert (failure.status, failure.file, failure.line, failure.column, failure.theorem) == (
        spec["status"],
        spec["file"],
        spec["line"],
        spec["column"],
        spec["theorem"],
    )
    assert failure.message


async def test_a_changed_statement_is_not_sent_to_the_checker(repo: Repo) -> None:
    repo.apply("changed_statement")
    await repo.run()
    assert "Demo.add_zero_right" not in {s.target for s in repo.checker.seen}


async def test_comments_and_whitespace_do_not_unlock_a_statement(repo: Repo) -> None:
    repo.edit(
        "Demo/Basic.lean", "(n : Nat) : n + 0 = n", "(n : Nat)  -- the number\n    : n   + 0 = n"
    )
    repo.edit("Demo/Basic.lean", "/-- Adding zero on the right. -/", "/-- Reworded. -/ @[simp]")
    report = await repo.run()
    assert report.exit_code == 0, [r.message for r in report.results]


async def test_a_local_instance_above_a_locked_result_fails_it(repo: Repo) -> None:
    repo.edit(
        "Demo/Basic.lean",
        "theorem small",
        "local instance : LT Nat := ⟨fun _ _ => True⟩\n\ntheorem small",
    )
    report = await repo.run()
    failing = {r.theorem: r for r in report.results if r.outcome is Outcome.failed}
    assert set(failing) == {"Demo.small"}
    assert failing["Demo.small"].status == "statement_changed"
    assert "before" in failing["Demo.small"].message


async def test_a_new_lemma_above_a_locked_result_changes_nothing(repo: Repo) -> None:
    repo.edit("Demo/Basic.lean", "theorem small", "theorem helper : 1 = 1 := rfl\n\ntheorem small")
    report = await repo.run()
    assert report.exit_code == 0
    assert "Demo.helper" not in {r.theorem for r in report.results}  # not locked: not checked


async def test_unchanged_files_give_identical_submissions(repo: Repo) -> None:
    await repo.run()
    first = {s.target: s.content_hash() for s in repo.checker.seen}
    repo.checker.seen.clear()
    repo.edit("Demo/Extra.lean", "trivial", "by trivial")
    report = await repo.run()
    second = {s.target: s.content_hash() for s in repo.checker.seen}
    assert set(first) == set(second)
    changed = {target for target in first if first[target] != second[target]}
    assert changed == {"extra_true"}
    cached = {r.theorem for r in report.results if r.cached}
    assert cached == {"Demo.add_zero_right", "Demo.two_eq", "Demo.small"}


async def test_submissions_are_locked_checks_of_the_whole_file(repo: Repo) -> None:
    await repo.run()
    by_target = {s.target: s for s in repo.checker.seen}
    small = by_target["Demo.small"]
    assert small.code == (repo.root / "Demo/Basic.lean").read_text()
    assert small.statement is not None and small.statement.rstrip().endswith(
        "theorem small : 3 < 5 := sorry"
    )
    assert "theorem two_eq : 2 = 2 := sorry" in small.statement  # earlier proofs cut
    assert "decide" not in small.statement
    assert small.environment == "default" and small.policy == "strict"


async def test_without_a_manifest_every_theorem_is_checked(repo: Repo) -> None:
    (repo.root / MANIFEST_NAME).unlink()
    repo.edit(
        "Demo/Basic.lean", "theorem small", "theorem helper : 1 = 1 := by sorry\n\ntheorem small"
    )
    report = await repo.run()
    assert report.exit_code == 1
    statuses = {r.theorem: r.status for r in report.results}
    assert statuses["Demo.helper"] == "incomplete"
    assert "not_mine" not in statuses  # .lake is never searched
    assert any("no proofgate.toml" in note for note in report.notes)


async def test_service_not_ready_is_an_infrastructure_failure(repo: Repo) -> None:
    @asynccontextmanager
    async def not_ready() -> AsyncIterator[object]:
        raise NotReady("Lean toolchain v4.32.0 not found: run `proofgate setup`")
        yield  # pragma: no cover

    report = await run_ci(repo.root, not_ready, build=False, base=repo.root)
    assert report.exit_code == 3
    assert {r.status for r in report.results} == {"not_checked"}
    assert all("proofgate setup" in r.message for r in report.results)


async def test_a_proof_failure_outranks_an_infrastructure_failure(repo: Repo) -> None:
    repo.apply("deleted_file")
    repo.checker.fail_with = Busy("all workers are busy")
    report = await repo.run()
    assert report.count(Outcome.error) == 3 and report.count(Outcome.failed) == 1
    assert report.exit_code == 1


async def test_an_internal_verdict_is_not_blamed_on_the_proof(repo: Repo) -> None:
    from proofgate.models import Verdict, VerdictStatus

    class Internal:
        async def check(self, submission):  # noqa: ANN001, ANN202
            return Verdict(
                status=VerdictStatus.internal, kind="check", reason="worker crashed twice"
            )

    repo.checker = Internal()  # type: ignore[assignment]
    report = await repo.run()
    assert {r.outcome for r in report.results} == {Outcome.error}
    assert report.exit_code == 3


async def test_nothing_to_check_is_a_usage_error(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "README.md").write_text("no Lean here")
    with pytest.raises(ConfigError, match="nothing to check"):
        await run_ci(tmp_path, Repo(tmp_path).open_checker(), build=False)


def test_a_policy_refusals_failure_line_names_the_rule_once() -> None:
    """Issue 30, defect 6: the reason already says `[rule] line N: why`; the message that repeats
    it is left out, while a Lean error the reason does not quote is still added."""
    from proofgate.ci.discover import Theorem
    from proofgate.ci.runner import CheckJob, result_for
    from proofgate.models import Category, Message, Severity, Verdict, VerdictStatus, Violation
    from proofgate.verify.feedback import policy_messages

    theorem = Theorem("t", 3, 0, 3, "theorem t : True", "theorem t : True := sorry", "", "")
    job = CheckJob("A.lean", theorem, "theorem t : True := by\n  #exit\n")
    violation = Violation(rule="exit", line=2, column=2, message="`#exit` stops elaboration")
    refused = Verdict(
        status=VerdictStatus.rejected,
        kind="check",
        reason="refused by policy: [exit] line 2: `#exit` stops elaboration",
        violations=[violation],
        messages=policy_messages([violation]),
    )
    message = result_for(job, refused, shown="A.lean", duration_ms=1).message
    assert message.count("[exit]") == 1 and message.count("stops elaboration") == 1
    error = Message(
        severity=Severity.error, category=Category.tactic_failed, text="linarith failed"
    )
    failed = Verdict(
        status=VerdictStatus.failed, kind="check", reason="Lean reported an error", messages=[error]
    )
    assert result_for(job, failed, shown="A.lean", duration_ms=1).message.endswith(
        "linarith failed"
    )
