"""A batch across environments (`run_batch(..., environments=...)`, issue 26 item 6), on a backend
that counts its checks: one record per (item, environment), a resume after an interruption that
wrote some pairs only checks each missing pair once and no pair twice, a record for (id, A) does
not stand for (id, B), and names the backend does not know or cannot serve stop the run before
anything is checked."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from proofgate.batch.executors.base import PerItemExecutor
from proofgate.batch.executors.ray_cluster import CheckerActor, RayExecutor
from proofgate.batch.input import RESULTS_FORMAT, BatchItem, BatchRecord
from proofgate.batch.output import ResultsFile, read_records
from proofgate.batch.runner import record_outcome, require_environments, run_batch
from proofgate.exceptions import ConfigError, NotReady
from proofgate.models import Verdict, VerdictStatus
from proofgate.models.http import EnvironmentInfo
from tests.support.stack import make_stack

pytestmark = pytest.mark.timeout(60)

ENVIRONMENTS = ("default", "lean_v4_9_0", "lean_v4_15_0")
STATEMENT = "import Mathlib\n\ntheorem t (a b : ℕ) : a + b = b + a := by sorry\n"


class CountingExecutor(PerItemExecutor):
    """Answers from `failing` (the (id, environment) pairs that fail; the rest are proved) and
    counts each check; `known` is what it lists (None: it cannot tell)."""

    name = "counting"

    def __init__(
        self,
        *,
        failing: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
        known: list[EnvironmentInfo] | None = None,
    ) -> None:
        super().__init__(concurrency=1)  # one in flight: an interruption loses no started check
        self.failing = failing
        self.known = known
        self.checks: Counter[tuple[str, str]] = Counter()
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def environments(self) -> list[EnvironmentInfo] | None:
        return self.known

    async def check_item(self, item: BatchItem) -> BatchRecord:
        pair = (item.id, item.submission.environment)
        self.checks[pair] += 1
        status = VerdictStatus.failed if pair in self.failing else VerdictStatus.proved
        return item.record(Verdict(status=status, kind="check", reason=status.value))


def _info(
    name: str, *, ready: bool | None = True, problems: tuple[str, ...] = ()
) -> EnvironmentInfo:
    return EnvironmentInfo(
        name=name,
        toolchain="leanprover/lean4:v4.9.0",
        lean="v4.9.0",
        ready=ready,
        problems=list(problems),
    )


def _write_input(path: Path, count: int) -> list[str]:
    """`count` items, line 3 of them not JSON (an error record per environment); their ids."""
    lines, ids = [], []
    for index in range(count):
        if index == 2:
            lines.append('{"id": "broken", "proof": ')
            ids.append("line:3")
            continue
        item = {"id": f"p{index}", "statement": STATEMENT, "proof": "Nat.add_comm a b"}
        if index == 1:
            item["environment"] = "elsewhere"  # ignored: the run names the environments
        lines.append(json.dumps(item))
        ids.append(f"p{index}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def _pairs(path: Path) -> list[tuple[str, str | None]]:
    return [(record.id, record.environment) for record in read_records(path)]


async def test_one_record_per_item_and_environment(tmp_path: Path) -> None:
    ids = _write_input(tmp_path / "in.jsonl", 5)
    backend = CountingExecutor(failing={("p0", "lean_v4_9_0")})
    summary = await run_batch(
        tmp_path / "in.jsonl", tmp_path / "out.jsonl", backend, environments=ENVIRONMENTS
    )
    expected = {(item, environment) for item in ids for environment in ENVIRONMENTS}
    written = _pairs(tmp_path / "out.jsonl")
    assert sorted(written) == sorted(expected)  # each pair once
    assert summary.total == summary.written == 15 and summary.complete
    # every well-formed item was checked once in each environment, the line's own ignored
    assert backend.checks == Counter({pair: 1 for pair in expected if pair[0] != "line:3"})
    records = {(r.id, r.environment): r for r in read_records(tmp_path / "out.jsonl")}
    assert record_outcome(records["p0", "lean_v4_9_0"]) == "failed"
    assert record_outcome(records["p0", "default"]) == "proved"
    assert record_outcome(records["line:3", "lean_v4_15_0"]) == "error:input"
    assert {r.format for r in records.values()} == {RESULTS_FORMAT}


async def test_without_environments_each_item_is_checked_where_its_line_says(
    tmp_path: Path,
) -> None:
    ids = _write_input(tmp_path / "in.jsonl", 4)
    backend = CountingExecutor()
    await run_batch(tmp_path / "in.jsonl", tmp_path / "out.jsonl", backend)
    assert sorted(_pairs(tmp_path / "out.jsonl")) == sorted(
        [(i, "elsewhere" if i == "p1" else "default") for i in ids]
    )


class Interrupted(Exception):
    """What the test's hook raises to stop a run, as a crash or Ctrl-C would."""


async def test_a_resume_checks_each_missing_pair_once_and_no_pair_twice(tmp_path: Path) -> None:
    ids = _write_input(tmp_path / "in.jsonl", 6)
    out = tmp_path / "out.jsonl"
    first = CountingExecutor()
    written: list[BatchRecord] = []

    def stop_after_five(record: BatchRecord) -> None:
        written.append(record)
        if len(written) == 5:  # mid-item: p1 is written in two environments, not the third
            raise Interrupted

    with pytest.raises(Interrupted):
        await run_batch(
            tmp_path / "in.jsonl", out, first, environments=ENVIRONMENTS, on_record=stop_after_five
        )
    assert _pairs(out)[3:] == [("p1", "default"), ("p1", "lean_v4_9_0")]
    assert sum(first.checks.values()) == 5

    second = CountingExecutor()
    resumed = await run_batch(tmp_path / "in.jsonl", out, second, environments=ENVIRONMENTS)
    assert resumed.already_done == 5 and resumed.written == 18 - 5 and resumed.complete
    expected = {(item, environment) for item in ids for environment in ENVIRONMENTS}
    assert sorted(_pairs(out)) == sorted(expected)
    checked = first.checks + second.checks
    assert checked == Counter({pair: 1 for pair in expected if pair[0] != "line:3"})

    third = CountingExecutor()
    again = await run_batch(tmp_path / "in.jsonl", out, third, environments=ENVIRONMENTS)
    assert again.written == 0 and again.already_done == 18 and not third.checks


async def test_a_record_in_one_environment_does_not_stand_for_another(tmp_path: Path) -> None:
    _write_input(tmp_path / "in.jsonl", 2)
    out = tmp_path / "out.jsonl"
    await run_batch(tmp_path / "in.jsonl", out, CountingExecutor(), environments=("default",))
    backend = CountingExecutor()
    summary = await run_batch(
        tmp_path / "in.jsonl", out, backend, environments=("default", "lean_v4_9_0")
    )
    assert summary.already_done == 2 and summary.written == 2
    assert backend.checks == Counter({("p0", "lean_v4_9_0"): 1, ("p1", "lean_v4_9_0"): 1})


async def test_an_unknown_environment_stops_the_run_before_anything_is_checked(
    tmp_path: Path,
) -> None:
    _write_input(tmp_path / "in.jsonl", 3)
    backend = CountingExecutor(known=[_info("default"), _info("lean_v4_9_0")])
    with pytest.raises(ConfigError) as refused:
        await run_batch(
            tmp_path / "in.jsonl",
            tmp_path / "out.jsonl",
            backend,
            environments=("default", "lean_v9", "lean_v4_9_0"),
        )
    assert str(refused.value) == "unknown environment 'lean_v9'; known: default, lean_v4_9_0"
    assert not backend.started and not backend.checks
    assert read_records(tmp_path / "out.jsonl") == []


async def test_an_environment_the_backend_cannot_serve_stops_the_run_naming_it(
    tmp_path: Path,
) -> None:
    _write_input(tmp_path / "in.jsonl", 3)
    absent = _info("lean_v4_9_0", ready=False, problems=("Lean toolchain v4.9.0 not found",))
    backend = CountingExecutor(known=[_info("default"), absent])
    with pytest.raises(NotReady, match=r"'lean_v4_9_0' is not ready: Lean toolchain v4.9.0 not"):
        await run_batch(
            tmp_path / "in.jsonl",
            tmp_path / "out.jsonl",
            backend,
            environments=("default", "lean_v4_9_0"),
        )
    assert not backend.checks


async def test_an_environment_named_twice_is_refused(tmp_path: Path) -> None:
    _write_input(tmp_path / "in.jsonl", 1)
    backend = CountingExecutor()
    with pytest.raises(ConfigError, match="named twice"):
        await run_batch(
            tmp_path / "in.jsonl", tmp_path / "o.jsonl", backend, environments=("a", "b", "a")
        )
    assert not (tmp_path / "o.jsonl").exists()


async def test_resuming_an_old_format_file_checks_nothing(tmp_path: Path) -> None:
    _write_input(tmp_path / "in.jsonl", 2)
    out = tmp_path / "out.jsonl"
    with ResultsFile(out) as results:
        results.write(BatchRecord(id="p0", environment="default", line=1, attempts=0))
    old = json.loads(out.read_text())
    del old["format"], old["environment"]  # the record as format 1 wrote it
    out.write_text(json.dumps(old) + "\n")
    backend = CountingExecutor()
    with pytest.raises(ConfigError, match="format 1"):
        await run_batch(tmp_path / "in.jsonl", out, backend, environments=ENVIRONMENTS)
    assert not backend.started and not backend.checks
    assert out.read_text() == json.dumps(old) + "\n"


async def test_a_ray_actor_tells_the_driver_which_environments_it_serves(tmp_path: Path) -> None:
    """The Ray backend lists what its first actor's service serves (no Ray needed here: the actor
    is a plain class); before any actor started it cannot tell."""
    assert await RayExecutor().environments() is None
    actor = CheckerActor(make_stack(tmp_path).service)
    try:
        info = await actor.start()
    finally:
        await actor.close()
    listed = [EnvironmentInfo.model_validate(entry) for entry in info["environments"]]
    names = [entry.name for entry in listed]  # the repository's own: default and the presets
    assert names[0] == "default" and "lean_v4_15_0" in names
    with pytest.raises(ConfigError, match="unknown environment 'lean_v9'; known: default, lean_v4"):
        require_environments(("default", "lean_v9"), listed)
