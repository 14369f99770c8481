"""The real `proofgate serve` (uvicorn subprocess, the real CheckerService) on loopback.

This machine has no Lean toolchain: a policy-refused submission still gets its `rejected` verdict,
a submission that needs Lean gets a 503 naming what is missing, and the CLI pointed at that server
exits 1 and 3 for them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import serve

_NO_LEAN = {"PATH": "/usr/bin:/bin"}


def test_a_check_that_needs_lean_is_503_with_the_reason(tmp_path: Path) -> None:
    with serve(_NO_LEAN) as server:
        response = httpx.post(
            server.url + "/v1/check",
            json={"code": "theorem t : 1 + 1 = 2 := by norm_num"},
            headers={"X-Request-ID": "e2e-1"},
            timeout=30,
        )
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["x-request-id"] == "e2e-1"
        body = response.json()
        assert body["error"] in {"lean_unavailable", "not_ready", "sandbox_unavailable"}
        assert "v4.32.0" in body["reason"] or "lean" in body["reason"].lower()

        ready = httpx.get(server.url + "/readyz", timeout=30)
        assert ready.status_code == 503
        assert {"ready", "reasons", "sandbox", "pool"} <= set(ready.json())

        invalid = httpx.post(server.url + "/v1/check", json={"code": 5}, timeout=30)
        assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "code"]

        metrics = httpx.get(server.url + "/metrics", timeout=30).text
        assert re.search(
            r'proofgate_http_requests_total\{method="POST",route="/v1/check",status="503"\} 1\.0',
            metrics,
        )

        code = tmp_path / "Main.lean"
        code.write_text("theorem t : 1 + 1 = 2 := by norm_num\n")
        done = subprocess.run(
            [sys.executable, "-m", "proofgate", "check", str(code), "--server", server.url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 3, done.stdout + done.stderr
        assert "cannot verify" in done.stderr


def test_a_policy_refusal_is_a_verdict_without_lean(tmp_path: Path) -> None:
    refused = "import Mathlib\n\n#eval IO.Process.exit 0\n"
    with serve(_NO_LEAN) as server:
        assert httpx.get(server.url + "/readyz", timeout=30).status_code == 503
        response = httpx.post(server.url + "/v1/check", json={"code": refused}, timeout=30)
        assert response.status_code == 200, response.text
        verdict = response.json()
        assert verdict["status"] == "rejected" and verdict["kind"] == "compile"
        assert verdict["violations"] and verdict["violations"][0]["line"] == 3
        assert verdict["pins"]["lean"] == "v4.32.0"

        locked = httpx.post(
            server.url + "/v1/check",
            json={"statement": "theorem t : True := sorry", "proof": "by\n  #exit"},
            timeout=30,
        )
        assert locked.status_code == 200 and locked.json()["status"] == "rejected"

        code = tmp_path / "Refused.lean"
        code.write_text(refused)
        done = subprocess.run(
            [sys.executable, "-m", "proofgate", "check", str(code), "--server", server.url],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert "rejected" in done.stdout and "policy 3:" in done.stdout
