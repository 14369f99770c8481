from __future__ import annotations

import httpx

from tests.support.server import serve


def test_health_and_readiness_over_real_http() -> None:
    with serve({"PATH": "/usr/bin:/bin"}) as server:
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 503
        assert ready.headers["retry-after"]
        reasons = " ".join(ready.json()["reasons"])
        assert "v4.32.0" in reasons and "mathlib" in reasons.lower()


def test_non_loopback_without_keys_is_refused() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "proofgate", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "without API keys" in done.stderr
