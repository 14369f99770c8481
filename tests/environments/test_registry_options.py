"""An environment's option set (issue 20, defect 6): read from its directory, passed to Lean in
the forms it takes, and part of the pins and of the cache key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proofgate.environments.registry import MATHLIB_OPTIONS, OPTIONS_FILE, load_environment
from proofgate.exceptions import ConfigError
from proofgate.models import Submission
from proofgate.store.results import cache_key
from proofgate.verify.verdict import pins_for

COMPILER = Path(__file__).resolve().parents[1] / "standins" / "compiler.py"


def _project(tmp_path: Path, name: str, options: Any = None) -> Path:
    project = tmp_path / name
    project.mkdir()
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    if options is not None:
        (project / OPTIONS_FILE).write_text(json.dumps(options))
    return project


def test_without_the_file_lean_keeps_its_defaults(tmp_path: Path) -> None:
    environment = load_environment("default", _project(tmp_path, "p"))
    assert environment.lean_options == {}
    assert environment.option_args() == [] and environment.option_commands() == ""


def test_mathlibs_options_in_each_form_lean_takes(tmp_path: Path) -> None:
    environment = load_environment("m", _project(tmp_path, "p", MATHLIB_OPTIONS))
    assert environment.option_args() == ["-DautoImplicit=false", "-DrelaxedAutoImplicit=false"]
    assert environment.option_commands() == (
        "set_option autoImplicit false\nset_option relaxedAutoImplicit false"
    )


@pytest.mark.parametrize(
    "options",
    [["autoImplicit"], {"debug.skipKernelTC": True}, {"weak.x": True}, {"a b": 1}, {"n": -1}],
)
def test_a_malformed_option_set_is_a_config_error(tmp_path: Path, options: Any) -> None:
    with pytest.raises(ConfigError):
        load_environment("m", _project(tmp_path, "p", options))


def test_two_option_sets_never_share_pins_or_cache_entries(tmp_path: Path) -> None:
    plain = load_environment("default", _project(tmp_path, "a"))
    mathlib = load_environment("default", _project(tmp_path, "b", MATHLIB_OPTIONS))
    assert pins_for(plain).lean_options == {}
    assert pins_for(mathlib).lean_options == MATHLIB_OPTIONS
    submission = Submission(code="theorem t : True := trivial")
    keys = {
        cache_key(submission, pins_for(e), allowed_axioms=["propext"], checker_version="1")
        for e in (plain, mathlib)
    }
    assert len(keys) == 2


def _compile(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "M.lean"
    source.write_text("theorem t : True := trivial\n")
    return subprocess.run(
        [
            sys.executable,
            str(COMPILER),
            "--json",
            *args,
            "-R",
            str(tmp_path),
            "-o",
            "M.olean",
            str(source),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["-DautoImplicit"], "invalid -D parameter, argument must contain '='"),
        (
            ["-DautoImplicit=no"],
            "invalid -D parameter, invalid configuration option 'no' value, it must be true/false",
        ),
        (["-j", "two"], "error: expected numeric argument for option '-j'"),
    ],
)
def test_the_standin_compiler_refuses_what_leans_shell_refuses(
    tmp_path: Path, args: list[str], stderr: str
) -> None:
    run = _compile(tmp_path, *args)
    assert run.returncode == 1 and run.stderr.strip() == stderr
    assert not (tmp_path / "M.olean").exists()


def test_the_standin_compiler_refuses_an_unknown_option_after_the_imports(tmp_path: Path) -> None:
    run = _compile(tmp_path, "-D", "autoImplict=false")
    assert run.returncode == 1
    message = json.loads(run.stdout)
    assert message["data"] == "invalid -D parameter, unknown configuration option 'autoImplict'"
    assert _compile(tmp_path, "-Dweak.autoImplict=false").returncode == 0  # `weak.` is dropped
