"""`proofgate serve` logs JSON throughout, uvicorn's error and access lines included (issue 30,
defect 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx

from tests.support.server import free_port


def test_serve_writes_only_json_lines() -> None:
    port = free_port()
    env = dict(
        os.environ,
        PATH="/usr/bin:/bin",
        PROOFGATE_HOST="127.0.0.1",
        PROOFGATE_PORT=str(port),
        PROOFGATE_LOG_LEVEL="info",
    )
    env.pop("PROOFGATE_LOG_JSON", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "proofgate", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "no /healthz within 30 s"
                time.sleep(0.1)
        assert httpx.get(url + "/no-such-page").status_code == 404
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert stdout == ""
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # JSON, each
    assert "proofgate_serving" in {record["event"] for record in records}
    assert any(r.get("logger") == "uvicorn.error" and r["level"] == "info" for r in records)
    access = [r for r in records if r.get("logger") == "uvicorn.access"]
    assert {(r["method"], r["path"], r["status"]) for r in access} >= {
        ("GET", "/healthz", 200),
        ("GET", "/no-such-page", 404),
    }
    assert all(r["event"] == "http_request" and r["timestamp"] for r in access)
