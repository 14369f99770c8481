"""`proofgate-checker --serve` with real Lean: the warm checker's protocol (the stand-in's:
tests/standins/export_checker.py, `serve`) spoken by the Lean checker (`Proofgate/Serve.lean`, the
loop in `Proofgate/Checker.lean`).

Skipped where no toolchain is installed (the `lean` marker's standard reason); the real-Lean
workflow runs it after `lake build proofgate-checker proofgate-export`. The serve mode has never
run where it was written, so these are its first checks: a statement and a submission (Init only,
seconds to compile) compiled as the audit compiles them, exported by `lake exe proofgate-export`,
then one checker started with `--serve --import Init` answering an honest request, one with a
target whose statement differs, and the honest one again (each check starts from the imported
environment: had the first check's constants stayed, the third would find its target already
declared); the end of stdin ends it with exit 0. Also: a line that is no request ends it with exit
2, a header the checker did not import is `bad_input`, and the command line's rules.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from proofgate.config import SOURCE_ROOT
from proofgate.verify.contract import ExportAuditReport, parse_report

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900)]

PROJECT = SOURCE_ROOT
MODULE = "ProofgateSubmission"
CHECKER = PROJECT / ".lake" / "build" / "bin" / "proofgate-checker"
AXIOMS = ["Classical.choice", "Quot.sound", "propext"]
#: The locked statements (the reference is compiled from the statement, its proofs `sorry`).
STATEMENT = """\
theorem t1 : 1 + 1 = 2 := sorry

theorem t2 : 2 + 2 = 4 := sorry
"""
#: Proves t1; states t2 otherwise than the statement does.
SUBMISSION = """\
theorem t1 : 1 + 1 = 2 := rfl

theorem t2 : 2 + 2 = 5 → True := fun _ => trivial
"""
LINE_SECONDS = 120.0


def _run(argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False
    )


def _compile_and_export(directory: Path, source: str) -> Path:
    """One module compiled as the audit compiles (`-R` its own directory), then exported."""
    directory.mkdir(parents=True)
    lean_file = directory / f"{MODULE}.lean"
    lean_file.write_text(source, encoding="utf-8")
    olean = directory / f"{MODULE}.olean"
    result = _run(["lake", "env", "lean", "-R", str(directory), "-o", str(olean), str(lean_file)])
    assert result.returncode == 0 and olean.is_file(), result.stdout + result.stderr[-4000:]
    out = directory / f"{MODULE}.ndjson"
    export = ["lake", "exe", "proofgate-export", "--olean", str(olean), "--module", MODULE]
    result = _run([*export, "--out", str(out)])
    assert result.returncode == 0 and out.is_file(), (result.stdout, result.stderr[-4000:])
    return out


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the reference's export, the submission's export)."""
    root = tmp_path_factory.mktemp("serve")
    return (
        _compile_and_export(root / "reference", STATEMENT),
        _compile_and_export(root / "submission", SUBMISSION),
    )


def _request(check: int, submission: Path, reference: Path, target: str) -> bytes:
    """A request line as `verify.checkers.CheckRequest.line` writes it."""
    value = {
        "check": check,
        "submission": str(submission),
        "reference": str(reference),
        "target": target,
        "axioms": AXIOMS,
        "answer_holes": [],
        "module_roots": ["Init"],
    }
    return json.dumps(value, ensure_ascii=False).encode("utf-8") + b"\n"


class Served:
    """One `proofgate-checker --serve` process, its stdout read a line at a time with a deadline."""

    def __init__(self, *imports: str) -> None:
        argv = ["lake", "env", str(CHECKER), "--serve"]
        for module in imports:
            argv += ["--import", module]
        self.process = subprocess.Popen(
            argv,
            cwd=PROJECT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,  # raw pipes: `select` then `os.read` sees every byte
        )
        self._buffer = b""

    def line(self, seconds: float = LINE_SECONDS) -> bytes:
        """The next line of stdout (without its newline); b"" at the end of stdout."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                assert left > 0, f"no line within {seconds} s: {self._buffer[:500]!r}"
                if not selector.select(left):
                    continue
                chunk = os.read(stdout.fileno(), 1 << 16)
                if not chunk:
                    rest, self._buffer = self._buffer, b""
                    return rest
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def send(self, data: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        view = memoryview(data)
        while view:
            view = view[os.write(stdin.fileno(), view) :]

    def finish(self, seconds: float = LINE_SECONDS) -> tuple[int, bytes, str]:
        """Close stdin; (exit status, what stdout still held, stderr)."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        rest = self.line(seconds)
        returncode = self.process.wait(timeout=seconds)
        assert self.process.stderr is not None
        return returncode, rest, self.process.stderr.read().decode("utf-8", "replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture()
def served() -> Any:
    started: list[Served] = []

    def start(*imports: str) -> Served:
        checker = Served(*imports)
        started.append(checker)
        return checker

    yield start
    for checker in started:
        checker.kill()


def _ready(checker: Served) -> dict[str, Any]:
    line = checker.line()
    value = json.loads(line)
    assert set(value) == {"ready"}, line
    ready = value["ready"]
    assert ready["contract"] == 2 and ready["checker"] == "proofgate-checker 1", ready
    assert isinstance(ready["lean"], str) and ready["lean"].startswith("v"), ready
    return dict(ready)


def _report(checker: Served, check: int) -> ExportAuditReport:
    report = parse_report(checker.line())
    assert isinstance(report, ExportAuditReport), report
    assert report.check == check, report
    return report


def test_two_requests_then_the_end_of_stdin(exports: tuple[Path, Path], served: Any) -> None:
    reference, submission = exports
    checker = served("Init")
    _ready(checker)

    checker.send(_request(1, submission, reference, "t1"))
    honest = _report(checker, 1)
    assert honest.outcome.value == "ok", (honest.outcome, honest.detail)
    assert honest.target == "t1" and honest.disallowed_axioms == [], honest
    assert "t1" in {d.name for d in honest.declarations if d.replayed}

    checker.send(_request(2, submission, reference, "t2"))
    wrong = _report(checker, 2)
    assert wrong.outcome.value == "type_mismatch", (wrong.outcome, wrong.detail)
    assert wrong.declaration == "t2", wrong

    # the same honest request again: judged on the imported environment, not on the first
    # check's (where t1 would already be declared: `target_not_replayed`)
    checker.send(_request(3, submission, reference, "t1"))
    again = _report(checker, 3)
    assert again.outcome.value == "ok", (again.outcome, again.detail)
    assert again.collisions == [], again

    returncode, rest, stderr = checker.finish()
    assert returncode == 0 and rest == b"", (returncode, rest, stderr[-2000:])


def test_a_line_that_is_no_request_ends_it_with_exit_2(
    exports: tuple[Path, Path], served: Any
) -> None:
    reference, submission = exports
    checker = served("Init")
    _ready(checker)
    line = json.loads(_request(4, submission, reference, "t1"))
    line["extra"] = True  # not exactly the request's keys
    checker.send(json.dumps(line).encode("utf-8") + b"\n")
    returncode, rest, stderr = checker.finish()
    assert returncode == 2 and rest == b"", (returncode, rest, stderr[-2000:])
    assert "not a request" in stderr, stderr[-2000:]


def test_a_header_outside_the_imported_environment_is_bad_input(
    exports: tuple[Path, Path], served: Any
) -> None:
    """`Init.Prelude` does not import `Init`, which both exports' headers import."""
    reference, submission = exports
    checker = served("Init.Prelude")
    _ready(checker)
    checker.send(_request(5, submission, reference, "t1"))
    report = _report(checker, 5)
    assert report.outcome.value == "bad_input", (report.outcome, report.detail)
    assert "not in this warm checker's environment" in report.detail, report.detail
    returncode, rest, stderr = checker.finish()
    assert returncode == 0 and rest == b"", (returncode, rest, stderr[-2000:])


@pytest.mark.parametrize(
    "argv",
    [
        ["--serve"],  # nothing to import
        ["--import", "Init"],  # --import without --serve
        ["--serve", "--import", "Init", "--module-root", "Init"],  # a check's option at start
    ],
)
def test_the_command_line_rules(argv: list[str]) -> None:
    result = _run(["lake", "env", str(CHECKER), *argv], timeout=120)
    assert result.returncode == 2 and result.stdout == "", (result.stdout, result.stderr[-2000:])
