"""The adversarial cases in the console on real Lean (issue 29's last condition): a person with no
Lean knowledge loads them into the jobs view and sees each cheat refused, and why.

On the stand-ins only the policy-stage cheats are refused (test_console_browser.py); the
audit-stage ones need real Lean, Mathlib and the trusted checker. So this runs a real
`proofgate serve` on the machine's toolchain and is marked `lean`: skipped where the toolchain is
missing (tests/conftest.py says which piece), run by the real-Lean workflow, which installs
Chromium for it. Untested against real Lean until that workflow has run it.

Each source of cases (the shared ones when they are beside the repository, the project's own
always) goes in as one batch: every audit-stage `reject` case and every `accept` case. In the
page a `reject` case must end not proved, with the verdict's reason in its row and, opened in the
playground, its reason, its code and the axioms its target reaches; an `accept` case `proved`.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.conftest import ADVERSARIAL_CASES
from tests.console.conftest import Browsing, open_console
from tests.support.adversarial import OWN_CASES, load_cases
from tests.support.server import serve

pytestmark = [pytest.mark.lean, pytest.mark.timeout(3600)]

#: Bound on one batch's run (milliseconds): every case imports Mathlib and is audited.
JOB_WAIT_MS = 45 * 60_000
SUCCESS = {"proved", "compiled"}
#: The service's limit or fault, not the submission's: no answer about the cheat.
UNFINISHED = {"timeout", "out_of_memory", "internal"}


def _sources() -> list[Any]:
    """The shared cases where they are (the real-Lean workflow's summary says when they are
    not), and the project's own."""
    sources = [pytest.param(OWN_CASES, id="project")]
    if ADVERSARIAL_CASES.is_file():
        sources.insert(0, pytest.param(ADVERSARIAL_CASES, id="shared"))
    return sources


def _shown_cases(path: Path) -> list[dict[str, Any]]:
    """The cheats only the audit refuses, and the honest proofs that must pass it."""
    return [
        case
        for case in load_cases(path)
        if case["expect"] == "accept" or (case["stage"] == "audit" and case["expect"] == "reject")
    ]


def _copy_to_stderr(output: IO[bytes]) -> None:
    """The server's log, to file descriptor 2: pytest shows it with a failing test."""
    for line in output:
        os.write(2, line)


@pytest.fixture(scope="module")
def lean_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`proofgate serve` on the machine's real toolchain, with a data directory of its own.

    Module scope on purpose: it starts before tests/conftest.py's autouse fixture points
    PROOFGATE_* at a test's tmp dir, so it runs on the settings the `lean` skip checked."""
    data = tmp_path_factory.mktemp("console-lean-data")
    # two items at once: each compiles its statement and its code against Mathlib side by side
    env = {"PROOFGATE_DATA_DIR": str(data), "PROOFGATE_BATCH_CONCURRENCY": "2"}
    with serve(env, timeout=120) as running:
        assert running.process.stdout is not None
        copier = threading.Thread(
            target=_copy_to_stderr, args=(running.process.stdout,), daemon=True
        )
        copier.start()  # an unread pipe would fill and stall the server
        try:
            yield running.url
        finally:
            running.process.terminate()
            running.process.wait(timeout=60)
            copier.join(timeout=30)


def _run_batch(page: Any, server: str, cases: list[dict[str, Any]], batch: Path) -> str:
    """Load `cases` into the jobs view as one batch, follow it to its end; its job id."""
    batch.write_text("".join(json.dumps(case) + "\n" for case in cases), encoding="utf-8")
    open_console(page, f"{server}/#/jobs")
    page.set_input_files("#batch-file", str(batch))
    page.click("#batch-form button[type=submit]")
    ended = "#job-status:text-matches('^(completed|failed)$'), #job [role=alert]"
    page.wait_for_selector(ended, timeout=JOB_WAIT_MS)  # a job that failed ends the wait too
    status = page.locator("#job-status")
    assert status.count() == 1 and status.inner_text() == "completed", page.inner_text("#job")
    page.wait_for_selector("#item-table")
    return str(page.evaluate("location.hash").rsplit("/", 1)[1])


def _open_item(page: Any, job_id: str, index: int, case_id: str) -> None:
    """The item in the playground view, as its link in the jobs view opens it."""
    page.evaluate("(hash) => { window.location.hash = hash; }", f"#/jobs/{job_id}/items/{index}")
    page.wait_for_selector(f"#playground-title:text-is('Item {case_id} of job {job_id[:12]}')")


@pytest.mark.parametrize("source", _sources())
def test_each_cheat_only_the_audit_catches_is_shown_refused_with_its_reason(
    source: Path, lean_server: str, browsing: Browsing, screenshots: Path, tmp_path: Path
) -> None:
    cases = _shown_cases(source)
    assert any(case["expect"] == "reject" for case in cases), source
    assert any(case["expect"] == "accept" for case in cases), source
    page = browsing.page(viewport={"width": 1100, "height": 900})
    job_id = _run_batch(page, lean_server, cases, tmp_path / "cases.jsonl")
    answered = httpx.get(f"{lean_server}/v1/jobs/{job_id}/results", timeout=30).json()
    results = sorted(answered, key=lambda result: result["index"])  # they come as they finish
    assert [result["id"] for result in results] == [case["id"] for case in cases]
    page.screenshot(path=str(screenshots / f"lean-cases-{source.stem}.png"), full_page=True)

    for index, (case, result) in enumerate(zip(cases, results, strict=True)):
        verdict = result.get("verdict")
        assert verdict is not None, (case["id"], result.get("error"))
        status, reason = verdict["status"], verdict["reason"]
        row = page.locator(f"#item-table tr[data-item='{index}']")
        assert row.locator("td").nth(0).inner_text() == case["id"]
        assert row.locator("td").nth(1).inner_text() == status, case["id"]
        assert reason.strip() and reason in row.locator(".why").inner_text(), case["id"]
        if case["expect"] == "accept":
            assert status == "proved", (case["id"], reason)
            continue
        assert status not in SUCCESS | UNFINISHED, (case["id"], status, reason)

        _open_item(page, job_id, index, case["id"])
        assert page.inner_text("#verdict-status") == status, case["id"]
        assert page.inner_text("#verdict-reason") == reason, case["id"]
        assert page.input_value("#body") == case["code"], case["id"]
        axioms = page.locator("#axioms li").all_inner_texts()
        assert axioms == verdict["axioms"], case["id"]
        if status == "axiom_violation":  # the axiom that refused it is named, and listed
            assert any(axiom in reason for axiom in axioms), (case["id"], reason, axioms)
    page.screenshot(path=str(screenshots / f"lean-item-{source.stem}.png"), full_page=True)
