"""Reproducible reports: a verdict exported as a self-contained, signed record.

A record holds everything a reader needs to re-check the result: the statement and the
submission, the pins (Lean, Mathlib and REPL commits, proofgate and checker versions, the
environment), the policy profile, the allowed axioms and options, hashes, the axioms reached, the
verdict and its timings. It is written as JSON and as Markdown; the Markdown embeds the signed JSON,
and the prose around it must be exactly what the record renders to, so editing either is detected.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from proofgate.__about__ import __version__
from proofgate.config import Settings
from proofgate.exceptions import ConfigError
from proofgate.models import Submission, Verdict
from proofgate.models.validation import json_object
from proofgate.reports.markup import markdown_cell
from proofgate.reports.signing import ReportKey, SignatureCheck, canonical_json, sign, verify

__all__ = [
    "FORMAT",
    "LoadedRecord",
    "build_record",
    "load_record",
    "record_submission",
    "record_verdict",
    "render_markdown",
    "write_record",
]

FORMAT = "proofgate-report/1"
_BEGIN = "<!-- proofgate-record: the signed record; do not edit -->"
_END = "<!-- /proofgate-record -->"


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_record(
    submission: Submission,
    verdict: Verdict,
    settings: Settings,
    key: ReportKey,
    *,
    item_id: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The signed record of `verdict`, which must have been computed for `submission`."""
    if submission.policy != "strict" and verdict.content_hash:
        # the service checked it under the profile its PROOFGATE_POLICY allowed: record that one
        for profile in ("strict", "permissive"):
            applied = submission.model_copy(update={"policy": profile})
            if applied.content_hash() == verdict.content_hash:
                submission = applied
    elif submission.policy is None:
        submission = submission.model_copy(update={"policy": settings.policy})
    if verdict.content_hash and verdict.content_hash != submission.content_hash():
        raise ConfigError(
            "the verdict was not computed for this submission (content hashes differ): "
            "give the submission the verdict came from"
        )
    if verdict.pins is None:
        raise ConfigError("the verdict carries no pins, so it cannot be reproduced: check it again")
    verdict_json = verdict.model_dump(mode="json")
    body: dict[str, Any] = {
        "format": FORMAT,
        "created_at": (created_at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "item_id": item_id,
        "statement": submission.statement,
        "submission": submission.model_dump(mode="json"),
        "pins": verdict.pins.model_dump(mode="json"),
        "exported_by": {"proofgate": __version__},
        "policy_profile": submission.policy,
        "allowed_axioms": sorted(set(settings.allowed_axioms) | set(submission.allowed_axioms)),
        "options": {"heartbeat_cap": settings.heartbeat_cap},
        "hashes": {
            "submission": submission.content_hash(),
            "statement": _sha256(submission.statement),
            "code": _sha256(submission.code),
            "proof": _sha256(submission.proof),
            "verdict": hashlib.sha256(canonical_json(verdict_json)).hexdigest(),
        },
        "axioms": list(verdict.axioms),
        "verdict": verdict_json,
        "timings": verdict.timings.model_dump(mode="json"),
    }
    return {**body, "signature": sign(body, key)}


def record_submission(record: dict[str, Any]) -> Submission:
    """The submission a record holds; a malformed one is a `ConfigError`."""
    try:
        return Submission.model_validate(record["submission"])
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"the report holds no valid submission: {exc}") from exc


def record_verdict(record: dict[str, Any]) -> Verdict:
    """The verdict a record holds; a malformed one is a `ConfigError`."""
    try:
        return Verdict.model_validate(record["verdict"])
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"the report holds no valid verdict: {exc}") from exc


# --- Markdown ------------------------------------------------------------------------------


def _fence(text: str, language: str) -> str:
    """A code block whose fence is longer than any backtick run inside `text`."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def _time_cell(timings: dict[str, Any]) -> str:
    total, repl, audit = (timings.get(f"{n}_ms", 0) for n in ("total", "repl", "audit"))
    return f"{total:.0f} ms (REPL {repl:.0f} ms, audit {audit:.0f} ms)"


def render_markdown(record: dict[str, Any]) -> str:
    """The report for people, ending in the signed JSON record it was rendered from."""
    verdict = record.get("verdict") or {}
    pins = record.get("pins") or {}
    submission = record.get("submission") or {}
    timings = record.get("timings") or {}
    signature = record.get("signature") or {}
    status = verdict.get("status", "?")
    exporter = (record.get("exported_by") or {}).get("proofgate")
    lines = ["# proofgate reproducible report", ""]
    title = f"**Verdict: `{status}`**"
    if verdict.get("target"):
        title += f" for `{verdict['target']}`"
    lines += [title, ""]
    if verdict.get("reason"):
        lines += [f"> {markdown_cell(verdict['reason'])}", ""]
    rows = [
        ("item", record.get("item_id") or "-"),
        ("Lean", pins.get("lean")),
        ("Mathlib commit", pins.get("mathlib")),
        ("REPL commit", pins.get("repl")),
        ("proofgate", pins.get("proofgate")),
        ("trusted checker", pins.get("checker")),
        ("environment", pins.get("environment")),
        ("policy profile", record.get("policy_profile")),
        ("allowed axioms", ", ".join(record.get("allowed_axioms") or []) or "none"),
        ("axioms reached", ", ".join(record.get("axioms") or []) or "none"),
        ("submission hash", (record.get("hashes") or {}).get("submission")),
        ("verdict hash", (record.get("hashes") or {}).get("verdict")),
        ("time", _time_cell(timings)),
        ("exported", f"{record.get('created_at')} by proofgate {exporter}"),
        ("signature", f"{signature.get('algorithm')}, key id `{signature.get('key_id')}`"),
    ]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {name} | {markdown_cell(value)} |" for name, value in rows]
    lines.append("")
    if record.get("statement") is not None:
        lines += ["## Locked statement", "", _fence(record["statement"], "lean"), ""]
    for field in ("code", "proof"):
        if submission.get(field) is not None:
            lines += [f"## Submitted {field}", "", _fence(submission[field], "lean"), ""]
    messages = verdict.get("messages") or []
    if messages:
        lines += ["## Messages", ""]
        for message in messages:
            pos = message.get("pos")
            where = f"{pos['line']}:{pos['column']} " if pos else ""
            text = markdown_cell(message.get("text", ""))
            lines.append(f"- {where}{message.get('severity')} [{message.get('category')}]: {text}")
        lines.append("")
    lines += [
        "## Re-checking",
        "",
        "Run `proofgate replay` on this file (or its JSON twin) where the signing key is",
        "configured: it checks the signature, checks the submission again and says whether the",
        "verdict reproduces, and why not.",
        "",
        _BEGIN,
        _fence(json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False), "json"),
        _END,
        "",
    ]
    return "\n".join(lines)


def write_record(record: dict[str, Any], json_path: Path) -> Path:
    """Write the record as JSON at `json_path` and as Markdown beside it; return the latter."""
    markdown_path = json_path.with_suffix(".md")
    try:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(
            json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        markdown_path.write_text(render_markdown(record), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the report {json_path}: {exc}") from exc
    return markdown_path


# --- loading -------------------------------------------------------------------------------


class LoadedRecord:
    """A record read from a file, with what its signature (and Markdown prose) says."""

    def __init__(self, record: dict[str, Any], path: Path, *, markdown_edited: bool) -> None:
        self.record = record
        self.path = path
        self.markdown_edited = markdown_edited

    def signature(self, key: ReportKey) -> SignatureCheck:
        return verify(self.record, key)


def _embedded_json(text: str, path: Path) -> str:
    start, end = text.find(_BEGIN), text.rfind(_END)
    if start < 0 or end < start:
        raise ConfigError(f"{path} holds no signed record: export it with `proofgate export`")
    block = text[start + len(_BEGIN) : end].strip()
    lines = block.splitlines()
    if len(lines) < 2 or not lines[0].startswith("```") or not lines[-1].startswith("```"):
        raise ConfigError(f"the signed record in {path} is not a fenced JSON block")
    return "\n".join(lines[1:-1])


def load_record(path: Path) -> LoadedRecord:
    """A report as JSON or Markdown (by content); unreadable or malformed is a `ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the report {path}: {exc}") from exc
    is_json = text.lstrip().startswith("{")
    record = json_object(
        text if is_json else _embedded_json(text, path),
        f"the report {path}",
        hint="give a report `proofgate export` wrote (JSON or Markdown)",
    )
    if record.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a proofgate report ({FORMAT})")
    edited = not is_json and render_markdown(record) != text
    return LoadedRecord(record, path, markdown_edited=edited)
