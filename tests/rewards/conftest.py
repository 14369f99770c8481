"""Fixtures for reward mode: the stand-in stack (tests/support/stack.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.stack import Stack, make_stack


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    """The real pool, policy, auditor and store on stand-ins."""
    return make_stack(tmp_path)
