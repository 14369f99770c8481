"""Every CLI message prints as written: square brackets (an extra's name, a rule, a file name) are
never read as Rich markup (issue 30, defect 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reports.sample_results import write_sample_results

#: Run the CLI with some modules made unimportable, as on an install without that extra.
_WITHOUT = (
    "import sys\n"
    "for name in sys.argv[1].split(','): sys.modules[name] = None\n"
    "sys.argv = ['proofgate', *sys.argv[2:]]\n"
    "from proofgate.cli import main\n"
    "main()\n"
)


def _proofgate(
    tmp_path: Path, *args: str, without: str = "nothing"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PROOFGATE_DATA_DIR": str(tmp_path / "data"),
        "PROOFGATE_ELAN_HOME": str(tmp_path / "elan"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, without, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


def test_the_report_extras_install_hint_names_the_extra(tmp_path: Path) -> None:
    write_sample_results(tmp_path / "results.jsonl", count=20)
    done = _proofgate(tmp_path, "report", "results.jsonl", "-o", "r", without="matplotlib")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'proofgate[report]'" in done.stderr


def test_the_mcp_extras_install_hint_names_the_extra(tmp_path: Path) -> None:
    done = _proofgate(tmp_path, "mcp", without="mcp,mcp.server,mcp.server.fastmcp")
    assert done.returncode != 0
    assert "pip install 'proofgate[mcp]'" in done.stderr


def test_the_ray_extras_install_hint_names_the_extra(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"id": "a", "code": "theorem t : True := trivial"}\n')
    done = _proofgate(tmp_path, "batch", "in.jsonl", "--out", "out.jsonl", "--ray", without="ray")
    assert done.returncode != 0
    assert "proofgate[ray]" in done.stderr


@pytest.mark.parametrize("name", ["proof[red].lean", "[bold]x.lean"])
def test_a_file_name_with_brackets_is_shown_as_written(tmp_path: Path, name: str) -> None:
    missing = _proofgate(tmp_path, "lint", name)
    assert missing.returncode == 2
    assert f"cannot read file {name}: it does not exist" in missing.stderr
    (tmp_path / name).write_text(
        "set_option maxHeartbeats 9999999999 in\ntheorem t : True := trivial\n"
    )
    noted = _proofgate(tmp_path, "lint", name, "--profile", "permissive")
    assert noted.returncode == 0, noted.stdout + noted.stderr
    assert f"note: {name}:1:" in noted.stderr and "[heartbeats]" in noted.stderr
