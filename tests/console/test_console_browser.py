"""The console in Chromium against a real server on the stand-ins: typing Lean symbols, a policy
refusal underlined with its rule, a failed proof's goal, a share link read in a fresh browser, a
batch followed to its end, two keys that never see each other's jobs, and the docs offline.

Every wait is on a page event or a selector (bounded by conftest.WAIT_MS), never a sleep.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from proofgate.store.keys import KeyStore
from tests.console.conftest import Browsing, open_console
from tests.support.adversarial import load_cases
from tests.support.stack import Stack

STATEMENT = "import Mathlib\n\ntheorem add_comm' (a b : ℕ) : a + b = b + a := by sorry"
#: The goal Lean prints for STATEMENT's theorem (binders of one type grouped, then `⊢`).
GOAL = "a b : ℕ\n⊢ a + b = b + a"
#: A stand-in marker for Lean's "unsolved goals" error, its message as the REPL prints one
#: ("unsolved goals\nx : Int\nh : x = 1\n⊢ x = x", core/have_by_sorry in the recorded transcripts;
#: `\\n` is the marker's newline): a `failed` verdict whose error carries the goal.
FAILING_PROOF = "by\n  -- standin: error unsolved goals\\n" + GOAL.replace("\n", "\\n")


#: What the editor (editor.js) built around a Lean textarea: the same on every page.
LEAN_FIELD = """(id) => {
  const textarea = document.getElementById(id);
  const editor = textarea.closest(".editor");
  const status = document.getElementById(`${id}-status`);
  return {
    wrap: textarea.getAttribute("wrap"),
    spellcheck: textarea.getAttribute("spellcheck"),
    autocapitalize: textarea.getAttribute("autocapitalize"),
    describedby: textarea.getAttribute("aria-describedby"),
    underlines_behind: textarea.previousElementSibling.matches(".editor-backdrop")
      && editor.querySelectorAll(".editor-highlights").length === 1,
    tooltip_after: textarea.nextElementSibling.matches("[role=tooltip][hidden]"),
    status_after: editor.nextElementSibling === status && status.getAttribute("aria-live"),
  };
}"""


def lean_field(page: Any, textarea_id: str, *, described_also: str = "") -> None:
    built = page.evaluate(LEAN_FIELD, textarea_id)
    assert built == {
        "wrap": "off",
        "spellcheck": "false",
        "autocapitalize": "off",
        "describedby": f"{textarea_id}-status{described_also}",
        "underlines_behind": True,
        "tooltip_after": True,
        "status_after": "polite",
    }


def check(page: Any, statement: str, proof: str) -> None:
    page.fill("#statement", statement)
    page.fill("#body", proof)
    page.focus("#body")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#verdict-status")


def test_symbols_a_policy_refusal_and_a_share_link(
    server: str, browsing: Browsing, screenshots: Path
) -> None:
    page = browsing.page(viewport={"width": 1100, "height": 900})
    open_console(page, server)
    for textarea_id in ("statement", "body"):
        lean_field(page, textarea_id, described_also=" abbreviation-hint")
    page.fill("#body", "")
    page.type("#body", "by\n  exact fun h \\to h")
    assert page.input_value("#body") == "by\n  exact fun h → h"

    check(page, STATEMENT, "by\n  simp\n  native_decide")
    assert page.inner_text("#verdict-status") == "rejected"
    underline = page.locator("[data-field=proof] mark.diag-error")
    assert underline.count() == 1
    assert underline.get_attribute("data-line") == "3"
    assert underline.inner_text() == "native_decide"
    assert "native-code" in page.inner_text("#violations")
    box = underline.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("[data-field=proof] [role=tooltip]")
    tooltip.wait_for(state="visible")
    assert "[native-code]" in tooltip.inner_text()
    page.screenshot(path=str(screenshots / "refusal.png"), full_page=True)

    page.click("#share")
    link = page.locator("#share-url").get_attribute("href")
    assert link is not None and link.startswith(f"{server}/r/")
    assert len(link.rsplit("/", 1)[1]) == 32  # 192 random bits

    reader = browsing.page()  # a fresh context: no key, no session storage, no history
    reader.goto(link)
    reader.wait_for_selector("body[data-ready=true]")
    assert reader.inner_text("#verdict-status") == "rejected"
    assert reader.input_value("#body") == "by\n  simp\n  native_decide"
    assert reader.locator("[data-field=proof] mark.diag-error").get_attribute("data-line") == "3"
    assert "valid: signed by this server's report key" in reader.inner_text("#hashes")
    assert "81a5d257c8e410db227a6665ed08f64fea08e997" in reader.inner_text("#pins")  # Mathlib
    assert "proofgate replay report.md" in reader.inner_text("#replay-command")
    for textarea_id in ("statement", "body"):  # the share page's fields are built as the console's
        lean_field(reader, textarea_id)
    reader.focus("#body")  # the caret is at the end, where the value was set: in the underline
    assert reader.inner_text("#body-status").startswith("Line 3, column 15. error [policy]: [nat")
    reader.screenshot(path=str(screenshots / "share.png"), full_page=True)
    assert browsing.blocked == []


def test_a_failed_verdict_shows_the_goal_at_a_phone_width(
    server: str, browsing: Browsing, screenshots: Path
) -> None:
    page = browsing.page(viewport={"width": 375, "height": 800})
    open_console(page, server)
    with page.expect_response("**/v1/check") as answered:
        check(page, STATEMENT, FAILING_PROOF)
    verdict = answered.value.json()
    assert verdict["status"] == "failed" and verdict["sorries"] == []
    (error,) = [m for m in verdict["messages"] if m["severity"] == "error"]
    assert error["text"] == f"unsolved goals\n{GOAL}"
    assert error["goals"] == [GOAL]  # proofgate read the goal out of Lean's error text
    assert page.inner_text("#verdict-status") == "failed"
    assert page.inner_text("#messages .message-error .goal") == GOAL
    assert "null" not in page.inner_text("#result")  # nothing drawn for what the verdict lacks
    assert page.locator("[data-field=proof] mark.diag-error").get_attribute("data-line") == "2"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways at phone width"
    page.screenshot(path=str(screenshots / "failed-phone.png"), full_page=True)


def _batch_file(tmp_path: Path) -> Path:
    lines = [
        {"id": "ok", "statement": STATEMENT, "proof": "by\n  simp", "why": "a note, left out"},
        {"id": "refused", "statement": STATEMENT, "proof": "by\n  native_decide"},
        {"id": "failing", "statement": STATEMENT, "proof": FAILING_PROOF},
    ]
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def test_a_batch_is_followed_to_its_end_and_its_items_open(
    server: str, browsing: Browsing, screenshots: Path, tmp_path: Path
) -> None:
    page = browsing.page(viewport={"width": 1100, "height": 900})
    open_console(page, f"{server}/#/jobs")
    page.set_input_files("#batch-file", str(_batch_file(tmp_path)))
    page.click("#batch-form button[type=submit]")
    page.wait_for_selector("#job-status:text('completed')")
    assert page.locator("#job-progress").get_attribute("value") == "3"
    assert page.inner_text("#job-count") == "3 of 3 done"
    assert "rejected" in page.inner_text("#outcome-chart")
    page.wait_for_selector("#job-table")
    page.screenshot(path=str(screenshots / "job.png"), full_page=True)

    page.click("#item-table a:text('refused')")
    page.wait_for_selector("#playground:not([hidden]) #verdict-status")
    assert page.inner_text("#verdict-status") == "rejected"
    assert page.input_value("#body") == "by\n  native_decide"
    assert page.locator("[data-field=proof] mark.diag-error").get_attribute("data-line") == "2"


def _enter_key(page: Any, token: str) -> None:
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#key-input", token)
    page.press("#key-input", "Enter")


def test_a_second_key_sees_none_of_the_first_keys_jobs(
    stack: Stack, server: str, browsing: Browsing
) -> None:
    assert stack.settings.api_keys_file is not None
    keys = KeyStore(stack.settings.api_keys_file)
    _, first = keys.create("first")
    _, second = keys.create("second")
    made = httpx.post(
        f"{server}/v1/batch",
        json={"items": [{"statement": STATEMENT, "proof": "by\n  simp"}]},
        headers={"Authorization": f"Bearer {first}"},
        timeout=30,
    )
    assert made.status_code == 202, made.text
    job_id = made.json()["id"]

    owner = browsing.page()
    owner.goto(f"{server}/#/jobs")
    _enter_key(owner, first)  # asked once, then kept for the tab
    owner.wait_for_selector(f"#job-table tr[data-job='{job_id}']")
    owner.reload()
    owner.wait_for_selector(f"#job-table tr[data-job='{job_id}']")
    assert not owner.locator("#key-dialog[open]").count()

    other = browsing.page()
    other.goto(f"{server}/#/jobs")
    _enter_key(other, second)
    other.wait_for_selector("#no-jobs")
    assert job_id not in other.content()


def test_the_api_docs_render_with_the_network_blocked(server: str, browsing: Browsing) -> None:
    page = browsing.page()
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .info .title:has-text('proofgate')")
    page.wait_for_selector(".opblock-summary-path:has-text('/v1/check')")
    page.goto(f"{server}/redoc")
    page.wait_for_selector("h1:has-text('proofgate')")
    assert browsing.blocked == [], "the docs reached for another host"


#: Stand-in triage, scripted as in tests/api/test_triage.py: every probe of the statement fails
#: unless its text holds NEEDLE (a probe's own name, or its tactic).
ONLY_PROBES_WITH = "-- standin: with proofgate_triage without {} error closer failed\n"


def _triaged(page: Any, theorem: str, *needles: str) -> dict[str, Any]:
    markers = "".join(ONLY_PROBES_WITH.format(needle) for needle in needles)
    page.fill("#statement", f"import Mathlib\n\n{markers}{theorem} := by sorry\n")
    with page.expect_response("**/v1/triage") as answered:
        page.click("#triage")
    page.wait_for_selector("#verdict-status:text-matches('^triage: ')")
    return dict(answered.value.json())


def test_triage_shows_a_false_statement_disproved_and_a_trivial_one(
    server: str, browsing: Browsing, screenshots: Path
) -> None:
    page = browsing.page(viewport={"width": 1100, "height": 900})
    open_console(page, server)
    found = _triaged(page, "theorem g : (2 : ℕ) + 2 = 5", "proofgate_triage_disproof", "decide")
    assert found["disproved"] and found["closed_by"] == {"disproved": "decide"}
    assert page.locator("#result .flag").all_inner_texts() == ["disproved"]
    assert "disproved (`decide`)" in page.inner_text("#verdict-reason")
    assert "¬ (type_of% @_root_.g)" in page.inner_text("#result pre.goal")
    assert "null" not in page.inner_text("#result")  # no policy refusal: nothing drawn for it
    page.screenshot(path=str(screenshots / "triage-disproved.png"), full_page=True)

    found = _triaged(page, "theorem t (a b : ℕ) : a + b = b + a", "proofgate_triage_trivial")
    assert found["trivially_provable"] and not found["disproved"]
    assert page.locator("#result .flag").all_inner_texts() == ["trivially_provable"]
    assert page.locator("#result pre.goal").count() == 0  # no negation proof this time


def test_the_shared_policy_stage_cheats_are_each_refused_with_their_rule(
    server: str, browsing: Browsing, screenshots: Path, shared_dir: Path, tmp_path: Path
) -> None:
    """The adversarial cases a person would load into the jobs view (README): on the stand-ins
    only the policy-stage ones are refused (audit-stage cheats need real Lean's audit)."""
    cheats = [
        case
        for case in load_cases(shared_dir / "adversarial" / "cases.jsonl")
        if case["stage"] == "policy" and case["expect"] == "reject"
    ]
    assert len(cheats) >= 5
    batch = tmp_path / "cheats.jsonl"  # the shared lines as they are: extra fields left out
    batch.write_text("".join(json.dumps(case) + "\n" for case in cheats), encoding="utf-8")

    page = browsing.page(viewport={"width": 1100, "height": 900})
    open_console(page, f"{server}/#/jobs")
    page.set_input_files("#batch-file", str(batch))
    page.click("#batch-form button[type=submit]")
    page.wait_for_selector("#job-status:text('completed')")
    page.wait_for_selector("#item-table")
    job_id = page.evaluate("location.hash").rsplit("/", 1)[1]
    answered = httpx.get(f"{server}/v1/jobs/{job_id}/results", timeout=30).json()
    results = sorted(answered, key=lambda result: result["index"])  # they come as they finish
    assert [result["id"] for result in results] == [case["id"] for case in cheats]
    for index, result in enumerate(results):
        row = page.locator(f"#item-table tr[data-item='{index}']")
        assert row.locator("td").nth(0).inner_text() == cheats[index]["id"]
        assert row.locator("td").nth(1).inner_text() == "rejected", cheats[index]["id"]
        rules = list(dict.fromkeys(v["rule"] for v in result["verdict"]["violations"]))
        assert rules, cheats[index]["id"]
        assert row.locator(".why code.rule").all_inner_texts() == rules, cheats[index]["id"]
        assert result["verdict"]["reason"] in row.locator(".why").inner_text()
    page.screenshot(path=str(screenshots / "cheats.png"), full_page=True)
