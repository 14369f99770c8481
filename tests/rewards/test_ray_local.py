from __future__ import annotations

import sys

import pytest

from proofgate.exceptions import ConfigError
from proofgate.rewards.ray_local import local_cluster


def test_a_local_cluster_without_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'proofgate\[ray\]'"):
        with local_cluster(1):
            pass
