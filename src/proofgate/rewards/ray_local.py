"""A private Ray cluster of several nodes on this machine, for tests and `proofgate bench --rewards`.

Every node, the driver and the Ray workers use 127.0.0.1 only (Ray otherwise advertises the
machine's interface address), usage statistics are off and there is no dashboard: nothing it does
leaves the machine. Nodes are `ray.cluster_utils.Cluster` nodes: separate raylets with their own
resources, as separate machines would be, sharing this machine's cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from proofgate.batch.executors.ray_cluster import import_ray
from proofgate.exceptions import ConfigError

__all__ = ["LOOPBACK", "local_cluster"]

LOOPBACK = "127.0.0.1"
#: What every Ray process started here inherits: no usage statistics, loopback addresses only
#: (Ray resolves "localhost" to the machine's interface address unless it thinks it cannot form a
#: multi-machine cluster, which this switch says).
RAY_ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@contextmanager
def local_cluster(
    nodes: int,
    *,
    cpus_per_node: int = 1,
    env_vars: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """Start `nodes` Ray nodes on 127.0.0.1 and connect this process to them; yield the `Cluster`
    (its `add_node`/`remove_node` work). Everything started is stopped on the way out."""
    saved = {name: os.environ.get(name) for name in RAY_ENVIRONMENT}
    os.environ.update(RAY_ENVIRONMENT)
    try:
        with (
            _loopback_only() as (ray, cluster_type),
            _nodes(ray, cluster_type, nodes, cpus_per_node, env_vars) as cluster,
        ):
            yield cluster
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _loopback_only() -> Iterator[tuple[Any, Any]]:
    """Ray and its `Cluster`, resolving "localhost" to 127.0.0.1 while inside."""
    ray = import_ray()
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        raise ConfigError("Ray is already initialised in this process: shut it down first")
    # Read at Ray's import: a Ray imported earlier in this process needs telling as well.
    multi_machine = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield ray, Cluster
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = multi_machine


@contextmanager
def _nodes(
    ray: Any, cluster_type: Any, nodes: int, cpus_per_node: int, env_vars: Mapping[str, str] | None
) -> Iterator[Any]:
    node_args = {"num_cpus": cpus_per_node, "node_ip_address": LOOPBACK}
    cluster = cluster_type(
        initialize_head=True,
        connect=False,
        head_node_args={**node_args, "include_dashboard": False},
    )
    try:
        for _ in range(nodes - 1):
            cluster.add_node(**node_args)
        cluster.wait_for_nodes()
        ray.init(
            address=cluster.address,
            _node_ip_address=LOOPBACK,
            log_to_driver=False,
            runtime_env={"env_vars": {**RAY_ENVIRONMENT, **(env_vars or {})}},
        )
        try:
            yield cluster
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()
