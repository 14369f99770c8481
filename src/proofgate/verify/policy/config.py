"""What the policy allows (its profile, caps and module roots) and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from proofgate.environments.registry import CORE_MODULE_ROOTS
from proofgate.models import Violation

if TYPE_CHECKING:
    from proofgate.config import Settings
    from proofgate.environments.registry import Environment

__all__ = ["DEFAULT_IMPORT_ROOTS", "PolicyConfig", "PolicyResult", "Profile", "effective_profile"]

Profile = Literal["strict", "permissive"]


#: Module roots of a standard Mathlib environment, for callers that name no environment.
DEFAULT_IMPORT_ROOTS = frozenset(
    {*CORE_MODULE_ROOTS, "Mathlib", "Batteries", "Aesop", "Qq", "ProofWidgets", "Plausible"}
)


def effective_profile(server: Profile, requested: Profile | None) -> Profile:
    """The profile a request runs under. The server's (PROOFGATE_POLICY) is the default and the
    loosest a request may ask for: a request may tighten it, never loosen it."""
    return "strict" if "strict" in (server, requested) else server


@dataclass(frozen=True)
class PolicyConfig:
    """What the policy allows: the profile, the caps, the importable module roots."""

    profile: Profile = "strict"
    heartbeat_cap: int = 1_000_000
    rec_depth_cap: int = 100_000
    import_roots: frozenset[str] = DEFAULT_IMPORT_ROOTS

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        profile: Profile | None = None,
        environment: Environment | None = None,
    ) -> PolicyConfig:
        """The policy for one request: the settings' cap, the profile it asked for if that is no
        looser than the settings' (`effective_profile`), the environment's roots."""
        roots = environment.module_roots if environment is not None else DEFAULT_IMPORT_ROOTS
        return cls(
            profile=effective_profile(settings.policy, profile),
            heartbeat_cap=settings.heartbeat_cap,
            import_roots=frozenset(roots),
        )

    @property
    def strict(self) -> bool:
        return self.profile == "strict"


@dataclass(frozen=True)
class PolicyResult:
    """The refusals, the notes (permissive rewrites), and the text Lean should compile."""

    violations: tuple[Violation, ...]
    notes: tuple[Violation, ...] = ()
    code: str = ""
    statement: str | None = None  # a locked check's statement, as the audit should compile it

    @property
    def ok(self) -> bool:
        return not self.violations
