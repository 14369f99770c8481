"""The trusted checker on every preset (issue 26, item 3): each preset's Lake project declares
`proofgate-checker`, built from the shared sources with the API era module its toolchain needs;
every era module defines the same names; readiness and setup treat a preset's checker as the
root's (built by setup, "not built" until then), and say "no trusted checker" only for a project
that declares none, or name the era when a lakefile builds the wrong one. No Lean runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.environments.readiness import (
    CHECKER_PATH,
    checker_era,
    environment_status,
    has_checker_target,
    has_exporter_target,
    lakefile_checker_era,
)
from proofgate.environments.registry import discover_environments
from proofgate.environments.setup import plan_setup
from proofgate.environments.toolchain import lean_home_variable
from tests.environments.toolchains import fake_environment, fake_toolchain

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ("lean_v4_9_0_rc1_deepseek", "lean_v4_9_0", "lean_v4_15_0", "lean_v4_26_0")
ERAS = ROOT / "Proofgate" / "Eras"
DEFINED = re.compile(r"^(?:@\[inline\] )?(?:def|abbrev) ([A-Za-z?]+)", re.MULTILINE)


@pytest.mark.parametrize(
    ("lean", "era"),
    [
        ("v4.9.0-rc1", "v4_9"),
        ("v4.9.0", "v4_9"),
        ("v4.15.0", "v4_15"),
        ("v4.19.0", "v4_19"),
        ("v4.26.0", "v4_19"),
        ("v4.29.0-rc1", "v4_19"),
        ("v4.30.0", "v4_30"),
        ("v4.32.0", "v4_30"),
        ("v4.12.0", None),  # no era module's sources were read for it
        ("nightly", None),
    ],
)
def test_the_era_follows_the_lean_version(lean: str, era: str | None) -> None:
    assert checker_era(lean) == era


def test_every_project_builds_the_checker_with_its_toolchains_era() -> None:
    settings = Settings(project_dir=ROOT)
    environments = discover_environments(settings)
    assert set(PRESETS) <= set(environments)
    for name in ("default", *PRESETS):
        environment = environments[name]
        assert has_checker_target(environment), name
        era = lakefile_checker_era(environment)
        assert era is not None and era == checker_era(environment.lean_version), name
        assert (ERAS / era / "Proofgate" / "Compat.lean").is_file(), era
    # the warm audit's exporter is the root's alone
    assert has_exporter_target(environments["default"])
    assert not any(has_exporter_target(environments[name]) for name in PRESETS)


def test_every_era_module_defines_the_same_names() -> None:
    defined = {
        era.name: set(DEFINED.findall((era / "Proofgate" / "Compat.lean").read_text("utf-8")))
        for era in ERAS.iterdir()
    }
    assert set(defined) == {"v4_9", "v4_15", "v4_19", "v4_30"}
    shared = defined["v4_30"]
    assert {"replayInto", "findConst", "importBase", "readModule", "mapGet?"} <= shared
    for era, names in defined.items():
        # v4_19 has its own replay's helpers besides
        assert shared <= names, (era, shared - names)


def _preset_with_toolchain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lakefile: str | None = None
) -> tuple[Settings, str]:
    """`lean_v4_15_0` with its Lean, Mathlib and REPL present and its real lakefile (or
    `lakefile`), its checker not built."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes, name = tmp_path / "project", tmp_path / "homes", "lean_v4_15_0"
    fake_environment(project, "default", "v4.32.0", homes=homes)
    target = project / "LeanProjects" / name
    target.mkdir(parents=True)
    for file in ("lean-toolchain", "lakefile.lean", "lake-manifest.json"):
        shutil.copy(ROOT / "LeanProjects" / name / file, target / file)
    if lakefile is not None:
        (target / "lakefile.lean").write_text(lakefile)
    monkeypatch.setenv(lean_home_variable(name), str(fake_toolchain(homes / name, "v4.15.0")))
    packages = target / ".lake" / "packages"
    for built in (
        packages / "mathlib" / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean",
        packages / "REPL" / ".lake" / "build" / "bin" / "repl",
    ):
        built.parent.mkdir(parents=True)
        built.write_text("")
    settings = Settings(project_dir=project, data_dir=tmp_path / "data", elan_home=tmp_path / "e")
    return settings, name


def test_a_presets_checker_is_built_by_setup_and_then_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, name = _preset_with_toolchain(tmp_path, monkeypatch)
    preset = discover_environments(settings)[name]
    status = environment_status(settings, preset)
    assert status.lean_found == "v4.15.0" and not status.ready
    (problem,) = status.problems
    assert "trusted checker not built" in problem and "proofgate setup" in problem
    step = next(s for s in plan_setup(settings, preset) if s.name == "build lean targets")
    assert step.needed  # setup builds it (`lake build repl proofgate-checker`)
    checker = preset.directory / CHECKER_PATH
    checker.parent.mkdir(parents=True)
    checker.write_text("")
    assert environment_status(settings, preset).ready
    step = next(s for s in plan_setup(settings, preset) if s.name == "build lean targets")
    assert not step.needed


def test_the_warm_audit_on_a_preset_says_setup_cannot_build_an_exporter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, name = _preset_with_toolchain(tmp_path, monkeypatch)
    settings.audit_checker = "warm"
    preset = discover_environments(settings)[name]
    checker = preset.directory / CHECKER_PATH
    checker.parent.mkdir(parents=True)
    checker.write_text("")
    (problem,) = environment_status(settings, preset).problems
    assert "no exporter for Lean v4.15.0" in problem and "setup cannot fix" in problem
    step = next(s for s in plan_setup(settings, preset) if s.name == "build lean targets")
    assert not step.needed  # nothing setup could build is missing


def test_a_project_without_the_checker_target_has_no_trusted_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = "import Lake\nopen Lake DSL\n\npackage bare\n"
    settings, name = _preset_with_toolchain(tmp_path, monkeypatch, lakefile=bare)
    preset = discover_environments(settings)[name]
    assert not has_checker_target(preset)
    (problem,) = environment_status(settings, preset).problems
    assert "no trusted checker for Lean v4.15.0 yet" in problem and "setup cannot fix" in problem
    step = next(s for s in plan_setup(settings, preset) if s.name == "build lean targets")
    assert not step.needed  # its REPL is built; no checker can be


def test_a_lakefile_building_another_eras_checker_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = (ROOT / "LeanProjects" / "lean_v4_26_0" / "lakefile.lean").read_text("utf-8")
    settings, name = _preset_with_toolchain(tmp_path, monkeypatch, lakefile=wrong)
    preset = discover_environments(settings)[name]
    (problem,) = environment_status(settings, preset).problems
    assert "API era module v4_19" in problem and "Lean v4.15.0 needs v4_15" in problem
