"""The image's Lake project stays usable by `lake env`, and its cache mirror is the variable
Mathlib reads (issue 20, defect 9)."""

from __future__ import annotations

import re

from proofgate.config import SOURCE_ROOT

DOCKERFILE = (SOURCE_ROOT / "Dockerfile").read_text(encoding="utf-8")
INSTRUCTIONS = [
    line for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines() if not line.startswith("#")
]


def test_the_packages_keep_their_git_directories() -> None:
    """Lake runs `git rev-parse HEAD` in each git package on every workspace load; without .git it
    deletes the package and clones it again."""
    for line in INSTRUCTIONS:
        assert not re.search(r"rm\s+-\w*\s+\S*packages\S*\.git", line), line
    final_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    assert re.search(r"apt-get install[^\n]*\bgit\b", final_stage), "Lake needs git at run time"


def test_the_cache_mirror_is_mathlib_cache_base_url() -> None:
    declared = {
        match.group(1)
        for line in INSTRUCTIONS
        for match in [re.match(r"\s*(?:ARG|ENV)\s+(\w+)", line)]
        if match
    }
    assert "MATHLIB_CACHE_BASE_URL" in declared
    assert "MATHLIB_CACHE_URL" not in declared
    (argument,) = [line for line in INSTRUCTIONS if line.startswith("ARG MATHLIB_CACHE_BASE_URL")]
    assert argument.endswith('=""')  # empty means unset to Mathlib's cache tool
