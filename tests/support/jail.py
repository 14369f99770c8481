"""What the jail's tests share: their skip where bubblewrap is missing (never under CI, which
installs it), and the interpreter they run inside the jail."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support.ci_gate import IN_CI

__all__ = ["NEEDS_BWRAP", "PYTHON", "PYTHON_HOME", "MiB"]

#: A test module's `pytestmark`: the `sandbox` marker, and a skip saying how to install bwrap.
NEEDS_BWRAP = [
    pytest.mark.sandbox,
    pytest.mark.skipif(
        shutil.which("bwrap") is None and not IN_CI,
        reason="bubblewrap (bwrap) not installed: apt-get install bubblewrap "
        "(CI installs it and never skips)",
    ),
]

PYTHON = str(Path(sys.executable).resolve())
PYTHON_HOME = Path(sys.base_prefix)  # the interpreter and its stdlib, mounted read-only
MiB = 1 << 20
