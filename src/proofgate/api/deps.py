"""Dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from proofgate.config import Settings
from proofgate.service import CheckerService


def get_service(request: Request) -> CheckerService:
    return request.app.state.service


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings
