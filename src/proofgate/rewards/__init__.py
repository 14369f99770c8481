"""Reward mode for reinforcement learning: raw completions in, ungameable rewards out.

- `proofgate.verify.completion`: reading a completion (reasoning stripped, its last fenced Lean
  block, a proof body or a restated theorem);
- `proofgate.rewards.reward`: the reward scale, the cheat class a verdict shows, the records;
- `proofgate.rewards.group`: a statement's group of completions, checked once each and spread
  over the pool; `score_group` is the in-process call;
- `proofgate.rewards.scorer`: `Scorer`, where the trainer adapters send a group (a server's
  `POST /v1/rewards` through the client, or `score_group` in-process);
- `proofgate.rewards.coalesce`: one-completion calls made concurrently, scored as groups;
- `proofgate.rewards.log`: `RewardLog`, the NDJSON reward log every adapter can append to
  (`reward_log=`), which `proofgate report LOG` reads;
- the trainer adapters, one module each: `trl` (`GRPOTrainer`), `verl` (`compute_score`),
  `verifiers` (a `verifiers.v1` task reward) and `openrlhf` (`POST /v1/rewards/openrlhf`'s shape).

The wire models are in `proofgate.models.rewards`; `POST /v1/rewards` is `proofgate.api.rewards`.
"""

from proofgate.rewards.coalesce import Coalescer
from proofgate.rewards.group import Checker, Group, Planned, score_group
from proofgate.rewards.log import RewardLog
from proofgate.rewards.reward import RewardScale, classify_cheat
from proofgate.rewards.scorer import Scorer, group_metrics
from proofgate.verify.completion import (
    Completion,
    plan_submission,
    read_completion,
    strip_reasoning,
)

__all__ = [
    "Checker",
    "Coalescer",
    "Completion",
    "Group",
    "Planned",
    "RewardLog",
    "RewardScale",
    "Scorer",
    "classify_cheat",
    "group_metrics",
    "plan_submission",
    "read_completion",
    "score_group",
    "strip_reasoning",
]
