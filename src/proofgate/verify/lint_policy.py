"""The policy a lint checks against, built once for `proofgate lint` and the MCP server's `lint`.

A lint runs the policy pass alone, without Lean, so it must work where no Lean project is set up:
the `default` environment whose pins cannot be read falls back on the standard Mathlib roots, and
says so. Any other name must be an environment that exists; an unknown one is a `ConfigError`
naming the known ones (the CLI's usage error, the MCP's tool error).
"""

from __future__ import annotations

from dataclasses import dataclass

from proofgate.config import Settings
from proofgate.environments.registry import get_environment
from proofgate.exceptions import ConfigError
from proofgate.verify.policy import DEFAULT_IMPORT_ROOTS, PolicyConfig, Profile

__all__ = ["LintPolicy", "lint_policy"]


@dataclass(frozen=True)
class LintPolicy:
    """The policy to lint with, and a note for the reader when it is not the environment's own."""

    config: PolicyConfig
    note: str | None = None


def lint_policy(
    settings: Settings, environment: str, *, profile: Profile | None = None
) -> LintPolicy:
    """The lint's policy in `environment`: `profile` as asked (a local lint may run a looser
    profile than the settings', it gates nothing), else the settings'; the environment's roots."""
    chosen = profile or settings.policy
    try:
        env = get_environment(settings, environment)
    except ConfigError as exc:
        if environment != "default":
            raise
        config = PolicyConfig(
            profile=chosen, heartbeat_cap=settings.heartbeat_cap, import_roots=DEFAULT_IMPORT_ROOTS
        )
        return LintPolicy(config, f"{exc}; checking imports against the standard Mathlib roots")
    local = settings.model_copy(update={"policy": chosen})
    return LintPolicy(PolicyConfig.from_settings(local, environment=env))
