"""The README's first screen and examples (issue 30, defect 8): what works without Lean and what
needs `proofgate setup` is said up front, examples that need Lean say so, and links resolve."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Commands and calls that answer a verdict only with Lean present.
NEEDS_LEAN = re.compile(r"/v1/check|Client\(|Dojo\(|proofgate batch|proofgate triage")


def test_the_first_screen_says_what_works_without_lean() -> None:
    first_screen = "\n".join(README.splitlines()[:30])
    assert "What works without Lean" in first_screen
    assert "proofgate lint" in first_screen and "proofgate ci --lock" in first_screen
    assert "What needs `proofgate setup`" in first_screen


def test_examples_that_need_lean_are_marked() -> None:
    blocks = re.findall(r"```(?:bash|python)\n(.*?)```", README, flags=re.DOTALL)
    unmarked = [block for block in blocks if NEEDS_LEAN.search(block) and "needs Lean" not in block]
    assert not unmarked, unmarked


def test_relative_links_point_at_files_in_the_repository() -> None:
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing
    assert "../shared/DESIGN.md" not in README
