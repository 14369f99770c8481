"""benchmarks/real_lean.py's plumbing, against proofgate's bench server on the SIMULATED REPL and
the audit over a SIMULATED toolchain (which accept everything): both clients, the table and the
exit code. Whether the sample's proofs are accepted by real Lean is left to the real-Lean workflow
(marked `lean`)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from proofgate.bench.audit_model import AuditModel, install_toolchain
from proofgate.bench.runner import LEAN_VERSION, BenchConfig, _server_settings
from proofgate.bench.scenarios import project_dir
from proofgate.bench.server import BenchServer, ServerConfig
from proofgate.bench.workload import BackendProfile
from proofgate.config import SOURCE_ROOT
from proofgate.lean.header import split_header
from proofgate.models import Submission
from proofgate.verify.assemble import assemble


def load_script() -> ModuleType:
    path = SOURCE_ROOT / "benchmarks" / "real_lean.py"
    spec = importlib.util.spec_from_file_location("real_lean_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


rl = load_script()


def test_the_sample_is_twenty_honest_locked_checks_in_one_header() -> None:
    cases = rl.load_cases(rl.DATA)
    assert len(cases) >= 20 and len({c.name for c in cases}) == len(cases)
    assert {split_header(c.statement).header for c in cases} == {"import Mathlib\nimport Aesop"}
    for case in cases:
        assert "sorry" not in case.proof and "admit" not in case.proof
        assembled = assemble(Submission(statement=case.statement, proof=case.proof))
        assert assembled.target == case.name
        assert case.code(2).endswith("-- round 2\n")


@pytest.mark.timeout(60)
async def test_both_clients_run_the_sample_against_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _server_settings(BenchConfig.quick(), tmp_path, 2)
    settings.update(prewarm_headers=["import Mathlib\nimport Aesop"], spare_workers=0)
    profile = BackendProfile(import_seconds=0.1)
    audit = AuditModel()  # the audit as deployed, over the simulated toolchain the bench installs
    install_toolchain(
        tmp_path / "elan",
        project_dir(tmp_path),
        audit,
        repl_import_seconds=profile.import_seconds,
        lean_version=LEAN_VERSION,
    )
    with BenchServer(ServerConfig(settings, profile, audit=audit), tmp_path, "rl") as server:
        code = await rl.main(["--server", server.url, "--kimina", server.url, "--cores", "2"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summaries = json.loads(lines[-1])
    assert [s["system"] for s in summaries] == ["proofgate", "Kimina Lean Server"]
    for summary in summaries:
        assert summary["checks"] == summary["accepted"] == len(rl.load_cases(rl.DATA))
        assert summary["proofs_per_s"] > 0 and summary["latency"]["count"] == summary["checks"]
    assert any(line.startswith("| Kimina Lean Server |") for line in lines)


@pytest.mark.lean
def test_every_sample_proof_is_proved_by_real_lean() -> None:
    """The real-Lean workflow runs the script itself; all sample proofs must be accepted."""
    import asyncio

    assert asyncio.run(rl.main(["--rounds", "1"])) == 0
