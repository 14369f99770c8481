"""proofgate: Lean-backed proof verification with verdicts that cannot be gamed."""

from proofgate.__about__ import __version__
from proofgate.exceptions import ProofgateError
from proofgate.models import Submission, Verdict, VerdictStatus

__all__ = sorted(["ProofgateError", "Submission", "Verdict", "VerdictStatus", "__version__"])
