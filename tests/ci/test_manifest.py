"""`proofgate.toml`: written sorted and atomically, read with errors that name the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proofgate.ci.manifest import LockedResult, Manifest, load_manifest, write_manifest
from proofgate.exceptions import ConfigError

HASH = "a" * 64


def test_round_trip_sorted(tmp_path: Path) -> None:
    manifest = Manifest(
        environment="mathlib-old",
        allowed_axioms=["Classical.choice"],
        timeout=120.0,
        locked=[
            LockedResult(file="B.lean", theorem="b", line=3, text_sha256=HASH),
            LockedResult(
                file="A.lean", theorem="a2", line=9, text_sha256=HASH, context_sha256="b" * 64
            ),
            LockedResult(file="A.lean", theorem="a1", line=2, text_sha256=HASH),
        ],
    )
    path = tmp_path / "proofgate.toml"
    write_manifest(path, manifest)
    text = path.read_text()
    assert text.startswith("# proofgate CI manifest")
    loaded = load_manifest(path)
    assert [r.theorem for r in loaded.locked] == ["a1", "a2", "b"]
    assert loaded.environment == "mathlib-old" and loaded.timeout == 120.0
    assert [p.name for p in tmp_path.iterdir()] == ["proofgate.toml"]  # no temporary left behind


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("version = 2\n", "version"),
        (
            "[[locked]]\nfile = 'A.lean'\ntheorem = 'a'\ntext_sha256 = 'nothex'\n",
            "locked.0.text_sha256",
        ),
        ("[[locked]]\nfile = 'A.lean'\ntext_sha256 = '" + HASH + "'\n", "locked.0.theorem"),
        ("surprise = 1\n", "surprise"),
        ("version = [\n", "not valid TOML"),
    ],
)
def test_bad_manifests_name_the_problem(tmp_path: Path, body: str, fragment: str) -> None:
    path = tmp_path / "proofgate.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=re.escape("proofgate.toml")) as caught:
        load_manifest(path)
    assert fragment in str(caught.value)
