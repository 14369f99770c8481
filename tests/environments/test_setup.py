from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from proofgate.config import Settings
from proofgate.environments.setup import run_setup
from proofgate.exceptions import SetupError
from tests.support.server import free_port


def _refusing_url() -> str:
    return f"http://127.0.0.1:{free_port()}/nothing-listens-here"


def test_offline_setup_fails_fast_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    url = _refusing_url()
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        elan_installer_url=url,
        toolchain_release_url=url,
        mathlib_cache_url=url,
        download_timeout=2.0,
    )
    started = time.monotonic()
    with pytest.raises(SetupError) as info:
        run_setup(settings, progress=lambda _line: None)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert url in message and "Nothing was changed" in message and "PROOFGATE_LEAN_HOME" in message
    assert not (tmp_path / "elan").exists()


def test_cli_setup_offline_exits_3(tmp_path: Path) -> None:
    url = _refusing_url()
    env = dict(
        os.environ,
        PATH="/usr/bin:/bin",
        PROOFGATE_ELAN_HOME=str(tmp_path / "elan"),
        PROOFGATE_ELAN_INSTALLER_URL=url,
        PROOFGATE_TOOLCHAIN_RELEASE_URL=url,
        PROOFGATE_MATHLIB_CACHE_URL=url,
        PROOFGATE_DOWNLOAD_TIMEOUT="2",
    )
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "setup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert "cannot reach" in done.stderr and url in done.stderr.replace("\n", "")


def test_plan_builds_the_repl_and_the_checker_until_both_exist(tmp_path: Path) -> None:
    from proofgate.environments.registry import Environment
    from proofgate.environments.setup import plan_setup

    project = tmp_path / "project"
    (project / ".lake" / "build" / "bin").mkdir(parents=True)
    environment = Environment("default", project, "leanprover/lean4:v4.32.0", {"REPL": "abc"})
    settings = Settings(data_dir=tmp_path / "data", elan_home=tmp_path / "elan")

    def build_needed() -> bool:
        return next(
            s for s in plan_setup(settings, environment) if s.name == "build lean targets"
        ).needed

    assert build_needed()
    repl = project / ".lake" / "packages" / "REPL" / ".lake" / "build" / "bin" / "repl"
    repl.parent.mkdir(parents=True)
    repl.write_text("")
    assert build_needed()  # the trusted checker is still missing
    (project / ".lake" / "build" / "bin" / "proofgate-checker").write_text("")
    assert not build_needed()
    settings = Settings(
        data_dir=tmp_path / "data", elan_home=tmp_path / "elan", audit_checker="warm"
    )
    assert build_needed()  # the warm audit's exporter is still missing
    (project / ".lake" / "build" / "bin" / "proofgate-export").write_text("")
    assert not build_needed()
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        audit_checker="warm",
        audit_compiler="elab",
    )
    assert build_needed()  # the one-shot elaborator is missing (the exporter is not asked for)
    (project / ".lake" / "build" / "bin" / "proofgate-elab").write_text("")
    assert not build_needed()


# --- the Mathlib cache mirror ------------------------------------------------------------------

_FAKE_LAKE = """#!/bin/sh
# Records what `setup` gives the cache tool, then leaves what each command would build.
env > "$RECORD.$1"
case "$1" in
  exe) mkdir -p .lake/packages/mathlib/.lake/build/lib/lean
       : > .lake/packages/mathlib/.lake/build/lib/lean/Mathlib.olean ;;
  build) mkdir -p .lake/packages/REPL/.lake/build/bin .lake/build/bin
         : > .lake/packages/REPL/.lake/build/bin/repl
         : > .lake/build/bin/proofgate-checker ;;
esac
"""


@pytest.fixture
def head_server() -> Iterator[str]:
    """A loopback server answering HEAD, standing in for the mirror `setup` checks first."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mirror"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _project_with_fake_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_source: str
) -> tuple[Settings, Path]:
    """A copy of the root project's pins whose Mathlib checkout holds `cache_source`, with a fake
    toolchain (lean at the pinned version, lake recording its environment) first on PATH."""
    from proofgate.config import SOURCE_ROOT

    project = tmp_path / "project"
    project.mkdir()
    for name in ("lean-toolchain", "lake-manifest.json", "lakefile.lean"):
        shutil.copy(SOURCE_ROOT / name, project / name)
    cache = project / ".lake" / "packages" / "mathlib" / "Cache"
    cache.mkdir(parents=True)
    (cache / "Requests.lean").write_text(cache_source, encoding="utf-8")
    bin_dir = tmp_path / "toolchain" / "bin"
    bin_dir.mkdir(parents=True)
    version = (project / "lean-toolchain").read_text().strip().rsplit(":v", 1)[-1]
    (bin_dir / "lean").write_text(f"#!/bin/sh\necho 'Lean (version {version}, fake)'\n")
    (bin_dir / "lake").write_text(_FAKE_LAKE)
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    record = tmp_path / "lake-env"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    monkeypatch.setenv("RECORD", str(record))
    monkeypatch.delenv("MATHLIB_CACHE_BASE_URL", raising=False)
    monkeypatch.delenv("MATHLIB_CACHE_URL", raising=False)
    settings = Settings(
        data_dir=tmp_path / "data",
        elan_home=tmp_path / "elan",
        lean_home=bin_dir.parent,
        project_dir=project,
        download_timeout=5.0,
    )
    return settings, record


def _recorded_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_the_mirror_reaches_the_cache_tool_as_mathlib_cache_base_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head_server: str
) -> None:
    settings, record = _project_with_fake_lake(
        tmp_path, monkeypatch, 'def getBaseURL := IO.getEnv "MATHLIB_CACHE_BASE_URL"\n'
    )
    settings = settings.model_copy(update={"mathlib_cache_url": head_server})
    run_setup(settings, progress=lambda _line: None)
    env = _recorded_env(Path(f"{record}.exe"))
    assert env.get("MATHLIB_CACHE_BASE_URL") == head_server
    assert "MATHLIB_CACHE_URL" not in env  # read by no Mathlib revision


def test_a_mirror_the_checked_out_mathlib_would_ignore_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head_server: str
) -> None:
    """Older Mathlib revisions hard-code their cache location: the mirror would be ignored."""
    settings, record = _project_with_fake_lake(
        tmp_path,
        monkeypatch,
        'def URL : String :=\n  "https://lakecache.blob.core.windows.net/mathlib4"\n',
    )
    settings = settings.model_copy(update={"mathlib_cache_url": head_server})
    with pytest.raises(SetupError) as info:
        run_setup(settings, progress=lambda _line: None)
    assert "MATHLIB_CACHE_BASE_URL" in str(info.value) and "Nothing was changed" in str(info.value)
    assert not Path(f"{record}.exe").exists()


def test_without_a_mirror_the_cache_tool_gets_no_cache_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proofgate.environments import setup

    settings, record = _project_with_fake_lake(tmp_path, monkeypatch, "-- any revision\n")
    checked: list[list[str]] = []
    # Without a mirror the preflight would look at upstream: tests stay on loopback.
    monkeypatch.setattr(setup, "_preflight", lambda urls, _timeout: checked.append(urls))
    run_setup(settings, progress=lambda _line: None)
    assert checked == [["https://github.com/leanprover-community/mathlib4"]]
    env = _recorded_env(Path(f"{record}.exe"))
    assert not {"MATHLIB_CACHE_BASE_URL", "MATHLIB_CACHE_URL"} & set(env)
