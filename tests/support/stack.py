"""The whole checking stack on stand-ins: the simulated REPL behind the real pool, the stand-in
compiler and checker behind the real auditor, the unjailed spawner. Used by service, API, CLI and
CI tests that need verdicts without Lean.

The stand-in checker acts out `scenario.json` (see tests/standins/checker.py): by default a coherent
`ok` for the requested target, reaching only `propext`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proofgate.config import Settings
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from tests.standins.repl import standin_launcher
from tests.support.live_app import run_app

STANDINS = Path(__file__).resolve().parents[1] / "standins"


@dataclass
class Stack:
    settings: Settings
    scenario_file: Path

    def scenario(self, **scenario: Any) -> None:
        """What the stand-in checker answers next (e.g. `axioms=["propext", "sorryAx"]`)."""
        self.scenario_file.write_text(json.dumps(scenario))

    def service(self, *repl_options: str) -> CheckerService:
        return CheckerService(
            self.settings,
            spawner=ProcessGroupSpawner(),
            launcher=standin_launcher(self.settings, *repl_options),
        )


def make_stack(tmp_path: Path, **overrides: Any) -> Stack:
    scenario_file = tmp_path / "scenario.json"
    options: dict[str, Any] = dict(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        workers=2,
        spare_workers=0,
        request_timeout=10.0,
        audit_timeout=10.0,
        compile_command=f"{sys.executable} {STANDINS / 'compiler.py'}",
        checker_command=f"{sys.executable} {STANDINS / 'checker.py'} {scenario_file}",
        export_command=f"{sys.executable} {STANDINS / 'olean_exporter.py'} {scenario_file}",
    )
    options.update(overrides)
    stack = Stack(Settings(**options), scenario_file)
    stack.scenario()
    write_standard_imports(tmp_path)
    return stack


def write_standard_imports(directory: Path) -> None:
    """The warm checker's `simulated-imports.json` beside the scenario: the constants the stand-in
    exporter builds terms from, and the usual axioms."""
    if str(STANDINS) not in sys.path:
        sys.path.insert(0, str(STANDINS))  # the stand-ins import each other as scripts
    import olean_exporter  # type: ignore[import-not-found]

    imports = olean_exporter.standard_imports()
    (directory / "simulated-imports.json").write_text(json.dumps(imports), encoding="utf-8")


@asynccontextmanager
async def running_service(stack: Stack, *repl_options: str) -> AsyncIterator[CheckerService]:
    service = stack.service(*repl_options)
    await service.start()
    try:
        yield service
    finally:
        await service.close()


@contextmanager
def uvicorn_app(app: Any, *, timeout: float = 20.0) -> Iterator[str]:
    """Serve `app` with real uvicorn on a free loopback port in a thread; yield its base URL."""
    with run_app(app, timeout=timeout) as url:
        yield url
