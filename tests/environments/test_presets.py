"""The presets under `LeanProjects/` (issue 26, item 1): each is discovered with the Lean version
and REPL tag its files pin, its manifest pins Mathlib and the REPL by commit, the README's table
says what the files say, and a preset without its toolchain is refused by name while `default`
serves. No Lean runs: `default` gets a stand-in toolchain (tests/environments/toolchains.py), the
presets none, as on a machine where only `default` was set up."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from proofgate.api.app import create_app
from proofgate.config import Settings
from proofgate.environments.readiness import environment_status
from proofgate.environments.registry import Environment, discover_environments
from proofgate.environments.toolchain import lean_home_variable
from proofgate.lean.protocol import protocol_for
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from tests.environments.toolchains import fake_environment
from tests.support.live_app import run_app
from tests.support.stack import make_stack

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "LeanProjects"
README = PROJECTS / "README.md"
HEX40 = re.compile(r"[0-9a-f]{40}")

#: The pins read upstream (LeanProjects/README.md says where): Lean, Mathlib commit, REPL tag
#: and the commit it names.
PRESETS = {
    "lean_v4_9_0_rc1_deepseek": (
        "v4.9.0-rc1",
        "2f65ba7f1a9144b20c8e7358513548e317d26de1",
        "v4.9.0-rc1",
        "7df77c0a1c9188ab58c76d4138a06ae5e0c32282",
    ),
    "lean_v4_9_0": (
        "v4.9.0",
        "f0957a7575317490107578ebaee9efaf8e62a4ab",
        "v4.9.0",
        "d920817f334e1d8d27c8ca35e52c736a8c8818b0",
    ),
    "lean_v4_15_0": (
        "v4.15.0",
        "9837ca9d65d9de6fad1ef4381750ca688774e608",
        "v4.15.0",
        "21966799da3691a0912b5a15193585bd2dd7165d",
    ),
    "lean_v4_26_0": (
        "v4.26.0",
        "2df2f0150c275ad53cb3c90f7c98ec15a56a1a67",
        "v4.26.0",
        "a9a6f5bac483d65d08f6226e0ed653f03c479fb7",
    ),
}


def _preset_dirs() -> list[str]:
    return sorted(p.name for p in PROJECTS.iterdir() if (p / "lean-toolchain").exists())


def _environments(tmp_path: Path) -> dict[str, Environment]:
    return discover_environments(
        Settings(project_dir=ROOT, data_dir=tmp_path / "data", elan_home=tmp_path / "elan")
    )


def _manifest(directory: Path) -> dict[str, dict[str, object]]:
    manifest = json.loads((directory / "lake-manifest.json").read_text(encoding="utf-8"))
    assert manifest["name"] == directory.name and manifest["packagesDir"] == ".lake/packages"
    return {str(package["name"]): package for package in manifest["packages"]}


def _requires(directory: Path) -> dict[str, tuple[str, str]]:
    """`require NAME from git "URL" @ "REV"` of a lakefile.lean: NAME -> (URL, REV)."""
    text = (directory / "lakefile.lean").read_text(encoding="utf-8")
    found = re.findall(r'require\s+(\w+)\s+from\s+git\s+"([^"]+)"\s+@\s+"([^"]+)"', text)
    return {name: (url, rev) for name, url, rev in found}


def test_every_preset_is_discovered_with_the_pins_of_its_files(tmp_path: Path) -> None:
    environments = _environments(tmp_path)
    assert _preset_dirs() == sorted(PRESETS)
    assert sorted(environments) == sorted(["default", *PRESETS])
    assert environments["default"].directory == ROOT  # the root project, not a copy
    assert environments["default"].lean_version == "v4.32.0"
    for name, (lean, mathlib, repl_tag, repl_commit) in PRESETS.items():
        env = environments[name]
        toolchain = (PROJECTS / name / "lean-toolchain").read_text(encoding="utf-8").strip()
        assert toolchain == f"leanprover/lean4:{lean}" and env.lean_version == lean
        assert (env.mathlib_commit, env.repl_commit, env.repl_version) == (
            mathlib,
            repl_commit,
            repl_tag,
        )
        # The REPL tag chooses the protocol variant: before v4.10.0 its replies are unflushed.
        assert protocol_for(env.repl_version).flushes is (repl_tag not in ("v4.9.0-rc1", "v4.9.0"))
        assert "Mathlib" in env.module_roots and "REPL" not in env.module_roots
        assert env.lean_options == {}  # Lean's defaults, as the published results ran
        # Usable in settings and as a variable name: `PROOFGATE_LEAN_HOME__<NAME>` unchanged.
        assert re.fullmatch(r"[a-z0-9_]+", name)
        assert lean_home_variable(name) == f"PROOFGATE_LEAN_HOME__{name.upper()}"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_manifest_pins_every_package_by_commit_as_its_lakefile_requires(name: str) -> None:
    directory = PROJECTS / name
    packages = _manifest(directory)
    assert {"mathlib", "REPL", "batteries", "aesop", "Qq", "proofwidgets"} <= set(packages)
    for package in packages.values():
        assert HEX40.fullmatch(str(package["rev"])), package
        assert package["type"] == "git" and str(package["url"]).startswith("https://github.com/")
    requires = _requires(directory)
    assert set(requires) == {"mathlib", "REPL"}  # the rest comes with Mathlib (`inherited`)
    for required, (url, rev) in requires.items():
        entry = packages[required]
        assert (entry["url"], entry["inputRev"], entry["inherited"]) == (url, rev, False)
    assert requires["REPL"] == ("https://github.com/leanprover-community/repl", PRESETS[name][2])
    assert all(p["inherited"] for n, p in packages.items() if n not in requires)
    # The package's name is the directory's, in the lakefile as in the manifest.
    lakefile = (directory / "lakefile.lean").read_text(encoding="utf-8")
    assert f"package «{name}»" in lakefile


def _table() -> dict[str, list[str]]:
    """The README's preset table: first cell's name -> its cells."""
    rows: dict[str, list[str]] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 7:
            rows[cells[0].split("`")[1]] = cells
    return rows


def test_the_readme_table_says_what_the_files_pin(tmp_path: Path) -> None:
    environments = _environments(tmp_path)
    table = _table()
    assert sorted(table) == sorted(environments)
    for name, (_, lean, mathlib, repl, reproduces, sources, status) in table.items():
        env = environments[name]
        assert lean == f"`{env.lean_version}`", name
        prefix = re.match(r"`([0-9a-f]{12,40})`", mathlib)
        assert prefix and (env.mathlib_commit or "").startswith(prefix.group(1)), (name, mathlib)
        pinned = re.match(r"`([^`]+)` \(`([0-9a-f]{12,40})`\)", repl)
        assert pinned, (name, repl)
        tag, commit = pinned.groups()
        assert tag == env.repl_version and (env.repl_commit or "").startswith(commit), name
        assert ("stdbuf" in repl) is (not protocol_for(tag).flushes), name
        assert reproduces and sources
        assert status == "untested against real Lean", name


def _copy_presets(project: Path) -> None:
    for name in PRESETS:
        target = project / "LeanProjects" / name
        target.mkdir(parents=True)
        for file in ("lean-toolchain", "lakefile.lean", "lake-manifest.json"):
            shutil.copy(PROJECTS / name / file, target / file)


def test_presets_without_their_toolchains_are_unready_by_name_and_default_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes = tmp_path / "project", tmp_path / "homes"
    default = fake_environment(project, "default", "v4.32.0", homes=homes)
    _copy_presets(project)
    settings = Settings(
        project_dir=project,
        lean_home=default.home,
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
    )
    environments = discover_environments(settings)
    assert environment_status(settings, environments["default"]).ready
    for name, (lean, *_rest) in PRESETS.items():
        status = environment_status(settings, environments[name])
        assert not status.ready and status.lean == lean and status.lean_found is None
        problems = " | ".join(status.problems)
        assert f"Lean toolchain {lean} not found" in problems
        assert f"proofgate setup --environment {name}" in problems
        assert lean_home_variable(name) in problems


@pytest.mark.timeout(60)
def test_a_request_for_an_unready_preset_is_refused_by_name_while_default_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    project, homes = tmp_path / "project", tmp_path / "homes"
    default = fake_environment(project, "default", "v4.32.0", homes=homes)
    _copy_presets(project)
    stack = make_stack(tmp_path, project_dir=project, lean_home=default.home)
    service = CheckerService(stack.settings, spawner=ProcessGroupSpawner())
    body = {
        "statement": "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n",
        "proof": "Nat.add_comm a b",
    }
    with run_app(create_app(stack.settings, service=service), timeout=30) as url:
        stack.scenario(report={"lean": "v4.32.0"})
        for name in PRESETS:
            refused = httpx.post(url + "/v1/check", json={**body, "environment": name}, timeout=30)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"] == "lean_unavailable"
            assert repr(name) in refused.json()["reason"]
        served = httpx.post(url + "/v1/check", json=body, timeout=30)
        listed = {e["name"]: e for e in httpx.get(url + "/v1/environments", timeout=30).json()}
        readyz = httpx.get(url + "/readyz", timeout=30)
    assert served.status_code == 200 and served.json()["status"] == "proved", served.text
    assert listed["default"]["ready"] is True
    for name, (lean, mathlib, _tag, repl_commit) in PRESETS.items():
        entry = listed[name]
        assert (entry["ready"], entry["lean"], entry["mathlib"], entry["repl"]) == (
            False,
            lean,
            mathlib,
            repl_commit,
        )
    assert readyz.status_code == 200 and readyz.json()["ready"] is True
    assert {name for name, e in readyz.json()["environments"].items() if not e["ready"]} == set(
        PRESETS
    )
