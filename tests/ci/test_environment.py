"""The environment a CI run checks in (issue 26, item 5): `--environment` over the manifest's, else
the environment pinning the repository's own `lean-toolchain`, else `default`; the report says
which and why, and a name the checker does not serve is a usage error before any check."""

from __future__ import annotations

import pytest

from proofgate.ci.manifest import MANIFEST_NAME
from proofgate.ci.report import to_json
from proofgate.ci.results import CiReport
from proofgate.ci.runner import run_ci
from proofgate.exceptions import ConfigError
from tests.ci.conftest import Repo
from tests.ci.fake_checker import served


@pytest.fixture
def presets(repo: Repo) -> Repo:
    repo.checker.served.append(served("lean_v4_26_0", "v4.26.0"))
    return repo


async def _run(repo: Repo, environment: str | None = None) -> CiReport:
    return await run_ci(
        repo.root, repo.open_checker(), build=False, base=repo.root, environment=environment
    )


def _name_in_manifest(repo: Repo, name: str) -> None:
    path = repo.root / MANIFEST_NAME
    path.write_text(path.read_text().replace("version = 1", f'version = 1\nenvironment = "{name}"'))


def _checked_in(repo: Repo) -> set[str]:
    return {submission.environment for submission in repo.checker.seen}


async def test_the_option_overrides_the_manifest(presets: Repo) -> None:
    _name_in_manifest(presets, "lean_v4_15_0")
    presets.write("lean-toolchain", "leanprover/lean4:v4.32.0\n")
    report = await _run(presets, "lean_v4_26_0")
    assert report.exit_code == 0 and _checked_in(presets) == {"lean_v4_26_0"}
    assert report.environment == "lean_v4_26_0"
    assert "environment lean_v4_26_0: given with --environment" in report.notes
    assert to_json(report)["environment"] == "lean_v4_26_0"


async def test_the_manifest_overrides_the_toolchain(presets: Repo) -> None:
    _name_in_manifest(presets, "lean_v4_15_0")
    presets.write("lean-toolchain", "leanprover/lean4:v4.26.0\n")
    report = await _run(presets)
    assert _checked_in(presets) == {"lean_v4_15_0"}
    assert f"environment lean_v4_15_0: named by {MANIFEST_NAME}" in report.notes


@pytest.mark.parametrize(
    ("toolchain", "chosen", "said"),
    [
        ("leanprover/lean4:v4.15.0", "lean_v4_15_0", "its toolchain is the repository's"),
        ("leanprover/lean4:v4.32.0", "default", "its toolchain is the repository's"),
        ("leanprover/lean4:v4.99.0", "default", "no environment pins the repository's"),
        (None, "default", "the repository has no lean-toolchain"),
    ],
)
async def test_without_a_name_the_repositorys_toolchain_chooses(
    presets: Repo, toolchain: str | None, chosen: str, said: str
) -> None:
    if toolchain is not None:
        presets.write("lean-toolchain", toolchain + "\n")
    report = await _run(presets)
    assert report.exit_code == 0 and _checked_in(presets) == {chosen}
    assert report.environment == chosen
    [note] = [n for n in report.notes if n.startswith(f"environment {chosen}: ")]
    assert said in note


async def test_the_toolchain_is_read_from_the_project_holding_a_subdirectory(
    presets: Repo,
) -> None:
    presets.write("lean-toolchain", "leanprover/lean4:v4.15.0\n")
    report = await run_ci(presets.root / "Demo", presets.open_checker(), build=False)
    assert report.environment == "lean_v4_15_0" and _checked_in(presets) == {"lean_v4_15_0"}


@pytest.mark.parametrize("where", ["option", "manifest"])
async def test_an_environment_not_served_is_a_usage_error_before_any_check(
    presets: Repo, where: str
) -> None:
    if where == "manifest":
        _name_in_manifest(presets, "lean_v3")
    with pytest.raises(ConfigError, match=r"'lean_v3'.*known: default, lean_v4_15_0, lean_v4_26_0"):
        await _run(presets, "lean_v3" if where == "option" else None)
    assert presets.checker.seen == []
