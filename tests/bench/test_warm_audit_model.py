"""The bench's audit model with warm checkers (`--audit-checker warm`): the real `Auditor` in the
real jail over the simulated toolchain, as `proofgate bench` runs it. The exporter runs in a jail
per compile and the checkers read what it wrote through their read-only mounts of the audit's
scratch and the references."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofgate.bench.audit_model import AuditModel, install_toolchain
from proofgate.bench.scenarios import project_dir
from proofgate.config import Settings
from proofgate.environments.registry import discover_environments
from proofgate.sandbox import select_spawner
from proofgate.verify.audit import Auditor
from proofgate.verify.contract import AuditOutcome, ExportAuditReport
from tests.support.bench_audit import STATEMENT, request
from tests.support.jail import NEEDS_BWRAP

pytestmark = NEEDS_BWRAP


@pytest.mark.timeout(120)
async def test_the_warm_model_judges_exports_in_the_jail_and_imports_once(tmp_path: Path) -> None:
    model = AuditModel(import_seconds=0.05, checker="warm", jail="bwrap")
    install_toolchain(
        tmp_path / "elan",
        project_dir(tmp_path),
        model,
        repl_import_seconds=0.05,
        lean_version="v4.32.0",
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        project_dir=project_dir(tmp_path),
        elan_home=tmp_path / "elan",
        sandbox="bwrap",
        audit_checker="warm",
        checkers=1,
        audit_timeout=60.0,
    )
    auditor = Auditor(settings, spawner=select_spawner(settings))
    environment = discover_environments(settings)["default"]
    try:
        proved = await auditor.audit(request(environment, STATEMENT.replace("by sorry", "rfl")))
        other = "import Mathlib\n\ntheorem t1 (a b : Nat) : a = a := rfl\n"
        mismatch = await auditor.audit(request(environment, other))
        pool = auditor._warm.pool(environment)
        assert pool is not None and pool.stats.started == 1  # two checks, one import
    finally:
        await auditor.close()
    assert isinstance(proved, ExportAuditReport), proved
    assert proved.outcome is AuditOutcome.ok and proved.target_axioms == ["propext"]
    assert {"compile_submission", "warm_check"} <= set(proved.timings_ms)
    assert (
        isinstance(mismatch, ExportAuditReport) and mismatch.outcome is AuditOutcome.type_mismatch
    )
    assert not any((settings.data_dir / "audit").iterdir()), "scratch left behind"
