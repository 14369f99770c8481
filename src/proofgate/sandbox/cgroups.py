"""Memory and task caps for one jailed process tree, in a cgroup (v1 memory+pids, or v2 unified).

`find_cgroup_tree` looks at a cgroup mount (default `/sys/fs/cgroup`, configurable so tests can
point it at a fake v2 tree) and returns a `CgroupTree` that creates one `Cgroup` per process tree,
or None with the reason when no cgroup is writable (the sandbox then falls back to an RSS watchdog).
A process joins a cgroup by writing "0" into each of `Cgroup.join_files` before it execs, so even
its first fork is counted. New cgroups are nested under the service's own cgroup, so whatever caps
the service itself runs under still hold over its jails.

A jail's cgroup can hold cgroups of its own (`Cgroup.nest`), each capping one member of the tree
within the jail's caps: a zygote's children, one per request. Under v2 the jail's own processes
then live in a leaf (`Cgroup.prepare_nesting`, before any joins), as v2 allows processes only in
cgroups that enable no controller for children. Every reader, kill and removal takes the nested
cgroups with their parent.

This module finds the tree and names every class; they live in `proofgate.sandbox.cgroup_base`
(what both versions share) and `proofgate.sandbox.cgroup_versions`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from proofgate.sandbox.cgroup_base import NAME_PREFIX, Cgroup, CgroupTree
from proofgate.sandbox.cgroup_versions import (
    JAIL_LEAF,
    SERVICE_LEAF,
    CgroupV1,
    CgroupV1Tree,
    CgroupV2,
    CgroupV2Tree,
)

__all__ = [
    "JAIL_LEAF",
    "NAME_PREFIX",
    "SERVICE_LEAF",
    "Cgroup",
    "CgroupTree",
    "CgroupV1",
    "CgroupV1Tree",
    "CgroupV2",
    "CgroupV2Tree",
    "find_cgroup_tree",
]

DEFAULT_ROOT = Path("/sys/fs/cgroup")


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per controller ("" is the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        text = Path("/proc/self/cgroup").read_text(encoding="ascii")
    except OSError:
        return paths
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _nested(mount: Path, own: str | None) -> Path:
    """The service's own cgroup under `mount` when it exists there (it does on a real mount)."""
    if own:
        candidate = mount / own.lstrip("/")
        if candidate.is_dir():
            return candidate
    return mount


def _probe(tree: CgroupTree) -> None:
    """Create and remove one cgroup: the cheapest proof that the tree is writable."""
    cgroup = tree.create(f"{NAME_PREFIX}{os.getpid()}-probe-{secrets.token_hex(2)}")
    for directory in cgroup._directories():
        directory.rmdir()


def find_cgroup_tree(root: Path | None = None) -> tuple[CgroupTree | None, str]:
    """The writable cgroup tree under `root` (default /sys/fs/cgroup), or None and why not."""
    mount = root or DEFAULT_ROOT
    own = _own_cgroups()
    tree: CgroupTree
    if (mount / "cgroup.controllers").is_file():
        tree = CgroupV2Tree(_nested(mount, own.get("")))
    elif (mount / "memory").is_dir() and (mount / "pids").is_dir():
        tree = CgroupV1Tree(
            _nested(mount / "memory", own.get("memory")), _nested(mount / "pids", own.get("pids"))
        )
    else:
        return None, f"no cgroup v2 or v1 memory+pids hierarchy at {mount}"
    try:
        if isinstance(tree, CgroupV2Tree):
            tree.enable_controllers()
        _probe(tree)
    except OSError as exc:
        return None, f"{tree.describe()} not usable: {exc.strerror or exc}"
    return tree, tree.describe()
