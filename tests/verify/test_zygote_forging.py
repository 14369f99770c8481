"""The forging test of docs/audit-design.md (requirement 1, step 8): an honest proof and a forger
of the same statement checked side by side, their children forked from one jailed zygote. The
forger really tries to take its sibling's export (through `/proc/SIBLING/fd/5`, the write end of
the sibling's export pipe, which opens as its read end) and hand it over as its own; its verdict
must be what its own text earns. The zygote runs in the jail the service gives it (no writable
path, children non-dumpable, each under the child's seccomp filter); the checkers run unjailed
here, as the isolation under test is between children."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
from pathlib import Path

import pyseccomp

from proofgate.environments.registry import Environment
from proofgate.models import Submission, VerdictStatus
from proofgate.sandbox import BwrapSpawner
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.sandbox.process import Launch
from proofgate.service import CheckerService
from proofgate.verify.audit import Auditor
from tests.standins.repl import standin_launcher
from tests.support.jail import NEEDS_BWRAP, PYTHON, PYTHON_HOME
from tests.support.stack import STANDINS, make_stack, write_standard_imports

pytestmark = NEEDS_BWRAP

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
BENCH = Path(__file__).resolve().parents[2] / "src" / "proofgate" / "bench"
SECCOMP_HOME = Path(pyseccomp.__file__).resolve().parent
HONEST = (
    "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
    "-- zygote: sleep 3\n"  # alive, its export pipe open, while the forger looks
)
FORGER = (
    "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
    "-- standin-axioms: sorryAx\n"  # what Lean's export of this text would say
    "-- zygote: steal\n"
)


class JailedZygotes(Auditor):
    """The auditor as deployed for its zygotes (the service's jail), with the stand-in's
    interpreter and files visible in it."""

    def __init__(self, settings: object, *, scenario_dir: Path, **kwargs: object) -> None:
        super().__init__(settings, **kwargs)  # type: ignore[arg-type]
        self._visible = (PYTHON_HOME, SECCOMP_HOME, STANDINS, BENCH, scenario_dir)

    def _zygote_launch(self, environment: Environment) -> Launch:
        spec, limits = (launch := super()._zygote_launch(environment)).spec, launch.limits
        spec = dataclasses.replace(
            spec,
            read_only=(*spec.read_only, *self._visible),
            env={**spec.env, "PYTHONPATH": str(SECCOMP_HOME)},
        )
        return Launch(BwrapSpawner(self.settings), spec, limits)


async def test_a_forger_beside_an_honest_proof_gets_what_its_own_text_earns(
    tmp_path: Path,
) -> None:
    visible = tmp_path / "zygote-scenario"  # the stand-in's files only, not the data directory
    visible.mkdir()
    write_standard_imports(visible)
    scenario = visible / "scenario.json"
    scenario.write_text("{}", encoding="utf-8")
    stack = make_stack(
        tmp_path,
        audit_checker="warm",
        audit_compiler="zygote",
        checkers=1,
        cache_enabled=False,
        audit_check_timeout=5.0,
        zygote_command=f"{PYTHON} -S {STANDINS / 'zygote.py'} --scenario {scenario}",
    )
    settings = stack.settings
    auditor = JailedZygotes(settings, scenario_dir=visible, spawner=ProcessGroupSpawner())
    service = CheckerService(
        settings,
        spawner=ProcessGroupSpawner(),
        launcher=standin_launcher(settings),
        auditor=auditor,
    )
    await service.start()
    try:
        # the reference first: then the honest child is the forger's only sibling
        warm = await service.check(Submission(statement=STATEMENT, code=HONEST, target="t1"))
        assert warm.status is VerdictStatus.proved, warm.reason
        honest_check = asyncio.ensure_future(
            service.check(Submission(statement=STATEMENT, code=HONEST + "\n", target="t1"))
        )
        await asyncio.sleep(0.3)  # the honest child is forked first
        forged = await service.check(Submission(statement=STATEMENT, code=FORGER, target="t1"))
        honest = await honest_check
    finally:
        await service.close()
    assert honest.status is VerdictStatus.proved, honest.reason
    # the attempt was made, and met the jail
    said = [m.text for m in forged.messages if m.text.startswith("steal: errno")]
    assert said == [f"steal: errno {errno.EACCES}"], forged.messages
    assert forged.status is VerdictStatus.incomplete, forged.reason
