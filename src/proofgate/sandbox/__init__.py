"""Where every Lean process runs: a process group of its own, or a bubblewrap jail with a cgroup.

- `process`: the spawner interface (`SpawnSpec`, `Limits`, `ManagedProcess`, `Spawner`);
- `group`: the unjailed spawner (one process group, rlimits, the memory watchdog);
- `bwrap`: the bubblewrap spawner, its detection, and `run_jailed` for one-shot processes;
- `jail`: a jailed process tree and its release; `cgroups`: cgroup v1/v2 limits;
- `launch`: how both start a child with no Python between fork and exec (cgroup, rlimits, pidfds);
- `proctree`: reading a process tree from /proc (members, private memory, tasks);
- `watchdog`: the one watchdog both spawners use where no cgroup caps a tree.

A spawner that cannot start a process raises `proofgate.exceptions.SpawnFailed`.
"""

from proofgate.sandbox import bwrap
from proofgate.sandbox.bwrap import *  # noqa: F403  (the names in bwrap.__all__)

__all__ = list(bwrap.__all__)
