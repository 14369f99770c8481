from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from proofgate.store.lock import DataDirLock
from tests.support.server import free_port, serve


def test_health_and_readiness_over_real_http() -> None:
    with serve({"PATH": "/usr/bin:/bin"}) as server:
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503
        assert ready.headers["retry-after"]
        reasons = " ".join(ready.json()["reasons"])
        assert "v4.32.0" in reasons and "mathlib" in reasons.lower()


def test_non_loopback_without_keys_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "without API keys" in done.stderr


def _proofgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proofgate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, **(env or {})),
    )


def test_a_second_server_on_the_data_directory_refuses_naming_the_first(tmp_path: Path) -> None:
    data = Path(os.environ["PROOFGATE_DATA_DIR"])
    with serve({"PATH": "/usr/bin:/bin"}) as server:
        assert (data / "proofgate.lock").read_text().strip() == str(server.process.pid)
        second = _proofgate("serve", env={"PROOFGATE_PORT": str(free_port())})
        assert second.returncode == 3, second.stdout + second.stderr
        assert f"pid {server.process.pid}" in second.stderr and "in use" in second.stderr
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 503  # no Lean here

        # the commands that only read or tidy the store work beside it
        created = _proofgate("keys", "create", "beside")
        assert created.returncode == 0, created.stderr
        refused = tmp_path / "Refused.lean"
        refused.write_text("import Mathlib\n\n#eval IO.Process.exit 0\n")
        local = _proofgate("check", str(refused))
        assert local.returncode == 1 and "rejected" in local.stdout, local.stdout + local.stderr
        stats = _proofgate("cache", "stats", "--json")
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["by_status"] == {"rejected": 1}
        purged = _proofgate("cache", "purge")
        assert purged.returncode == 0 and "removed 1 cached verdict" in purged.stderr
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
    # stopped (by SIGTERM, which uvicorn re-raises): the kernel dropped the lock with the process
    with DataDirLock(data) as free:
        assert free.held
