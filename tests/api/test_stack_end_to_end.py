"""The HTTP API, client and CLI over the wired `CheckerService`, on the stand-in stack.

Real uvicorn on loopback; behind it the real pool driving the simulated REPL, the real auditor
driving the stand-in checker, and the real SQLite cache (tests/support/stack.py).
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

import proofgate
from proofgate.models import VerdictStatus
from tests.api.conftest import serve_stack
from tests.support.stack import Stack, make_stack

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
HONEST = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b\n"
BROKEN = HONEST.replace(
    "Nat.add_comm a b", "by\n  -- standin: error unknown identifier 'foo'\n  exact foo"
)


def _sample(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_check_then_cache_hit_after_a_restart(stack: Stack) -> None:
    body = {"statement": STATEMENT, "code": HONEST}
    with serve_stack(stack) as url:
        first = httpx.post(url + "/v1/check", json=body, timeout=30)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "proved" and first.json()["cached"] is False
    assert stack.settings.cache_path.exists()
    with serve_stack(stack) as url:  # a new service and a new connection to the same file
        again = httpx.post(url + "/v1/check", json=body, timeout=30)
        assert again.json()["status"] == "proved" and again.json()["cached"] is True
        metrics = httpx.get(url + "/metrics", timeout=30).text
    assert _sample(metrics, "proofgate_cache_hits_total") == 1
    assert _sample(metrics, "proofgate_verdicts_total", 'status="proved"') == 1


def test_disabled_cache_recomputes_after_a_restart(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, cache_enabled=False)
    body = {"statement": STATEMENT, "proof": "Nat.add_comm a b"}
    for _ in range(2):
        with serve_stack(stack) as url:
            verdict = httpx.post(url + "/v1/check", json=body, timeout=30).json()
            assert verdict["status"] == "proved" and verdict["cached"] is False
    # the file may exist (batch jobs live in it too), but no verdict was stored
    if stack.settings.cache_path.exists():
        raw = sqlite3.connect(stack.settings.cache_path)
        try:
            assert raw.execute("SELECT COUNT(*) FROM results").fetchone() == (0,)
        finally:
            raw.close()


def test_readiness_and_pool_metrics_from_the_real_pool(stack: Stack) -> None:
    with serve_stack(stack) as url:
        ready = httpx.get(url + "/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        pool = ready.json()["pool"]
        assert {"busy", "idle"} <= set(pool)  # the service's summary
        assert "busy_workers" in pool and "restarts" in pool  # live PoolStats
        httpx.post(url + "/v1/check", json={"statement": STATEMENT, "code": BROKEN}, timeout=30)
        metrics = httpx.get(url + "/metrics", timeout=30).text
    assert _sample(metrics, "proofgate_pool_workers", 'state="busy"') is not None
    assert _sample(metrics, "proofgate_pool_requests_total") == 1
    assert _sample(metrics, "proofgate_verdicts_total", 'status="failed"') == 1


def test_client_and_cli_against_the_server(stack: Stack, tmp_path: Path) -> None:
    statement = tmp_path / "Statement.lean"
    statement.write_text(STATEMENT)
    broken = tmp_path / "Broken.lean"
    broken.write_text(BROKEN)
    with serve_stack(stack) as url:
        with proofgate.Client(url, timeout=30) as client:
            verdict = client.check(statement=STATEMENT, proof="Nat.add_comm a b")
            assert verdict.status is VerdictStatus.proved and verdict.target == "t1"
            failed = client.check(statement=STATEMENT, code=BROKEN)
            assert failed.status is VerdictStatus.failed
            assert any("unknown identifier" in m.text for m in failed.messages)
        proof = tmp_path / "proof.lean"
        proof.write_text("Nat.add_comm a b")
        argv = [sys.executable, "-m", "proofgate", "check", "--server", url]
        ok = subprocess.run(
            [*argv, str(proof), "--statement", str(statement), "--proof"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "proved" in ok.stdout and "t1" in ok.stdout
        bad = subprocess.run(
            [*argv, str(broken), "--statement", str(statement)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert "unknown identifier" in bad.stdout
