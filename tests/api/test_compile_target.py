"""A free compile's `target` over HTTP and from `proofgate check --target`, on the stand-in stack:
the target must be a theorem of the code, comes back in the verdict, and a missing one is `failed`
with the category `target_missing` (issue 30, defect 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.stack import Stack

CODE = "import Mathlib\n\nnamespace Foo\ntheorem bar : 1 + 1 = 2 := rfl\nend Foo\n"


def test_the_target_comes_back_and_a_missing_one_fails(url: str) -> None:
    present = httpx.post(url + "/v1/check", json={"code": CODE, "target": "Foo.bar"}, timeout=30)
    assert present.status_code == 200, present.text
    assert (present.json()["status"], present.json()["target"]) == ("compiled", "Foo.bar")
    missing = httpx.post(url + "/v1/check", json={"code": CODE, "target": "nope"}, timeout=30)
    assert missing.status_code == 200, missing.text
    verdict = missing.json()
    assert (verdict["status"], verdict["target"]) == ("failed", "nope")
    assert [m["category"] for m in verdict["messages"]] == ["target_missing"]
    assert "its theorems: Foo.bar" in verdict["reason"]


def test_check_target_from_the_shell(url: str, stack: Stack, tmp_path: Path) -> None:
    main = tmp_path / "Main.lean"
    main.write_text(CODE)
    argv = [sys.executable, "-m", "proofgate", "check", str(main), "--server", url, "--target"]
    missing = subprocess.run([*argv, "nope"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert "target_missing" in missing.stdout and "nope" in missing.stdout
    found = subprocess.run(
        [*argv, "bar", "--json"], capture_output=True, text=True, timeout=60
    )  # the short name, as declared
    assert found.returncode == 0, found.stdout + found.stderr
    assert json.loads(found.stdout)["target"] == "Foo.bar"
