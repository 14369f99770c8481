"""A mixed batch for the stand-in stack: proofs that pass, fail, are refused, malformed lines."""

from __future__ import annotations

import json
from pathlib import Path

STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"


def _honest(variant: int) -> str:
    return f"import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := Nat.add_comm a b -- v{variant}\n"


def _broken(index: int) -> str:
    return (
        "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by\n"
        f"  -- standin: error unknown identifier 'foo{index % 7}'\n  exact foo{index % 7}\n"
    )


def item_line(index: int) -> tuple[str, str]:
    """The input line of item `index` and what its record should say (`record_outcome`)."""
    item_id = f"item-{index:04d}"
    kind = index % 10
    if kind == 0:
        body = {"statement": STATEMENT, "code": _honest(index % 5)}
        expected = "proved"
    elif kind == 1:
        body = {"statement": STATEMENT, "proof": "Nat.add_comm a b"}
        expected = "proved"
    elif kind in (2, 3):
        body = {"statement": STATEMENT, "code": _broken(index)}
        expected = "failed"
    elif kind == 4:
        body = {"statement": STATEMENT, "code": f"import Mathlib\n#eval IO.Process.exit {index}\n"}
        expected = "rejected"
    elif kind == 5:
        body = {"code": _broken(index)}
        expected = "failed"
    elif kind == 6:
        body = {
            "code": "import Mathlib\nset_option maxHeartbeats 0 in\ntheorem x : True := trivial\n"
        }
        expected = "rejected"
    elif kind == 7:
        body = {"statement": STATEMENT, "code": _honest(0), "environment": "nowhere"}
        expected = "error:submission"
    elif kind == 8:
        return _bad_line(index, item_id)
    else:
        body = {"code": _broken(index), "environment": "default", "timeout": 5}
        expected = "failed"
    return json.dumps({"id": item_id, **body}), expected


def _bad_line(index: int, item_id: str) -> tuple[str, str]:
    flavour = (index // 10) % 4
    if flavour == 0:
        return '{"id": "' + item_id + '", "code": ', "error:input"  # not JSON
    if flavour == 1:
        return json.dumps({"code": _honest(1)}), "error:input"  # no id
    if flavour == 2:
        both = {"id": item_id, "statement": STATEMENT, "code": _honest(1), "proof": "rfl"}
        return json.dumps(both), "error:input"
    return json.dumps({"id": item_id, "code": _honest(1), "model": "x"}), "error:input"


def write_batch(path: Path, count: int) -> dict[str, str]:
    """Write `count` items to `path`; return the expected outcome by the id each record will have."""
    expected: dict[str, str] = {}
    lines = []
    for index in range(count):
        text, outcome = item_line(index)
        lines.append(text)
        line_number = len(lines)
        try:
            item_id = json.loads(text).get("id") or f"line:{line_number}"
        except ValueError:
            item_id = f"line:{line_number}"
        expected[item_id] = outcome
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return expected
