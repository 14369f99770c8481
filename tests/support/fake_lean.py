"""A Lean install that is not one: the root project's pins copied, a `lean` that prints the pinned
version, a `lake` that does nothing, and the built pieces readiness looks for (each on request).
For tests of what doctor, `/readyz` and the Lean gate say; it runs nothing."""

from __future__ import annotations

from pathlib import Path

from proofgate.config import SOURCE_ROOT

__all__ = ["copy_pins", "fake_install"]


def copy_pins(tmp_path: Path) -> Path:
    """`tmp_path/project` with the root project's toolchain, manifest and lakefile."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("lean-toolchain", "lake-manifest.json", "lakefile.lean"):
        (project / name).write_bytes((SOURCE_ROOT / name).read_bytes())
    return project


def fake_install(
    tmp_path: Path, *, mathlib: bool = True, repl: bool = True, checker: bool = True
) -> tuple[Path, Path]:
    """(project, the toolchain's bin directory): the pins, a toolchain at the pinned version, and
    Mathlib's root olean, the REPL binary and the trusted checker where asked for."""
    project = copy_pins(tmp_path)
    bin_dir = tmp_path / "toolchain" / "bin"
    bin_dir.mkdir(parents=True)
    version = (project / "lean-toolchain").read_text().strip().rsplit(":v", 1)[-1]
    (bin_dir / "lean").write_text(f"#!/bin/sh\necho 'Lean (version {version}, fake)'\n")
    (bin_dir / "lake").write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    packages = project / ".lake" / "packages"
    built = {
        packages / "mathlib" / ".lake" / "build" / "lib" / "lean" / "Mathlib.olean": mathlib,
        packages / "REPL" / ".lake" / "build" / "bin" / "repl": repl,
        project / ".lake" / "build" / "bin" / "proofgate-checker": checker,
    }
    for path, present in built.items():
        if present:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
    return project, bin_dir
