"""`proofgate bench` on a tiny configuration: every figure is there and sane, on both sides (the
audit model on, the audit off). No timing targets are asserted here (shared machines make them
flaky); the figures' meaning is tested, not their size."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from typer.testing import CliRunner

from proofgate.bench.audit_model import AuditModel
from proofgate.bench.auditor import SimulatedAuditor, SwitchedAuditor
from proofgate.bench.report import headline_json, markdown_table, write_results
from proofgate.bench.runner import TARGETS, BenchConfig, bench_directory, run_bench
from proofgate.bench.stats import busy_seconds_in_window, latency_summary, percentile
from proofgate.bench.workload import BackendProfile, JobFactory, parse_worker_report
from proofgate.environments.registry import Environment
from proofgate.verify.audit import AuditRequest
from proofgate.verify.contract import AuditOutcome

TAG = f"bench-test-{time.monotonic_ns()}"
TINY_PROFILE = BackendProfile(import_seconds=0.3, check_mu=-3.0, check_sigma=0.3)
#: Audit processes import for 0.1 s each (three a request), in the jail the service would pick.
TINY_AUDIT = AuditModel(import_seconds=0.1)


def _tiny(**changes: Any) -> BenchConfig:
    config = BenchConfig(
        mode="tiny",
        profile=TINY_PROFILE,
        worker_counts=(2,),
        concurrencies=(2, 16),
        warmup_seconds=0.3,
        window_seconds=1.5,
        overhead_requests=30,
        recovery_workers=2,
        recovery_seconds=3.0,
        kill_every_seconds=1.0,
        audit=TINY_AUDIT,
        audit_pairs=3,
        repl_extra_options=("--tag", TAG),
    )
    return config.with_options(**changes)


def _tagged_processes() -> list[int]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if TAG in cmdline and process.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(process.pid)
    return found


def _no_worker_left() -> list[int]:
    deadline = time.monotonic() + 5
    left = _tagged_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _tagged_processes()
    return left


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    """One tiny run shared by the assertions below (about half a minute: both sides)."""
    outcome = run_bench(_tiny())
    assert _no_worker_left() == [], "a simulated worker outlived the bench"
    return outcome


@pytest.mark.timeout(90)
def test_every_figure_is_reported(results: dict[str, Any]) -> None:
    summary = results["summary"]
    for name, _, _ in TARGETS:
        assert summary[name] is not None, name
        assert results["targets"][name]["met"] in (True, False)
    overhead = results["overhead"]
    for path in ("driver", "pool", "http"):
        assert overhead[path]["count"] == 30
        assert 0 < overhead[path]["p50_ms"] <= overhead[path]["p99_ms"]
    assert overhead["failed"] == 0
    assert results["backend"]["repl"].startswith("simulated")
    assert results["backend"]["audit"]["model"].startswith("on")
    assert "SIMULATED" in results["backend"]["audit"]["auditor"]
    assert results["memory"]["server_rss_idle_mib"] > 10
    assert (
        results["memory"]["server_rss_load_max_mib"]
        >= results["memory"]["server_rss_idle_mib"] * 0.5
    )
    assert results["health"]["probes"] > 10 and results["health"]["failures"] == 0
    assert results["server_cpu"]["ms_per_request_under_load_with_audit"] > 0
    assert results["server_cpu"]["ms_per_request_under_load_audit_off"] > 0
    assert 0 <= results["server_cpu"]["idle_ms_per_second"] < 100  # a 2-core machine, idling
    assert results["cdf_ms"] and all(results["cdf_ms"].values())


@pytest.mark.timeout(90)
def test_throughput_ratios_are_sane(results: dict[str, Any]) -> None:
    points = results["throughput"]
    assert [(p["workers"], p["concurrency"], p["audit"]) for p in points] == [
        (2, 2, "off"),
        (2, 2, "on"),
        (2, 16, "off"),
        (2, 16, "on"),
    ]
    for point in points:
        assert point["failed"] == 0, point["first_failure"]
        # completed requests only: nothing answered after the window, nothing unanswered
        assert point["completed_in_window"] > 0
        assert point["achieved_rps"] == pytest.approx(
            point["completed_in_window"] / point["window_s"], rel=0.01
        )
        assert 0 < point["achieved_over_ideal"] <= 1.2
        r, a = point["mean_backend_s"], point["mean_modelled_audit_s"]
        ideal = min(2 / r, point["concurrency"] / (r + a))
        assert point["ideal_rps"] == pytest.approx(ideal, rel=0.01)
        assert 0 <= point["header_hit_rate"] <= 1
        assert point["latency"]["p50_ms"] >= 1000 * math.exp(TINY_PROFILE.check_mu) * 0.5
        if point["audit"] == "off":
            assert a == 0
            # no process was started: no child reaped (None: a REPL worker ended in the window)
            assert point["children_cpu_ms_per_request"] in (0, None)
        else:
            # two imports one after the other (the statement's and the submission's compiles
            # side by side, then the checker's), the elaboration (the item's check time) and
            # one declaration's replay
            assert a == pytest.approx(2 * 0.1 + r + 0.005, rel=0.01)
            assert point["audit_latency"]["p50_ms"] >= 200  # real processes, each importing
    summary = results["summary"]
    assert summary["throughput_of_ideal_with_audit_c16"] == min(
        p["achieved_over_ideal"] for p in points if p["concurrency"] == 16 and p["audit"] == "on"
    )
    assert summary["throughput_of_ideal_audit_off_c16"] is not None


@pytest.mark.timeout(90)
def test_the_audit_model_runs_real_processes_and_only_they_count_as_children(
    results: dict[str, Any],
) -> None:
    added = results["audit_added"]
    assert added["failed"] == 0 and added["pairs"] == 3
    summary = results["summary"]
    # three processes each importing for 0.1 s, at least, beyond what the audit-off side takes
    assert summary["audit_added_p50_ms"] >= 300
    assert added["audit_off_audit"]["p50_ms"] < 50
    for point in results["throughput"]:
        children = point["children_cpu_ms_per_request"]
        if children is None:  # a REPL worker ended in the window: not counted
            assert point["repl_workers_ended"] > 0
            continue
        assert point["cpu_ms_per_request_with_children"] == pytest.approx(
            point["server_cpu_ms_per_request"] + children, abs=0.01
        )
        if point["audit"] == "off":
            assert children == 0  # no audit process; REPL workers never count
        else:
            assert children > 0
    with_children = summary["cpu_ms_per_request_with_children"]
    assert with_children is not None
    assert with_children > summary["server_cpu_ms_per_request_with_audit"] * 0.99
    assert (
        summary["cpu_ms_per_request_with_children_audit_off"]
        == summary["server_cpu_ms_per_request_audit_off"]
    )


@pytest.mark.timeout(90)
def test_recovery_loses_nothing_under_kills(results: dict[str, Any]) -> None:
    recovery = results["recovery_audit_off"]
    assert recovery["kills"] >= 2, recovery
    assert recovery["lost"] == 0, recovery
    assert recovery["requests"] > 10, recovery
    # Kills of workers running a check make the pool retry, and the bench finds those requests.
    assert recovery["kills_of_busy_workers"] > 0 and recovery["pool_retries"] > 0, recovery
    assert recovery["affected"] == recovery["pool_retries"], recovery
    assert recovery["affected_extra_latency"]["count"] == recovery["affected"]
    assert isinstance(recovery["waited_on_import"], int)
    # With the audit on, a replacement worker imports longer and the killer spares importing ones,
    # so a busy machine may see a single kill in the tiny run's window: one proves the attack ran.
    audited = results["recovery_with_audit"]
    assert audited["kills"] >= 1 and audited["lost"] == 0, audited
    assert results["summary"]["recovery_lost"] == 0


@pytest.mark.timeout(90)
def test_reports_are_written(results: dict[str, Any], tmp_path: Path) -> None:
    line = headline_json(results)
    assert "\n" not in line and "cdf_ms" not in json.loads(line)
    table = markdown_table(results)
    assert "completed/ideal" in table and "| 2 | 16 | on |" in table and "| 2 | 16 | off |" in table
    written = write_results(results, tmp_path)
    assert sorted(p.name for p in written) == ["bench-tiny.json", "bench-tiny.md", "bench-tiny.png"]
    assert json.loads(written[0].read_text())["summary"] == results["summary"]
    assert written[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.timeout(90)
def test_cli_prints_one_json_object_last() -> None:
    from proofgate.cli import app

    args = [
        "bench",
        "--quick",
        "--workers",
        "1",
        "--concurrency",
        "2",
        "--window",
        "1",
        "--import-seconds",
        "0.2",
        "--check-mu",
        "-4",
        "--check-sigma",
        "0.2",
        "--overhead-requests",
        "10",
        "--recovery-seconds",
        "0",
        "--audit-import-seconds",
        "0.05",
        "--audit-pairs",
        "1",
        "--statement-group",
        "2",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    # stdout is the figures alone: the in-process service's logs go to stderr (issue 30, defect 7)
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["config"]["mode"] == "quick" and last["config"]["worker_counts"] == [1]
    assert set(last["targets"]) == {name for name, _, _ in TARGETS}
    assert (result.exit_code == 0) == all(t["met"] is not False for t in last["targets"].values())
    assert last["summary"]["audit_added_p50_ms"] is not None
    assert last["backend"]["audit"]["import_seconds_each"] == 0.05
    assert last["config"]["statement_group"] == 2
    assert last["backend"]["audit"]["reference_compiled_in"].startswith("0.5 of audits")


# --- pieces ------------------------------------------------------------------------------------


def test_percentiles_and_window_accounting() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 99) == pytest.approx(9.9)
    assert math.isnan(percentile([], 50))
    assert latency_summary([0.001, 0.003])["p50_ms"] == 2.0
    intervals = [(0.0, 2.0), (1.5, 3.0), (5.0, 6.0)]
    assert busy_seconds_in_window(intervals, 1.0, 5.5) == pytest.approx(1.0 + 1.5 + 0.5)


def test_a_run_keeps_the_directory_it_was_given_and_removes_its_scratch(tmp_path: Path) -> None:
    given = tmp_path / "not" / "yet"
    with bench_directory(given, prefix="scratch-") as directory:
        (directory / "kept").write_text("x", "utf-8")
    assert directory == given and (given / "kept").read_text("utf-8") == "x"
    with bench_directory(None, prefix="proofgate-test-scratch-") as scratch:
        assert scratch.name.startswith("proofgate-test-scratch-") and scratch.is_dir()
    assert not scratch.exists()


def test_jobs_carry_their_exact_backend_time_and_unique_names() -> None:
    profile = BackendProfile(memory_mb_per_check=16)
    first = JobFactory(profile, run="a", seed=3).next()
    again = JobFactory(profile, run="a", seed=3).next()
    assert first.body == again.body  # seeded: reproducible
    factory = JobFactory(profile, run="a", seed=3)
    jobs = [factory.next() for _ in range(50)]
    assert len({job.body["statement"] for job in jobs}) == 50  # no cache hits inside a run
    for job in jobs:
        sleep = float(job.body["proof"].split("-- standin: sleep ")[1].split()[0])
        assert job.backend_seconds == pytest.approx(sleep + profile.growth_seconds)
        assert job.code.startswith(job.header + "\n")
    assert {job.header for job in jobs} == set(factory.headers)
    zero = JobFactory(profile, run="z", zero_latency=True).next()
    assert zero.backend_seconds == 0 and "sleep" not in zero.body["proof"]


def test_worker_report_is_parsed_from_reply_or_verdict_messages() -> None:
    text = "worker pid=42 ready_at=10.5 started_at=12.25"
    assert parse_worker_report([{"data": text}]) == parse_worker_report([{"text": text}])
    report = parse_worker_report([{"data": "other"}, {"data": text}])
    assert report is not None and (report.pid, report.ready_at, report.started_at) == (
        42,
        10.5,
        12.25,
    )
    assert parse_worker_report([{"data": "worker pid=x"}]) is None


async def test_simulated_audit_says_ok_and_says_it_checked_nothing(tmp_path: Path) -> None:
    environment = Environment("default", tmp_path, "leanprover/lean4:v4.32.0")
    auditor = SimulatedAuditor(0.01)
    report = await auditor.audit(
        AuditRequest(
            environment=environment, statement="theorem t : True := sorry", code="", target="t"
        )
    )
    assert report.outcome is AuditOutcome.ok and report.target == "t"
    assert "nothing was checked" in report.detail and auditor.audits == 1


async def test_switched_auditor_runs_the_model_except_where_the_request_says_audit_off(
    tmp_path: Path,
) -> None:
    environment = Environment("default", tmp_path, "leanprover/lean4:v4.32.0")
    real, off = SimulatedAuditor(), SimulatedAuditor()
    switched = SwitchedAuditor(real, off)
    factory = JobFactory(TINY_PROFILE, run="s")
    for audited in (True, False, True):
        job = factory.next(audit=audited)
        await switched.audit(
            AuditRequest(environment=environment, statement=None, code=job.code, target=None)
        )
    assert (real.audits, off.audits) == (2, 1)


def test_a_statement_group_shares_one_statement_and_header_then_moves_on() -> None:
    factory = JobFactory(TINY_PROFILE, run="g", seed=5, statement_group=4)
    jobs = [factory.next() for _ in range(12)]
    groups = [jobs[i : i + 4] for i in range(0, 12, 4)]
    for group in groups:
        assert len({job.body["statement"] for job in group}) == 1
        assert len({job.header for job in group}) == 1
        assert len({job.body["proof"] for job in group}) == 4  # each completion its own
    assert len({group[0].body["statement"] for group in groups}) == 3
    with pytest.raises(ValueError, match="statement_group"):
        JobFactory(TINY_PROFILE, run="g", statement_group=0)


def test_the_audit_model_compiles_the_reference_once_a_statement_group() -> None:
    oneshot, warm = AuditModel(import_seconds=2.0), AuditModel(import_seconds=2.0, checker="warm")
    # every statement new: the reference, the submission and (one-shot) the checker import
    assert oneshot.imports_per_audit() == 3 and warm.imports_per_audit() == 2
    assert warm.imports_per_audit(reference_share=1 / 16) == pytest.approx(1 + 1 / 16)
    # the statement's compile runs beside the submission's: a process more, no time more
    assert warm.seconds(0.2, 2.0, 3) == pytest.approx(2.0 + 0.2 + 3 * 0.005)
    assert oneshot.seconds(0.2, 2.0, 3) == pytest.approx(2 * 2.0 + 0.2 + 3 * 0.005)
    described = warm.describe(2.0, reference_share=0.25)
    assert described["jailed_runs_per_audit"] == 1.25 and described["imports_per_audit"] == 1.25
