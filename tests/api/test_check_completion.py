"""`"input": "completion"` on `/v1/check` and `/v1/batch` (issue 24, item 3): a model's raw output
is read as `/v1/rewards` reads it, and checked against the locked statement; a Lean submission is
never read so."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.stack import Stack

STATEMENT = "import Mathlib\nopen Nat\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"


def fenced(lean: str) -> str:
    return f"<think>\n```lean4\nby simp\n```\n</think>\nHere it is.\n```lean4\n{lean}\n```\n"


def check(url: str, **fields: Any) -> httpx.Response:
    return httpx.post(url + "/v1/check", json={"statement": STATEMENT, **fields}, timeout=30)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"proof": fenced("by\n  omega")}, "proved"),
        ({"code": fenced("theorem mine (a b : ℕ) : a + b = b + a := by omega")}, "proved"),
        ({"code": fenced("theorem t1 (a b : ℕ) : a + 0 = a := by simp")}, "statement_mismatch"),
        ({"proof": fenced("by\n  native_decide")}, "rejected"),
    ],
)
def test_a_completion_is_read_then_checked(url: str, fields: dict[str, str], status: str) -> None:
    answer = check(url, input="completion", **fields)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == status, answer.text


def test_without_input_completion_the_raw_text_is_lean(url: str) -> None:
    raw = fenced("by\n  omega").replace("by simp", "by native_decide")  # in the reasoning
    read = check(url, proof=raw, input="completion")
    assert read.status_code == 200 and read.json()["status"] == "proved", read.text
    as_lean = check(url, proof=raw)  # all of it is the proof: the policy sees the reasoning
    assert as_lean.status_code == 200, as_lean.text
    assert as_lean.json()["status"] == "rejected", as_lean.text


def test_a_raw_completion_sent_as_lean_fails_as_lean_would(url: str) -> None:
    answer = check(url, proof=fenced("by\n  omega"))  # the fences are no Lean
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "failed", answer.text


def test_a_completion_without_lean_is_422_naming_the_field(url: str) -> None:
    answer = check(url, input="completion", proof="I could not find a proof.")
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][-1] == "proof"
    assert "no Lean to check" in answer.text


def test_batch_items_may_be_completions(stack: Stack, url: str) -> None:
    items = [
        {"statement": STATEMENT, "proof": fenced("by\n  omega"), "input": "completion"},
        {"statement": STATEMENT, "proof": "no proof here", "input": "completion"},
    ]
    answer = httpx.post(url + "/v1/batch?stream=true", json={"items": items}, timeout=60)
    assert answer.status_code == 200, answer.text
    lines = sorted(
        (httpx.Response(200, content=line).json() for line in answer.text.splitlines()),
        key=lambda line: line["index"],
    )
    assert lines[0]["verdict"]["status"] == "proved"
    assert "error" in lines[1] and "proof" in str(lines[1]["error"])
