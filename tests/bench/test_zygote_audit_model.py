"""The bench's audit model with zygotes (`--audit-compiler zygote`): the real `Auditor` in the
real jail over the simulated toolchain, as `proofgate bench` runs it. The simulated zygote
(`proofgate.bench.simulated_zygote`) imports once in a jail with no writable path; each check is
a fork whose reply is the feedback and whose export the warm simulated checker judges."""

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

IMPORT_SECONDS = 0.2


def zygote_pids(auditor: Auditor) -> list[int]:
    return [z.result().process.pid for z in auditor._zygotes._live.values()]


@pytest.mark.timeout(120)
async def test_the_zygote_model_forks_per_check_in_the_jail_and_imports_once(
    tmp_path: Path,
) -> None:
    model = AuditModel(import_seconds=IMPORT_SECONDS, compiler="zygote", jail="bwrap")
    install_toolchain(
        tmp_path / "elan",
        project_dir(tmp_path),
        model,
        repl_import_seconds=IMPORT_SECONDS,
        lean_version="v4.32.0",
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        project_dir=project_dir(tmp_path),
        elan_home=tmp_path / "elan",
        sandbox="bwrap",
        checkers=1,
        audit_timeout=60.0,
        **model.service_settings(),
    )
    auditor = Auditor(settings, spawner=select_spawner(settings))
    environment = discover_environments(settings)["default"]
    honest = STATEMENT.replace("by sorry", "rfl") + "-- standin: sleep 0.1\n"
    try:
        run, proved = await auditor.fresh_check(request(environment, honest), timeout=30.0)
        first = zygote_pids(auditor)
        other = "import Mathlib\n\ntheorem t1 (a b : Nat) : a = a := rfl\n"
        _, mismatch = await auditor.fresh_check(request(environment, other), timeout=30.0)
        # the reference and two checks: forks of one zygote, one import
        assert zygote_pids(auditor) == first and len(first) == 1
    finally:
        await auditor.close()
    assert not run.reply.messages and run.run_ms >= 100  # the modelled elaboration, in the child
    assert isinstance(proved, ExportAuditReport), proved
    assert proved.outcome is AuditOutcome.ok and proved.target_axioms == ["propext"]
    assert isinstance(mismatch, ExportAuditReport)
    assert mismatch.outcome is AuditOutcome.type_mismatch
    assert not any((settings.data_dir / "audit").iterdir()), "scratch left behind"
