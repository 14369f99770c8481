"""The committed fixture repository (run for real by the real-Lean workflow) stays locked as is."""

from __future__ import annotations

import shutil
from pathlib import Path

from proofgate.ci.manifest import MANIFEST_NAME
from proofgate.ci.runner import lock_repository

FIXTURE = Path(__file__).parent / "fixture-repo"


def test_committed_manifest_is_what_lock_writes(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(FIXTURE, copy)
    lock_repository(copy)
    assert (copy / MANIFEST_NAME).read_text() == (FIXTURE / MANIFEST_NAME).read_text()
    assert (FIXTURE / "lean-toolchain").read_text() == (
        FIXTURE.parents[2] / "lean-toolchain"
    ).read_text()
