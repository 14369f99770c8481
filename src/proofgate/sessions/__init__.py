"""Interactive proof sessions: a tree of proof states on a long-lived worker, replayed on a fresh
one when that worker dies (`manager`: lifetimes and limits; `tree`: the states; `tactics`: the
policy for one tactic)."""

from proofgate.sessions.manager import SessionManager

__all__ = ["SessionManager"]
