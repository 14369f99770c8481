"""A batch across three stand-in Lean versions served at once (issue 26 item 6), in this process
and against a server: one record per (item, environment), each checked by its own environment's
REPL exactly once overall across an interruption and a resume, and `proofgate report` showing the
item whose verdict differs between versions and not the one that agrees.

The real launcher, version check, pool and audit; stand-in toolchains whose REPL is the stand-in
REPL speaking each version's protocol (tests/environments/toolchains.py). What differs: the
v4.15.0 environment sets `autoImplicit false` (`proofgate-options.json`), so a statement relying
on an auto-bound variable fails there and is proved elsewhere. Each check is counted by a `shell`
marker in the submitted code, which the REPL that runs it acts out in its environment's directory.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from proofgate.api.app import create_app
from proofgate.batch.executors.checker import CheckerExecutor
from proofgate.batch.input import BatchRecord
from proofgate.batch.output import read_records
from proofgate.batch.runner import record_outcome, run_batch
from proofgate.cli import app
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from tests.environments.toolchains import fake_environment
from tests.support.live_app import run_app
from tests.support.stack import STANDINS, Stack, make_stack

ENVIRONMENTS = ("default", "lean_v4_15_0", "lean_v4_26_0")
VERSIONS = {"default": "v4.32.0", "lean_v4_15_0": "v4.15.0", "lean_v4_26_0": "v4.26.0"}
#: The directory each environment's REPL runs in, as the counting marker logs it.
DIRECTORIES = {"default": "project", "lean_v4_15_0": "lean_v4_15_0", "lean_v4_26_0": "lean_v4_26_0"}

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
AUTO_BOUND = "import Mathlib\n\n-- standin: auto-bound n ℕ\ntheorem b (h : n + 1 = 2) : n = 1 := by"
RELEASE = pytest.mark.timeout(120)
runner = CliRunner()


@pytest.fixture(autouse=True)
def _logs_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logs to the real stderr (the command's own setup would cache the runner's closed stream)."""
    monkeypatch.setattr("proofgate.logs.configure_logging", lambda *args, **kwargs: None)
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))


@dataclass
class Versions:
    stack: Stack
    log: Path  # one line per REPL run of an item: `ID DIRECTORY`
    input: Path

    def service(self) -> CheckerService:
        return CheckerService(self.stack.settings, spawner=ProcessGroupSpawner())

    def checks(self) -> Counter[tuple[str, str]]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        by_directory = {directory: name for name, directory in DIRECTORIES.items()}
        return Counter((i, by_directory[d]) for i, d in (line.split() for line in lines))


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Versions:
    """Three environments on three Lean versions (a fourth, v4.9.0, not installed), and an input
    of four items: two that agree everywhere, one that fails only under `autoImplicit false`,
    one not JSON."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes = tmp_path / "project", tmp_path / "homes"
    for name, version in VERSIONS.items():
        made = fake_environment(
            project, name, version, homes=homes, repl_options=("--protocol", version)
        )
        if name != "default":
            monkeypatch.setenv(f"PROOFGATE_LEAN_HOME__{name.upper()}", str(made.home))
    fake_environment(project, "lean_v4_9_0", "v4.9.0", homes=homes, installed=False)
    options = project / "LeanProjects" / "lean_v4_15_0" / "proofgate-options.json"
    options.write_text('{"autoImplicit": false}')
    # the stand-in checker reports the Lean of the environment it runs in (its cwd)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for version in VERSIONS.values():
        (scenarios / f"{version}.json").write_text(json.dumps({"report": {"lean": version}}))
    checker = tmp_path / "checker.sh"
    checker.write_text(
        '#!/bin/sh\nversion=$(sed "s/.*://" lean-toolchain)\n'
        f'exec {sys.executable} {STANDINS / "checker.py"} {scenarios}/"$version.json" "$@"\n'
    )
    checker.chmod(0o755)
    stack = make_stack(
        tmp_path,
        project_dir=project,
        lean_home=homes / "default",
        workers=3,
        checker_command=str(checker),
    )
    log = tmp_path / "checks.log"

    def counted(item_id: str, code: str) -> str:
        return code + f"\n-- standin: shell echo {item_id} $(basename $(pwd)) >> {log}\n"

    honest = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b"
    items = [
        json.dumps({"id": "agrees", "statement": STATEMENT, "code": counted("agrees", honest)}),
        json.dumps(
            {
                "id": "auto-bound",
                "statement": AUTO_BOUND + " sorry\n",
                "code": counted("auto-bound", AUTO_BOUND + " omega"),
            }
        ),
        '{"id": "torn", "code": ',  # not JSON: an error record in each environment
        json.dumps(
            {"id": "also-agrees", "statement": STATEMENT, "code": counted("also-agrees", honest)}
        ),
    ]
    given = tmp_path / "in.jsonl"
    given.write_text("\n".join(items) + "\n")
    return Versions(stack, log, given)


def _outcomes(path: Path) -> dict[tuple[str, str | None], str]:
    records = read_records(path)
    pairs = [(r.id, r.environment) for r in records]
    assert len(pairs) == len(set(pairs)), "a pair was written twice"
    return {(r.id, r.environment): record_outcome(r) for r in records}


EXPECTED = {
    **{("agrees", name): "proved" for name in ENVIRONMENTS},
    **{("also-agrees", name): "proved" for name in ENVIRONMENTS},
    **{("line:3", name): "error:input" for name in ENVIRONMENTS},
    ("auto-bound", "default"): "proved",
    ("auto-bound", "lean_v4_15_0"): "failed",
    ("auto-bound", "lean_v4_26_0"): "proved",
}
CHECKED = Counter({pair: 1 for pair in EXPECTED if pair[0] != "line:3"})


class Interrupted(Exception):
    """Stops the first run after some records, as a crash would."""


@RELEASE
async def test_in_process_each_pair_is_checked_once_across_a_resume(
    versions: Versions, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    written: list[BatchRecord] = []

    def interrupt_after_four(record: BatchRecord) -> None:
        written.append(record)
        if len(written) == 4:
            raise Interrupted

    first = CheckerExecutor(service=versions.service(), concurrency=1)  # nothing left in flight
    with pytest.raises(Interrupted):
        await run_batch(
            versions.input, out, first, environments=ENVIRONMENTS, on_record=interrupt_after_four
        )
    assert len(read_records(out)) == 4 and sum(versions.checks().values()) == 4

    resumed = await run_batch(
        versions.input,
        out,
        CheckerExecutor(service=versions.service()),
        environments=ENVIRONMENTS,
    )
    assert resumed.already_done == 4 and resumed.written == len(EXPECTED) - 4
    assert _outcomes(out) == EXPECTED
    assert versions.checks() == CHECKED  # each pair once, by its own environment's REPL
    pins = {(r.id, r.environment): r.verdict.pins for r in read_records(out) if r.verdict}
    assert {key[1]: pin.lean for key, pin in pins.items() if pin} == VERSIONS

    report = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    shown = " ".join(report.output.split())
    assert (
        "1 of 4 items have a verdict that differs between default, lean_v4_15_0, lean_v4_26_0"
        in (shown)
    )
    assert "auto-bound │ proved │ failed │ proved" in shown
    assert "agrees" not in shown and "line:3" not in shown
    comparison = json.loads((tmp_path / "report" / "versions.json").read_text())
    assert comparison["differing_count"] == 1 and comparison["agreeing"] == 3
    assert comparison["differing"] == [
        {
            "id": "auto-bound",
            "line": 2,
            "verdicts": {"default": "proved", "lean_v4_15_0": "failed", "lean_v4_26_0": "proved"},
        }
    ]
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "| `auto-bound` | proved | failed | proved |" in summary
    assert "`agrees`" not in summary.split("## Differences between environments")[1]


@RELEASE
def test_against_a_server_with_the_names_checked_first(versions: Versions, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with run_app(
        create_app(versions.stack.settings, service=versions.service()), timeout=30
    ) as url:

        def batch(*extra: str) -> str:
            args = ["batch", str(versions.input), "--out", str(out), "--server", url, "--quiet"]
            result = runner.invoke(app, [*args, *extra])
            return f"{result.exit_code} " + " ".join(result.output.split())

        unknown = batch("--environments", "default,lean_v9")
        assert unknown.startswith("2 ")
        assert (
            "unknown environment 'lean_v9'; known: default, lean_v4_15_0, lean_v4_26_0, "
            "lean_v4_9_0" in unknown
        )
        unready = batch("--environments", "lean_v4_26_0,lean_v4_9_0")
        assert unready.startswith("3 ") and "'lean_v4_9_0' is not ready" in unready
        assert "not both" in batch("--environment", "default", "--environments", "default")
        assert not versions.checks() and read_records(out) == []

        done = batch("--environments", ",".join(ENVIRONMENTS))
        assert done.startswith("0 ") and "12 (one per item and environment)" in done
        again = batch("--environments", ",".join(ENVIRONMENTS))
    assert again.startswith("0 ") and "already done" in again
    assert _outcomes(out) == EXPECTED
    assert versions.checks() == CHECKED


@RELEASE
def test_an_old_format_results_file_is_refused_before_anything_runs(
    versions: Versions, tmp_path: Path
) -> None:
    out = tmp_path / "old.jsonl"
    old = '{"id":"agrees","line":1,"verdict":{"status":"proved","kind":"check"},"attempts":1}\n'
    out.write_text(old)
    result = runner.invoke(
        app, ["batch", str(versions.input), "--out", str(out), "--environments", "default"]
    )
    assert result.exit_code == 2, result.output
    assert "format 1" in result.output and "give a new --out" in " ".join(result.output.split())
    assert out.read_text() == old and not versions.checks()
