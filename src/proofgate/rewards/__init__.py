"""Reward mode for reinforcement learning: raw completions in, ungameable rewards out.

- `proofgate.rewards.completion`: reading a completion (reasoning stripped, its last fenced Lean
  block, a proof body or a restated theorem);
- `proofgate.rewards.reward`: the reward scale, the cheat class a verdict shows, the records;
- `proofgate.rewards.group`: a statement's group of completions, checked once each and spread
  over the pool; `score_group` is the call trainer adapters make.

The wire models are in `proofgate.models.rewards`; `POST /v1/rewards` is `proofgate.api.rewards`.
"""

from proofgate.rewards.completion import Completion, read_completion, strip_reasoning
from proofgate.rewards.group import Checker, Group, Planned, plan_submission, score_group
from proofgate.rewards.reward import RewardScale, classify_cheat

__all__ = [
    "Checker",
    "Completion",
    "Group",
    "Planned",
    "RewardScale",
    "classify_cheat",
    "plan_submission",
    "read_completion",
    "score_group",
    "strip_reasoning",
]
