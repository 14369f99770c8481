"""pytest in a subprocess, for the tests of the suite's own plugins and reports.

Installed plugins are not loaded (`PYTEST_DISABLE_PLUGIN_AUTOLOAD`): the samples need none of them,
and loading them all made each run take seconds; a run names what it needs with `-p`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["run_pytest"]


def run_pytest(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`python -m pytest -q -p no:cacheprovider -c /dev/null --rootdir CWD ARGS...` in `cwd`."""
    environment = dict(os.environ if env is None else env)
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(cwd),
            *args,
        ],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
