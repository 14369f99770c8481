"""Refresh the README's screenshots of the web console (docs/images/console-*.png).

Runs the app on the stand-in stack (tests/support/stack.py: no Lean needed) on 127.0.0.1 and
drives the system's Chromium with Playwright, as the browser tests do (tests/console/):

    python scripts/console_screenshots.py [--out docs/images]

The stand-ins act out the verdicts: the pictures show the console, not real Lean's messages.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from tests.console.conftest import chromium_path  # noqa: E402
from tests.support.live_app import run_app  # noqa: E402
from tests.support.stack import make_stack  # noqa: E402

from proofgate.api.app import create_app  # noqa: E402

STATEMENT = "import Mathlib\n\ntheorem add_comm' (a b : ℕ) : a + b = b + a := by sorry"
REFUSED = "by\n  simp\n  native_decide"
FAILING = (
    "by\n  -- standin: goal a b : ℕ\\n⊢ a + b = b + a\n  -- standin: sorry\n"
    "  -- standin: error unsolved goals"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    executable = chromium_path()
    if executable is None:
        sys.exit(
            "no Chromium found: apt-get install chromium fonts-noto-core (or set CHROMIUM_PATH)"
        )
    arguments = ["--disable-dev-shm-usage", *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with tempfile.TemporaryDirectory() as scratch:
        stack = make_stack(Path(scratch))
        batch = Path(scratch) / "batch.jsonl"
        items = [
            {"id": "proved", "statement": STATEMENT, "proof": "by\n  simp"},
            {"id": "native_decide", "statement": STATEMENT, "proof": REFUSED},
            {"id": "unsolved", "statement": STATEMENT, "proof": FAILING},
        ]
        batch.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
        app = create_app(stack.settings, service=stack.service())
        with run_app(app, timeout=30) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=arguments)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]")
            page.fill("#statement", STATEMENT)
            page.fill("#body", REFUSED)
            page.click("#check")
            page.wait_for_selector("#verdict-status")
            page.click("#share")
            link = page.locator("#share-url").get_attribute("href")
            page.screenshot(path=str(out / "console-playground.png"), full_page=True)

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(url)
            phone.wait_for_selector("body[data-ready=true]")
            phone.fill("#body", FAILING)
            phone.click("#check")
            phone.wait_for_selector("#verdict-status")
            phone.screenshot(path=str(out / "console-phone.png"), full_page=True)

            page.goto(f"{url}/#/jobs")
            page.set_input_files("#batch-file", str(batch))
            page.click("#batch-form button[type=submit]")
            page.wait_for_selector("#job-status:text('completed')")
            page.wait_for_selector("#item-table")
            page.screenshot(path=str(out / "console-jobs.png"), full_page=True)

            reader = browser.new_context().new_page()
            reader.goto(str(link))
            reader.wait_for_selector("body[data-ready=true]")
            reader.screenshot(path=str(out / "console-share.png"), full_page=True)
            browser.close()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()
