"""The README's examples that need Lean, run as written on the stand-in stack (issue 30).

Each fenced block of README.md that says `needs Lean` is read from the README itself and run here
against a proofgate server on 127.0.0.1 backed by the stand-in REPL, compiler and checker (or, for
a command without `--server`, the same stand-ins in this process). Only the server's address is
replaced (and a synopsis's `[--option]` and placeholders filled in), so an edit that breaks an
example breaks its test. The LeanDojo example must answer `lean_dojo.ProofFinished`, as its comment
says. Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from proofgate.api.app import create_app
from proofgate.batch.output import read_records
from proofgate.cli import app as cli_app
from proofgate.config import Settings
from proofgate.sandbox.group import ProcessGroupSpawner
from proofgate.service import CheckerService
from tests.standins.repl import standin_launcher
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: The server address the README's examples use, and the other spellings of it they show.
README_SERVERS = ("http://127.0.0.1:8000", "http://host:8000", "localhost:8000")
STATEMENT = "import Mathlib\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"
#: Each README example that needs Lean, by a line only it has.
EXAMPLES = {
    "curl": "curl -s http://127.0.0.1:8000/v1/check",
    "client": "with proofgate.Client(",
    "dojo": "from proofgate.dojo import Dojo",
    "batch": "proofgate batch attempts.jsonl --out results.jsonl",
    "triage": "proofgate triage Statement.lean",
    "ci": "proofgate ci --lock",
}

runner = CliRunner()


@dataclass(frozen=True)
class Block:
    language: str
    text: str


def readme_blocks() -> list[Block]:
    return [
        Block(language, text)
        for language, text in re.findall(r"^```(\w*)\n(.*?)^```", README, re.DOTALL | re.MULTILINE)
    ]


def example(name: str) -> Block:
    """The one README block holding `EXAMPLES[name]`."""
    found = [block for block in readme_blocks() if EXAMPLES[name] in block.text]
    assert len(found) == 1, f"README.md should have one block with {EXAMPLES[name]!r}: {found}"
    return found[0]


def on(url: str, text: str) -> str:
    """`text` with the README's server address replaced by the test server's."""
    for address in README_SERVERS:
        text = text.replace(address, url)
    return text


def shell_commands(block: Block) -> list[str]:
    """The block's commands, continuation lines joined, comment lines dropped."""
    joined = block.text.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


# --- the stand-in stack ---------------------------------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path) -> Stack:
    (tmp_path / "stack").mkdir()
    return make_stack(tmp_path / "stack", cache_enabled=False)


@pytest.fixture
def server(stack: Stack) -> Iterator[str]:
    """A proofgate server on 127.0.0.1 on the stand-ins; its logs go to the real stderr."""
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    try:
        with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
            yield url
    finally:
        structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy between the examples and the loopback server."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def local(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For commands without `--server`: the CLI's in-process service runs on the stand-ins (the
    stack's settings through `PROOFGATE_*`); logs go to the real stderr. Answers a working dir."""
    settings = stack.settings
    environ = {
        "DATA_DIR": tmp_path / "data",
        "ELAN_HOME": settings.elan_home,
        "COMPILE_COMMAND": settings.compile_command,
        "CHECKER_COMMAND": settings.checker_command,
        "WORKERS": settings.workers,
        "SPARE_WORKERS": settings.spare_workers,
        "CACHE_ENABLED": "false",
    }
    for name, value in environ.items():
        monkeypatch.setenv(f"PROOFGATE_{name}", str(value))

    def on_standins(settings: Settings) -> CheckerService:
        return CheckerService(
            settings, spawner=ProcessGroupSpawner(), launcher=standin_launcher(settings)
        )

    monkeypatch.setattr("proofgate.backends.CheckerService", on_standins)
    monkeypatch.setattr("proofgate.logs.configure_logging", lambda *args, **kwargs: None)
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.__stderr__))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(command: str) -> Any:
    """Run one `proofgate ...` line of the README in this process."""
    words = shlex.split(command, comments=True)
    assert words[0] == "proofgate", command
    return runner.invoke(cli_app, words[1:])


# --- every example that needs Lean is run here ----------------------------------------------------


def test_every_example_that_needs_lean_is_run_here() -> None:
    marked = [block for block in readme_blocks() if "needs Lean" in block.text]
    assert len(marked) >= len(EXAMPLES)
    for block in marked:
        assert [n for n, line in EXAMPLES.items() if line in block.text], block.text
    for name in EXAMPLES:
        assert "needs Lean" in example(name).text, name


# --- HTTP API -------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_the_curl_check(server: str) -> None:
    (command,) = shell_commands(example("curl"))
    done = subprocess.run(
        ["bash", "-c", on(server, command)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    verdict = json.loads(done.stdout)
    assert verdict["status"] == "proved" and verdict["target"] == "t", verdict


@pytest.mark.timeout(90)
def test_the_python_client(server: str) -> None:
    code = on(server, example("client").text)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md (proofgate.Client)", "exec"), {})
    status, target = printed.getvalue().split()[:2]
    assert status == "proved" and target == "t", printed.getvalue()


# --- LeanDojo -------------------------------------------------------------------------------------


@pytest.mark.timeout(90)
def test_the_leandojo_example_runs_as_written(server: str, lean_dojo: Any) -> None:
    block = example("dojo")
    code = on(server, block.text)
    assert code.count(server) == 1 and code.replace(server, "") == "".join(
        block.text.split("http://127.0.0.1:8000")
    )  # the address is all that changed
    promised = re.search(r"# (lean_dojo\.\w+)", block.text)
    assert promised is not None, "the example says what run_tac answers"
    names: dict[str, Any] = {}
    exec(compile(code, "README.md (LeanDojo)", "exec"), names)
    result, dojo = names["result"], names["dojo"]
    assert type(result) is getattr(lean_dojo, promised[1].split(".")[1]), result
    assert isinstance(result, lean_dojo.ProofFinished) and dojo.is_successful
    assert dojo.session_id is None  # the `with` closed the session


# --- batch, report, triage, CI --------------------------------------------------------------------


def _batch_input(directory: Path) -> None:
    honest = STATEMENT.replace("by sorry", "Nat.add_comm a b")
    attempts = [
        {"id": "p1", "statement": STATEMENT, "code": honest},
        {"id": "p2", "statement": STATEMENT, "proof": "by omega"},
    ]
    (directory / "attempts.jsonl").write_text("".join(json.dumps(a) + "\n" for a in attempts))


def _batch(command: str, directory: Path) -> None:
    (directory / "results.jsonl").unlink(missing_ok=True)
    result = cli(command)
    assert result.exit_code == 0, (command, result.output)
    records = list(read_records(directory / "results.jsonl"))
    assert sorted(r.id for r in records) == ["p1", "p2"], command
    assert {r.verdict.status for r in records if r.verdict} == {"proved"}, command


@pytest.mark.timeout(120)
def test_the_batch_and_report_commands(server: str, local: Path) -> None:
    _batch_input(local)
    commands = [c for c in shell_commands(example("batch")) if "--ray" not in c]
    assert len(commands) == 3  # the local pool, --server, report (--ray: the next test)
    for command in commands:
        if command.startswith("proofgate batch"):
            _batch(on(server, command), local)
        else:
            result = cli(command)
            assert result.exit_code == 0, (command, result.output)
    assert (local / "report" / "report.html").is_file() and (
        local / "report" / "summary.md"
    ).is_file()


@pytest.mark.timeout(180)
def test_the_batch_on_ray(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--ray` alone: a private Ray on this machine, its actors on the stand-ins (as
    tests/batch/executors/test_ray_cluster.py builds them); two CPUs, usage stats off."""
    pytest.importorskip("ray", reason="Ray is not installed here (the `ray` extra)")
    from proofgate.batch.executors import ray_cluster
    from tests.batch.executors.ray_stack import actor_service

    tag = f"readme-ray-{os.getpid()}"
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setattr(
        ray_cluster,
        "RayExecutor",
        functools.partial(
            ray_cluster.RayExecutor,
            service_factory=functools.partial(actor_service, str(local / "ray"), tag),
            init_options={
                "num_cpus": 2,
                "runtime_env": {"env_vars": {"PYTHONPATH": str(ROOT)}},
            },
        ),
    )
    _batch_input(local)
    (command,) = [c for c in shell_commands(example("batch")) if "--ray" in c]
    _batch(command, local)


@pytest.mark.timeout(120)
def test_the_triage_commands(server: str, local: Path) -> None:
    (local / "Statement.lean").write_text(STATEMENT, encoding="utf-8")
    (local / "statements.jsonl").write_text(json.dumps({"id": "s1", "statement": STATEMENT}) + "\n")
    commands = shell_commands(example("triage"))
    assert len(commands) == 3
    synopsis, batch, curl = commands
    synopsis = on(server, synopsis).replace("[--server URL]", f"--server {server}")
    for form in (synopsis.replace("[--json]", ""), synopsis.replace("[--json]", "--json")):
        result = cli(form)
        assert result.exit_code in (0, 1), (form, result.output)  # clean, or flagged
        assert "t1" in result.output, result.output
    result = cli(batch)
    assert result.exit_code in (0, 1), result.output
    (line,) = (local / "triaged.jsonl").read_text().splitlines()
    assert json.loads(line)["id"] == "s1", line
    request = on(server, curl).replace('"..."', json.dumps(STATEMENT))
    done = subprocess.run(["bash", "-c", request], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["target"] == "t1" and answer["elaboration"] == "ok" and answer["probes"], answer


@pytest.mark.timeout(120)
def test_the_ci_commands(server: str, local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = local / "repo"
    (repo / "Demo").mkdir(parents=True)
    (repo / "Demo" / "Basic.lean").write_text(
        "theorem two_eq : 2 = 2 := rfl\n\ntheorem small : 3 < 5 := by\n  decide\n"
    )
    monkeypatch.chdir(repo)  # `proofgate ci` works on `.`
    lock, check, remote = shell_commands(example("ci"))
    assert cli(lock).exit_code == 0 and (repo / "proofgate.toml").is_file()
    result = cli(check)
    assert result.exit_code == 0 and "2 proved" in result.output, result.output
    remote = on(server, remote).replace(" PATH ", f" {repo} ")
    result = cli(remote)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert [r["status"] for r in report["results"]] == ["proved", "proved"], report
    assert (repo / "junit.xml").is_file() and (repo / "results.sarif").is_file()
