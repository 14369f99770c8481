"""`proofgate.toml`: the locked results of a repository, which `proofgate ci --lock` writes.

```toml
version = 1
environment = "lean_v4_15_0" # optional: else the one pinning the repository's lean-toolchain
policy = "strict"
allowed_axioms = []          # beyond propext, Classical.choice, Quot.sound

[[locked]]
file = "MyProject/Basic.lean"
theorem = "MyProject.add_comm'"
line = 12
text_sha256 = "..."          # the statement's normalised text (no Lean needed)
context_sha256 = "..."       # what stands before it and can change its meaning
type_sha256 = ""             # the elaborated type, where Lean computed it (optional)
```
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proofgate.exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["MANIFEST_NAME", "LockedResult", "Manifest", "load_manifest", "write_manifest"]

MANIFEST_NAME = "proofgate.toml"
_SHA256 = r"^[0-9a-f]{64}$"
_SHA256_OR_EMPTY = r"^([0-9a-f]{64})?$"

_HEADER = """\
# proofgate CI manifest: every result listed here must keep its statement exactly and stay proved
# with no sorry and only allowed axioms. Written by `proofgate ci --lock`; review changes to this
# file as carefully as changes to the statements themselves.
"""


class LockedResult(BaseModel):
    """One locked theorem: where it is, and the hashes its statement must keep."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(min_length=1, description="Path of the .lean file, relative to the manifest.")
    theorem: str = Field(min_length=1, description="Full name of the theorem.")
    line: int = Field(1, ge=1, description="Line of the theorem when it was locked.")
    text_sha256: str = Field(pattern=_SHA256)
    context_sha256: str = Field("", pattern=_SHA256_OR_EMPTY)
    type_sha256: str = Field("", pattern=_SHA256_OR_EMPTY)


class Manifest(BaseModel):
    """The whole `proofgate.toml`."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    environment: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The environment the files are checked in; None: the one whose toolchain is "
        "the repository's lean-toolchain, else default (`proofgate.ci.environment`).",
    )
    policy: Literal["strict", "permissive"] = "strict"
    allowed_axioms: list[str] = Field(default_factory=list)
    timeout: float | None = Field(None, gt=0, le=3600, description="Seconds per check.")
    locked: list[LockedResult] = Field(default_factory=list)


def load_manifest(path: Path) -> Manifest:
    """Read and validate `path`; every problem names the file and the field."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}; fix it, or rewrite it with `proofgate ci --lock`"
        ) from exc
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "manifest"
            problems.append(f"{where}: {error['msg']}")
        raise ConfigError(
            f"{path} is not a valid proofgate manifest: " + "; ".join(problems)
        ) from exc


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write `manifest` to `path` atomically, results sorted by file and line."""
    ordered = manifest.model_copy(
        update={"locked": sorted(manifest.locked, key=lambda r: (r.file, r.line, r.theorem))}
    )
    body = tomli_w.dumps(ordered.model_dump(mode="json", exclude_none=True))
    try:
        handle, temporary = tempfile.mkstemp(prefix=".proofgate-", suffix=".toml", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(_HEADER + "\n" + body)
        os.replace(temporary, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from exc
