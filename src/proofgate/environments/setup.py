"""`proofgate setup`: make this machine able to verify (elan, toolchain, Mathlib cache, REPL, checker).

Idempotent: each step first looks whether its result is already there. Before changing anything it
checks that every download location it still needs answers, so offline it fails within seconds,
names what it could not reach, and leaves nothing half-done.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from proofgate.config import Settings
from proofgate.environments.readiness import CHECKER_PATH, audit_programs, has_checker_target
from proofgate.environments.registry import Environment, discover_environments, get_environment
from proofgate.environments.toolchain import find_lean
from proofgate.exceptions import SetupError

__all__ = [
    "MATHLIB_CACHE_ENV",
    "SetupStep",
    "mathlib_reads_cache_base_url",
    "plan_setup",
    "run_setup",
    "run_setup_all",
]

Progress = Callable[[str], None]

#: The variable current Mathlib's `lake exe cache get` reads its download base from: a host that
#: mirrors Mathlib's whole cache namespace (`{base}/{container}/{key}`). Not `MATHLIB_CACHE_URL`,
#: which no Mathlib revision reads.
MATHLIB_CACHE_ENV = "MATHLIB_CACHE_BASE_URL"

_EXISTING_TOOLCHAIN_HINT = (
    "to use a toolchain you already have, set PROOFGATE_LEAN_HOME to the directory holding "
    "bin/lean and bin/lake (and build Mathlib and the REPL there with `lake exe cache get && lake build`)"
)


@dataclass(frozen=True)
class SetupStep:
    name: str
    needed: bool
    url: str | None  # what it downloads from, checked before anything runs


def _elan_binary(settings: Settings) -> Path | None:
    local = settings.elan_home / "bin" / "elan"
    if local.exists():
        return local
    found = shutil.which("elan")
    return Path(found) if found else None


def mathlib_reads_cache_base_url(directory: Path) -> bool | None:
    """Whether the Mathlib checked out under `directory` reads `MATHLIB_CACHE_BASE_URL`.

    None while Mathlib is not checked out yet (`lake exe cache get` clones it first). Older
    revisions hard-code their download location in `Cache/Requests.lean`, and some read only
    `MATHLIB_CACHE_GET_URL` (one flat endpoint); a mirror set for them would be ignored.
    """
    cache_sources = directory / ".lake" / "packages" / "mathlib" / "Cache"
    if not cache_sources.is_dir():
        return None
    for source in cache_sources.rglob("*.lean"):
        try:
            if MATHLIB_CACHE_ENV in source.read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def _check_mirror_is_read(directory: Path) -> None:
    """Refuse a mirror the checked-out Mathlib would ignore (it would download upstream)."""
    if mathlib_reads_cache_base_url(directory) is False:
        raise SetupError(
            f"PROOFGATE_MATHLIB_CACHE_URL is set, but the Mathlib under {directory / '.lake'} "
            f"does not read {MATHLIB_CACHE_ENV} (older Mathlib revisions hard-code their cache "
            "location): the mirror would be ignored. Nothing was changed. Unset the mirror, or pin "
            "a Mathlib whose Cache/ reads it"
        )


def plan_setup(settings: Settings, environment: Environment) -> list[SetupStep]:
    """What still has to happen, in order."""
    install = find_lean(settings, environment)
    have_lean = install.lean is not None and install.version == install.expected
    built = (environment.directory / CHECKER_PATH).exists() or not has_checker_target(environment)
    built = built and all(
        (environment.directory / program).exists()
        for program in audit_programs(settings, environment)
    )
    return [
        SetupStep(
            "elan", not have_lean and _elan_binary(settings) is None, settings.elan_installer_url
        ),
        SetupStep("toolchain", not have_lean, settings.toolchain_release_url),
        SetupStep(
            "mathlib cache",
            "mathlib" in environment.packages and not install.mathlib_built,
            settings.mathlib_cache_url or "https://github.com/leanprover-community/mathlib4",
        ),
        SetupStep("build lean targets", install.repl_binary is None or not built, None),
    ]


def _preflight(urls: list[str], timeout: float) -> None:
    """Fail before changing anything if a download location does not answer."""
    unreachable = []
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for url in urls:
            try:
                client.head(url)
            except httpx.HTTPError as exc:
                unreachable.append(f"{url} ({type(exc).__name__}: {exc})")
    if unreachable:
        raise SetupError(
            "cannot reach "
            + "; ".join(unreachable)
            + ". Nothing was changed. "
            + _EXISTING_TOOLCHAIN_HINT
        )


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise SetupError(f"{what}: cannot run {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise SetupError(f"{what} failed (exit {done.returncode}): " + " | ".join(tail))


def _install_elan(settings: Settings, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="proofgate-elan-") as scratch:
        script = Path(scratch) / "elan-init.sh"
        try:
            response = httpx.get(settings.elan_installer_url, timeout=settings.download_timeout)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise SetupError(
                f"download of the elan installer failed: {exc}. {_EXISTING_TOOLCHAIN_HINT}"
            ) from exc
        script.write_bytes(response.content)
        _run(
            ["sh", str(script), "-y", "--default-toolchain", "none", "--no-modify-path"],
            cwd=Path(scratch),
            env=env,
            what="elan install",
        )


def run_setup(
    settings: Settings, *, environment: str = "default", progress: Progress = print
) -> None:
    """Bring `environment` to the state `proofgate doctor` calls ready."""
    target = get_environment(settings, environment)
    steps = plan_setup(settings, target)
    pending = [step for step in steps if step.needed]
    if not pending:
        progress("everything is already set up")
        return
    _preflight([step.url for step in pending if step.url], settings.download_timeout)
    env = dict(os.environ, ELAN_HOME=str(settings.elan_home))
    env["PATH"] = f"{settings.elan_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    if settings.mathlib_cache_url:
        _check_mirror_is_read(target.directory)
        env[MATHLIB_CACHE_ENV] = settings.mathlib_cache_url
    for step in pending:
        progress(f"setup: {step.name} ...")
        if step.name == "elan":
            _install_elan(settings, env)
        elif step.name == "toolchain":
            _run(
                ["elan", "toolchain", "install", target.toolchain],
                cwd=target.directory,
                env=env,
                what="toolchain install",
            )
        elif step.name == "mathlib cache":
            _run(
                ["lake", "exe", "cache", "get"], cwd=target.directory, env=env, what="Mathlib cache"
            )
        elif step.name == "build lean targets":
            # The REPL and proofgate's trusted checker (each project's `lean_exe`: the root's, or
            # a preset's built from the shared sources and its Lean's API era module), and the
            # warm audit's exporter or the one-shot elaborator when the settings ask for it and
            # the project has one (the root only).
            # A project declaring no checker gets its REPL built all the same. Untested against
            # real Lean.
            targets = ["repl"]
            if has_checker_target(target):
                targets.append("proofgate-checker")
            targets += [program.name for program in audit_programs(settings, target)]
            _run(
                ["lake", "build", *targets],
                cwd=target.directory,
                env=env,
                what="REPL and checker build",
            )
        progress(f"setup: {step.name} done")
    remaining = find_lean(settings, target).problems
    if remaining:
        raise SetupError("setup finished its steps but problems remain: " + "; ".join(remaining))


def run_setup_all(settings: Settings, *, progress: Progress = print) -> None:
    """`run_setup` for every environment, `default` first. One that fails does not stop the
    others (each environment has its own toolchain); `SetupError` at the end names each failure."""
    failures = []
    for name in discover_environments(settings):
        progress(f"setup: environment {name}")
        try:
            run_setup(settings, environment=name, progress=progress)
        except SetupError as exc:
            progress(f"setup: environment {name} failed")
            failures.append(f"{name}: {exc}")
    if failures:
        raise SetupError(
            f"{len(failures)} environment(s) not set up (the others are): " + " || ".join(failures)
        )
