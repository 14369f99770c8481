"""`GET /v1/environments` over real uvicorn: with the fake and with the real service's discovery."""

from __future__ import annotations

from pathlib import Path

import httpx

from proofgate.api.app import create_app
from proofgate.config import Settings
from proofgate.models.http import EnvironmentInfo
from proofgate.service import CheckerService
from tests.api.conftest import LiveApp
from tests.support.live_app import run_app


def test_environments_are_listed_with_versions(live: LiveApp) -> None:
    response = live.http.get("/v1/environments")
    assert response.status_code == 200
    [default] = [EnvironmentInfo.model_validate(entry) for entry in response.json()]
    assert default.name == "default" and default.lean == "v4.32.0"


def test_the_real_service_lists_the_pinned_projects(tmp_path: Path) -> None:
    project = tmp_path / "project"
    other = project / "LeanProjects" / "old"
    other.mkdir(parents=True)
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    (project / "lake-manifest.json").write_text(
        '{"packages": [{"name": "mathlib", "rev": "81a5d257"}, {"name": "REPL", "rev": "r1"}]}'
    )
    (other / "lean-toolchain").write_text("leanprover/lean4:v4.20.0\n")
    settings = Settings(
        data_dir=tmp_path / "data", project_dir=project, elan_home=tmp_path / "elan"
    )
    with run_app(create_app(settings, service=CheckerService(settings))) as url:
        listed = httpx.get(url + "/v1/environments", timeout=30).json()
    by_name = {entry["name"]: entry for entry in listed}
    assert by_name["default"]["mathlib"] == "81a5d257" and by_name["default"]["repl"] == "r1"
    assert by_name["old"]["lean"] == "v4.20.0" and by_name["old"]["mathlib"] is None
