"""Triage of a statement before anyone tries to prove it: does it elaborate, and is it false,
vacuous or trivially provable (`runner`), with feedback a person can act on (`feedback`)."""

from proofgate.triage.runner import Triager

__all__ = ["Triager"]
