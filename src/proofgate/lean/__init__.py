"""Running Lean: the REPL driver, its worker pool, header handling, and how workers are started
(in a sandbox of `proofgate.sandbox`)."""

from proofgate.lean.header import SplitSource, map_body_positions, split_header
from proofgate.lean.launch import LeanReplLauncher, ReplLauncher
from proofgate.lean.pool import PoolStats, ReplPool, ReplRun
from proofgate.lean.repl import ReplProcess
from proofgate.lean.reply import ReplReply

__all__ = [
    "LeanReplLauncher",
    "PoolStats",
    "ReplLauncher",
    "ReplPool",
    "ReplProcess",
    "ReplReply",
    "ReplRun",
    "SplitSource",
    "map_body_positions",
    "split_header",
]
