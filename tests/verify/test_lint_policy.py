"""The one policy a lint checks against (`proofgate lint` and the MCP server's `lint`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.environments.registry import get_environment
from proofgate.exceptions import ConfigError
from proofgate.verify.lint_policy import lint_policy
from proofgate.verify.policy import DEFAULT_IMPORT_ROOTS


def _settings(tmp_path: Path, project: Path, **overrides: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", project_dir=project, elan_home=tmp_path / "elan", **overrides
    )


@pytest.fixture
def two_environments(tmp_path: Path) -> Settings:
    """`default` pinning Mathlib, and `old`, a Lean-only project."""
    project = tmp_path / "project"
    old = project / "LeanProjects" / "old"
    old.mkdir(parents=True)
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    (project / "lake-manifest.json").write_text('{"packages": [{"name": "mathlib", "rev": "r"}]}')
    (old / "lean-toolchain").write_text("leanprover/lean4:v4.20.0\n")
    return _settings(tmp_path, project)


def test_an_unknown_environment_is_an_error_naming_the_known_ones(
    two_environments: Settings,
) -> None:
    with pytest.raises(ConfigError, match=r"unknown environment 'nowhere'; known: default, old"):
        lint_policy(two_environments, "nowhere")


def test_a_known_environment_lends_its_own_import_roots(two_environments: Settings) -> None:
    policy = lint_policy(two_environments, "old")
    old = get_environment(two_environments, "old")
    assert policy.note is None
    assert policy.config.import_roots == frozenset(old.module_roots)
    assert "Mathlib" not in policy.config.import_roots  # not the fallback's roots


def test_default_without_a_readable_project_falls_back_on_mathlib_roots_saying_so(
    tmp_path: Path,
) -> None:
    """A lint needs no Lean: `default` whose pins cannot be read still lints, with a note; any
    other name still fails (nothing to check it against)."""
    settings = _settings(tmp_path, tmp_path / "no-project")
    policy = lint_policy(settings, "default")
    assert policy.config.import_roots == DEFAULT_IMPORT_ROOTS
    assert policy.note is not None and "standard Mathlib roots" in policy.note
    with pytest.raises(ConfigError, match="cannot read"):
        lint_policy(settings, "old")


def test_the_profile_asked_for_is_run_looser_or_not_else_the_settings(
    two_environments: Settings,
) -> None:
    strict = two_environments.model_copy(update={"policy": "strict"})
    assert lint_policy(strict, "default").config.profile == "strict"
    assert lint_policy(strict, "default", profile="permissive").config.profile == "permissive"
