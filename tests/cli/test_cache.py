"""`proofgate cache stats` and `purge` on the SQLite file under PROOFGATE_DATA_DIR."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from proofgate.cli import app
from proofgate.config import Settings
from proofgate.models import Verdict, VerdictStatus
from proofgate.store.results import ResultCache

runner = CliRunner()


async def _fill(path: Path, count: int) -> None:
    async with ResultCache(path) as cache:
        for index in range(count):
            status = VerdictStatus.proved if index % 2 else VerdictStatus.failed
            await cache.put(f"k{index}", Verdict(status=status, kind="check"))


def test_stats_then_purge(tmp_path: Path) -> None:
    path = Settings().cache_path  # PROOFGATE_DATA_DIR points into tmp_path (tests/conftest.py)
    assert str(path).startswith(str(tmp_path))
    asyncio.run(_fill(path, 3))
    stats = runner.invoke(app, ["cache", "stats", "--json"])
    assert stats.exit_code == 0, stats.output
    report = json.loads(stats.stdout)
    assert report["entries"] == 3 and report["by_status"] == {"failed": 2, "proved": 1}
    assert report["path"] == str(path) and report["enabled"] is True
    purged = runner.invoke(app, ["cache", "purge"])
    assert purged.exit_code == 0
    assert "removed 3 cached verdicts" in purged.output
    assert json.loads(runner.invoke(app, ["cache", "stats", "--json"]).stdout)["entries"] == 0


def test_stats_of_a_missing_cache_creates_nothing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cache", "stats"])
    assert result.exit_code == 0
    assert "verdicts" in result.output
    assert not Settings().cache_path.exists()


def test_a_corrupt_cache_is_reported_as_infrastructure(tmp_path: Path) -> None:
    path = Settings().cache_path
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 1000)
    result = runner.invoke(app, ["cache", "purge"])
    assert result.exit_code == 3
    assert "cannot open the store" in result.output
