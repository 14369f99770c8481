"""The jail every Lean process runs in (bubblewrap), and how to detect it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from proofgate.config import Settings

__all__ = ["SandboxStatus", "detect_sandbox"]


@dataclass(frozen=True)
class SandboxStatus:
    kind: str  # "bwrap" or "none"
    ok: bool
    detail: str


def _bwrap_works(bwrap: str) -> str | None:
    """None when bwrap can make a user+net+pid namespace here; else why not."""
    argv = [bwrap, "--unshare-all", "--unshare-user", "--cap-drop", "ALL", "--die-with-parent",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"]
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    return None if run.returncode == 0 else (run.stderr.strip() or f"exit {run.returncode}")


def detect_sandbox(settings: Settings) -> SandboxStatus:
    """Which sandbox will wrap Lean processes, and whether it works on this machine."""
    if settings.sandbox == "none":
        return SandboxStatus("none", True, "DISABLED by PROOFGATE_SANDBOX=none: local development only")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(
            "bwrap", False, "bubblewrap not found: apt-get install bubblewrap (or PROOFGATE_SANDBOX=none for local development)"
        )
    problem = _bwrap_works(bwrap)
    if problem:
        return SandboxStatus(
            "bwrap", False,
            f"bwrap cannot create namespaces: {problem} (in Docker run with --security-opt seccomp=unconfined "
            "--security-opt apparmor=unconfined; on Ubuntu 24.04 set kernel.apparmor_restrict_unprivileged_userns=0)",
        )
    return SandboxStatus("bwrap", True, f"bubblewrap at {bwrap}")
