"""The pinned Lean environments proofgate serves: where they are (`registry`), which toolchain and
REPL each needs (`toolchain`), how to build them (`setup`) and how to tell what is missing (`doctor`)."""

from proofgate.environments.registry import Environment, discover_environments, get_environment

__all__ = ["Environment", "discover_environments", "get_environment"]
