"""Fixture repositories for CI mode, built in tmp_path: small .lean files plus `proofgate.toml`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from proofgate.ci.checkers import Checker
from proofgate.ci.results import CiReport
from proofgate.ci.runner import lock_repository, run_ci
from tests.ci.fake_checker import FakeChecker

BASIC = """\
/-! Demo results. -/
namespace Demo

/-- Adding zero on the right. -/
theorem add_zero_right (n : Nat) : n + 0 = n := by
  simp

theorem two_eq : 2 = 2 := rfl

theorem small : 3 < 5 := by
  decide

end Demo
"""

EXTRA = """\
theorem extra_true : True := trivial
"""

#: How each failing scenario changes the clean repository, and where its failure must point.
SCENARIOS: dict[str, dict[str, object]] = {
    "changed_statement": {
        "edit": ("Demo/Basic.lean", "n + 0 = n", "0 + n = n"),
        "status": "statement_changed",
        "file": "Demo/Basic.lean",
        "line": 5,
        "column": 0,
        "theorem": "Demo.add_zero_right",
    },
    "sorry": {
        "edit": ("Demo/Basic.lean", "  simp", "  sorry"),
        "status": "incomplete",
        "file": "Demo/Basic.lean",
        "line": 6,
        "column": 2,
        "theorem": "Demo.add_zero_right",
    },
    "forbidden_axiom": {
        "edit": ("Demo/Basic.lean", "  decide", "  native_decide"),
        "status": "axiom_violation",
        "file": "Demo/Basic.lean",
        "line": 10,
        "column": 0,
        "theorem": "Demo.small",
    },
    "deleted_target": {
        "edit": ("Demo/Basic.lean", "theorem two_eq : 2 = 2 := rfl\n\n", ""),
        "status": "target_missing",
        "file": "Demo/Basic.lean",
        "line": 8,
        "column": 0,
        "theorem": "Demo.two_eq",
    },
    "deleted_file": {
        "delete": "Demo/Extra.lean",
        "status": "target_missing",
        "file": "Demo/Extra.lean",
        "line": 1,
        "column": 0,
        "theorem": "extra_true",
    },
}


@dataclass
class Repo:
    """A fixture repository and a fake checker to run `proofgate ci` on it."""

    root: Path
    checker: FakeChecker = field(default_factory=FakeChecker)

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def apply(self, scenario: str) -> dict[str, object]:
        spec = SCENARIOS[scenario]
        if "edit" in spec:
            self.edit(*spec["edit"])  # type: ignore[misc]
        else:
            (self.root / str(spec["delete"])).unlink()
        return spec

    def lock(self) -> None:
        lock_repository(self.root)

    def open_checker(self):  # noqa: ANN201 - a factory of async context managers
        @asynccontextmanager
        async def opened() -> AsyncIterator[Checker]:
            yield self.checker

        return opened

    async def run(self) -> CiReport:
        return await run_ci(self.root, self.open_checker(), build=False, base=self.root)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A clean repository with every theorem locked."""
    made = Repo(root=tmp_path / "repo")
    made.write("Demo/Basic.lean", BASIC)
    made.write("Demo/Extra.lean", EXTRA)
    made.write(".lake/packages/dep/Dep.lean", "theorem not_mine : True := sorry\n")
    made.lock()
    return made
