"""benchmarks/side_by_side.py without Kimina: its arguments, its table, the simulated REPL as Kimina
starts it (`lake env REPL_PATH` through the fake `lake`), and the proofgate side of one tiny point.
Against a Kimina Lean Server only when PROOFGATE_KIMINA_CHECKOUT names a checkout."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from proofgate.bench.audit_model import AuditModel, install_toolchain
from proofgate.bench.load import send_job
from proofgate.bench.runner import LEAN_VERSION, BenchConfig, _server_settings
from proofgate.bench.scenarios import project_dir
from proofgate.bench.server import BenchServer, ServerConfig
from proofgate.bench.workload import BackendProfile
from proofgate.config import SOURCE_ROOT

#: Read at import: the suite's autouse fixture removes every PROOFGATE_* variable before a test.
KIMINA_CHECKOUT = os.environ.get("PROOFGATE_KIMINA_CHECKOUT") or None
KIMINA_PYTHON = os.environ.get("PROOFGATE_KIMINA_PYTHON") or None


def load_script() -> ModuleType:
    path = SOURCE_ROOT / "benchmarks" / "side_by_side.py"
    spec = importlib.util.spec_from_file_location("side_by_side_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sbs = load_script()


def fake_checkout(tmp_path: Path) -> tuple[Path, Path]:
    checkout = tmp_path / "kimina"
    (checkout / "server").mkdir(parents=True)
    (checkout / "server" / "__main__.py").write_text("", "utf-8")
    python = checkout / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("", "utf-8")
    return checkout, python


def test_without_a_kimina_checkout_the_command_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        sbs.parse_args([])
    assert exit_info.value.code == 2
    assert "PROOFGATE_KIMINA_CHECKOUT" in capsys.readouterr().err


def test_a_directory_that_is_not_kimina_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        sbs.parse_args(["--kimina", str(tmp_path)])
    assert "not a Kimina Lean Server checkout" in capsys.readouterr().err
    checkout, python = fake_checkout(tmp_path)
    python.unlink()
    with pytest.raises(SystemExit):
        sbs.parse_args(["--kimina", str(checkout)])
    assert "--kimina-python" in capsys.readouterr().err


def test_the_arguments_choose_the_checkout_its_python_and_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout, python = fake_checkout(tmp_path)
    full = sbs.parse_args(["--kimina", str(checkout)])
    assert full.install == sbs.KiminaInstall(checkout.resolve(), python.resolve())
    assert full.config == sbs.SideBySideConfig() and full.out is None
    assert full.config.points == ((2, 2), (2, 16), (4, 16))
    assert (full.config.kill_seconds, full.config.kill_every_seconds) == (60.0, 5.0)
    other = tmp_path / "venv-python"
    other.write_text("", "utf-8")
    monkeypatch.setenv("PROOFGATE_KIMINA_CHECKOUT", str(checkout))
    quick = sbs.parse_args(
        ["--kimina-python", str(other), "--quick", "--rounds", "2", "--out", str(tmp_path)]
    )
    assert quick.install.python == other and quick.out == tmp_path
    assert quick.config.mode == "quick" and quick.config.rounds == 2
    assert quick.config.window_seconds < full.config.window_seconds
    assert quick.config.audit_jail == "auto" and quick.config.kimina_environment == "prod"
    source = SOURCE_ROOT / "src"
    other_source = sbs.parse_args(["--proofgate-source", str(source)])
    assert other_source.config.proofgate_source == source.resolve()


def test_the_warm_checker_and_statement_groups_reach_the_proofgate_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    checkout, _ = fake_checkout(tmp_path)
    monkeypatch.setenv("PROOFGATE_KIMINA_CHECKOUT", str(checkout))
    default = sbs.parse_args([]).config
    assert (default.audit_checker, default.statement_group) == ("oneshot", 1)
    config = sbs.parse_args(["--audit-checker", "warm", "--statement-group", "16"]).config
    assert config.audit().checker == "warm"
    target = sbs.Target("proofgate", server=None, send=None)  # type: ignore[arg-type]
    factory = target.factory(config.profile(0.2), "r", config)
    statements = [factory.next().body["statement"] for _ in range(32)]
    assert len(set(statements[:16])) == 1 and len(set(statements)) == 2
    proofs = [factory.next().body["proof"] for _ in range(16)]
    assert len(set(proofs)) == 16  # fixed check times: only the completion tells them apart
    workspace = sbs.Workspace(
        tmp_path / "work", sbs.KiminaInstall(checkout, checkout), None, config
    )
    server = workspace.proofgate(config, 2, "proofgate")
    assert server.config.audit.checker == "warm"  # the bench server's Auditor runs it
    with pytest.raises(SystemExit):
        sbs.parse_args(["--statement-group", "0"])
    assert "--statement-group must be at least 1" in capsys.readouterr().err


def test_kimina_keys_a_repl_by_one_mathlib_import_then_the_others() -> None:
    assert sbs.kimina_header("import Mathlib\nimport Aesop") == "import Mathlib\nimport Aesop"
    assert sbs.kimina_header("import Mathlib.Tactic") == "import Mathlib"
    assert sbs.kimina_header("import Aesop\nimport Mathlib.Data.Real.Basic") == (
        "import Mathlib\nimport Aesop"
    )


def _point(side: str, repls: int, clients: int, ratio: float, cpu: float) -> dict[str, Any]:
    return {
        "side": side,
        "workers": repls,
        "concurrency": clients,
        "achieved_over_ideal": ratio,
        "achieved_rps": ratio * 10,
        "ideal_rps": 10.0,
        "server_cpu_ms_per_request": cpu,
        "cpu_ms_per_request_with_children": cpu * 2 if side == "proofgate_audit_on" else cpu,
        "failed": 0,
    }


def synthetic_results() -> dict[str, Any]:
    config = sbs.SideBySideConfig()
    cpu = {"kimina": 20.0, "proofgate_audit_on": 8.0, "proofgate_audit_off": 4.0}
    round_: dict[str, Any] = {"round": 0, "throughput": [], "kills": []}
    round_["added"] = {
        side: {"beyond_check": {"count": 5, "p50_ms": 100.0 + i, "p99_ms": 150.0 + i}}
        for i, side in enumerate(sbs.SIDES)
    }
    for side in sbs.SIDES:
        for repls, clients in config.points:
            round_["throughput"].append(_point(side, repls, clients, 0.9, cpu[side]))
        round_["kills"].append(
            {
                "side": side,
                "kills": 12,
                "kills_by_state": {"busy": 6, "idle": 6},
                "requests": 300,
                "failed": 12 if side == "kimina" else 0,
            }
        )
    round_["health_s"] = {side: [0.001 * n for n in range(1, 101)] for side in sbs.SIDES}
    summary = sbs.summarize([round_], config)
    return {
        "config": config.describe(),
        "summary": summary,
        "machine": {"cpus": 2, "load_average_1m": {"before": 1.0, "after": 2.0}},
        "kimina": {"commit": "fb2393de3461abcdef", "environment": "prod"},
        "proofgate_server": {
            "source": "this checkout",
            "commit": "0123456789abcdef",
            "uncommitted_source_files": ["src/proofgate/config.py"],
        },
    }


def test_the_summary_and_the_table_come_from_the_rounds() -> None:
    results = synthetic_results()
    kimina, audited = results["summary"]["kimina"], results["summary"]["proofgate_audit_on"]
    assert kimina["throughput_of_ideal_r4_c16"] == 0.9 and kimina["added_p50_ms"] == 100.0
    assert audited["server_cpu_ms_per_request"] == 8.0
    assert audited["cpu_ms_per_request_with_children"] == 16.0
    assert kimina["failed_under_kills"] == 12 and audited["kills"] == 12
    assert kimina["health_p99_ms"] == pytest.approx(99.01)
    table = json.loads(json.dumps(results))  # a results file read back renders the same
    text = sbs.render_table(table)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()}
    assert "Kimina | proofgate /v1/check, audit on | proofgate, audit off" in text
    assert rows["completed / ideal, R2 C16"].endswith("| 0.90 | 0.90 | 0.90 | 1.00x |")
    assert (
        "| 20.0 ms | 8.0 ms | 4.0 ms | 0.40x |"
        in rows["server CPU per request, R4 C16, children excluded"]
    )
    assert (
        "| 20.0 ms | 16.0 ms | 4.0 ms | 0.80x |"
        in rows["server CPU per request, R4 C16, with children (the audit's processes)"]
    )
    kills = next(line for line in text.splitlines() if line.startswith("| failed requests"))
    assert "12 of 300 (12 kills)" in kills and "0 of 300 (12 kills)" in kills
    assert "Kimina fb2393de3461 in `prod` mode" in text
    assert "proofgate 0123456789ab with uncommitted changes to 1 source file(s)" in text


def test_written_results_carry_the_command(tmp_path: Path) -> None:
    results = synthetic_results()
    results["command"] = "python benchmarks/side_by_side.py --kimina K"
    written = sbs.write_results(results, tmp_path)
    assert [p.name for p in written] == ["side_by_side-full.json", "side_by_side-full.md"]
    assert json.loads(written[0].read_text("utf-8"))["summary"] == results["summary"]
    assert written[1].read_text("utf-8").startswith("`python benchmarks/side_by_side.py")


def test_kimina_reaches_the_simulated_repl_through_the_fake_lake(tmp_path: Path) -> None:
    """Kimina starts `lake env REPL_PATH` in its project directory: the fake `lake` runs the
    wrapper, which is the simulated REPL speaking the REPL's protocol."""
    config = sbs.SideBySideConfig(import_seconds=0.0, audit_jail="none")
    project = project_dir(tmp_path)
    install_toolchain(
        tmp_path / "elan",
        project,
        config.audit(),
        repl_import_seconds=0.0,
        lean_version=LEAN_VERSION,
        python=Path(sys.executable),
    )
    repl = sbs.install_kimina_repl(tmp_path / "kimina", 0.0)
    command = {"cmd": "import Mathlib\n-- standin: info hello"}
    done = subprocess.run(
        [str(tmp_path / "elan" / "bin" / "lake"), "env", str(repl)],
        input=json.dumps(command) + "\n\n",
        capture_output=True,
        text=True,
        cwd=project,
        timeout=60,
        check=True,
    )
    reply = json.loads(done.stdout)
    assert reply["env"] == 0 and reply["messages"][0]["data"] == "hello"


def test_kimina_is_pointed_at_the_simulated_repl_on_loopback(tmp_path: Path) -> None:
    checkout, python = fake_checkout(tmp_path)
    server = sbs.KiminaServer(
        sbs.KiminaInstall(checkout, python),
        tmp_path,
        repls=4,
        header="import Mathlib\nimport Aesop",
        repl_path=tmp_path / "repl",
        project=tmp_path / "project",
        lake_bin=tmp_path / "elan" / "bin",
        environment="prod",
        import_seconds=2.0,
        prisma_shim=tmp_path / "shim",
    )
    env = server.environ(8123)
    assert env["LEAN_SERVER_HOST"] == "127.0.0.1" and env["LEAN_SERVER_PORT"] == "8123"
    assert env["LEAN_SERVER_REPL_PATH"] == str(tmp_path / "repl")
    assert env["LEAN_SERVER_PROJECT_DIR"] == str(tmp_path / "project")
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "elan" / "bin")
    assert json.loads(env["LEAN_SERVER_INIT_REPLS"]) == {"import Mathlib\nimport Aesop": 4}
    assert env["LEAN_SERVER_MAX_REPLS"] == "4" and env["PYTHONPATH"] == str(tmp_path / "shim")
    assert env["GCE_METADATA_HOST"].startswith("127.0.0.1:")
    assert "LEAN_SERVER_DATABASE_URL" not in env


@pytest.mark.timeout(60)
async def test_the_proofgate_side_of_one_added_latency_point(tmp_path: Path) -> None:
    config = sbs.SideBySideConfig(import_seconds=0.0, added_requests=3, added_requests_audited=0)
    settings = _server_settings(BenchConfig(header_mix=((config.header, 1.0),)), tmp_path, 1)
    settings.update(spare_workers=0)
    server_config = ServerConfig(
        settings, BackendProfile(import_seconds=0.0), [], AuditModel(enabled=False)
    )
    with BenchServer(server_config, tmp_path, "pg") as server:
        target = sbs.Target("proofgate_audit_off", server, send_job)
        added = await sbs.measure_added([target], config, run="test")
    figures = added["proofgate_audit_off"]
    assert figures["failed"] == 0 and figures["beyond_check"]["count"] == 3
    assert figures["beyond_check"]["p50_ms"] > 0


@pytest.mark.peer
@pytest.mark.skipif(
    KIMINA_CHECKOUT is None,
    reason="no Kimina Lean Server checkout: set PROOFGATE_KIMINA_CHECKOUT to one (git clone it "
    "outside this repository) and PROOFGATE_KIMINA_PYTHON to the Python of its own venv",
)
@pytest.mark.timeout(180)
async def test_kimina_answers_on_the_simulated_repl_and_a_killed_repl_is_counted(
    tmp_path: Path,
) -> None:
    argv = ["--kimina", str(KIMINA_CHECKOUT)]
    if KIMINA_PYTHON:
        argv += ["--kimina-python", KIMINA_PYTHON]
    install = sbs.parse_args(argv).install
    config = sbs.SideBySideConfig(import_seconds=0.1, audit_jail="none")
    shim = None
    if not install.has_prisma_client():
        shim = tmp_path / "prisma-shim"
        (shim / "prisma").mkdir(parents=True)
        (shim / "prisma" / "__init__.py").write_text(sbs.PRISMA_SHIM, "utf-8")
    workspace = sbs.Workspace(tmp_path, install, shim, config)
    server = workspace.kimina(config, 1)
    await asyncio.to_thread(server.start)
    try:
        target = sbs.Target("kimina", server, sbs.send_kimina)
        added = await sbs.measure_added([target], replace(config, added_requests=2), run="k")
        assert added["kimina"]["failed"] == 0 and added["kimina"]["beyond_check"]["count"] == 2
        killer = sbs.RandomKiller(server, every=1.0, import_seconds=0.1)
        assert await killer.kill_one() is not None and killer.states[0] in (
            "idle",
            "busy",
            "unknown",
        )
    finally:
        await asyncio.to_thread(server.stop)
