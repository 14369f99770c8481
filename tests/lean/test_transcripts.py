"""Every recorded real-REPL session replays through the driver exactly (replies equal as JSON).

The stand-in answers from the recording and checks each command the driver sends is the recorded
one; the driver checks every env and proof-state id is the next one a real REPL would hand out,
so this also proves that check accepts every real session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proofgate.bench.simulated_repl import SCRIPT, split_transcript_commands
from proofgate.exceptions import ReplCommandError
from tests.conftest import TRANSCRIPTS_DIR
from tests.standins.repl import start_standin


def _pairs() -> list[str]:
    if not TRANSCRIPTS_DIR.is_dir():
        return ["(shared data absent)"]
    return sorted(
        f"{path.parent.name}/{path.name[: -len('.in')]}"
        for folder in ("core", "mathlib")
        for path in (TRANSCRIPTS_DIR / folder).glob("*.in")
        if path.with_name(path.name[: -len(".in")] + ".expected.out").exists()
    )


def _files(shared_dir: Path, name: str) -> tuple[Path, Path]:
    folder, stem = name.split("/")
    base = shared_dir / "lean-repl-transcripts" / folder
    return base / f"{stem}.in", base / f"{stem}.expected.out"


def _replies(expected: Path) -> list[dict[str, object]]:
    return [
        json.loads(chunk) for chunk in expected.read_text("utf-8").split("\n\n") if chunk.strip()
    ]


def test_there_are_transcripts_to_replay(shared_dir: Path) -> None:
    names = _pairs()
    assert len(names) >= 60
    assert any(name.startswith("mathlib/") for name in names)


@pytest.mark.parametrize("name", _pairs())
async def test_transcript_replays_through_the_driver(
    name: str, shared_dir: Path, tmp_path: Path
) -> None:
    source, expected = _files(shared_dir, name)
    commands = [json.loads(query) for query in split_transcript_commands(source.read_text("utf-8"))]
    replies = _replies(expected)
    repl = await start_standin(tmp_path, "--replay", str(source))
    got: list[dict[str, object]] = []
    try:
        for command in commands[: len(replies)]:
            try:
                got.append(dict((await repl.send(command, timeout=10)).raw))
            except ReplCommandError as exc:
                got.append({"message": str(exc)})
        assert repl.alive, repl.failure
    finally:
        await repl.close()
    assert got == replies


@pytest.mark.parametrize("name", _pairs())
def test_standin_prints_the_recorded_bytes_for_the_recorded_input(
    name: str, shared_dir: Path
) -> None:
    """Fed the `.in` file byte for byte, the stand-in prints `.expected.out` byte for byte."""
    source, expected = _files(shared_dir, name)
    result = subprocess.run(
        [sys.executable, SCRIPT, "--replay", str(source)],
        input=source.read_bytes(),
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    recorded = expected.read_bytes()
    diagnostics = (result.returncode, result.stderr.decode()[-500:])
    if len(split_transcript_commands(source.read_text("utf-8"))) == len(_replies(expected)):
        assert result.stdout == recorded, diagnostics
    else:  # the recording stopped early; the stand-in then refuses the extra command
        assert result.stdout and recorded.startswith(result.stdout), diagnostics


def _file_free(name: str) -> bool:
    """Transcripts that do not read or write files the recording had (`path`, pickles)."""
    if not TRANSCRIPTS_DIR.is_dir():
        return False
    folder, stem = name.split("/")
    text = (TRANSCRIPTS_DIR / folder / f"{stem}.in").read_text("utf-8")
    return not any(key in text for key in ('"path"', "pickleTo", "unpickle"))


@pytest.mark.lean
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", [n for n in _pairs() if _file_free(n)])
async def test_real_repl_answers_as_recorded(name: str, shared_dir: Path, tmp_path: Path) -> None:
    """The same replay against the real REPL of the root project (untested here: no Lean)."""
    from proofgate.config import Settings
    from proofgate.environments.registry import get_environment
    from proofgate.lean.launch import LeanReplLauncher
    from proofgate.lean.repl import ReplProcess
    from proofgate.sandbox.group import ProcessGroupSpawner
    from proofgate.sandbox.process import Launch, Limits

    settings = Settings(data_dir=tmp_path / "data")
    spec = LeanReplLauncher(settings).spawn_spec(get_environment(settings, "default"))
    source, expected = _files(shared_dir, name)
    repl = await ReplProcess.start(Launch(ProcessGroupSpawner(), spec, Limits()))
    got: list[dict[str, object]] = []
    try:
        for command in [
            json.loads(q) for q in split_transcript_commands(source.read_text("utf-8"))
        ]:
            try:
                got.append(dict((await repl.send(command, timeout=600)).raw))
            except ReplCommandError as exc:
                got.append({"message": str(exc)})
    finally:
        await repl.close()
    assert got == _replies(expected)
