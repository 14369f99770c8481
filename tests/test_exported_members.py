"""`proofgate.__all__` is sorted, importable, and names every public object (as httpx checks)."""

from __future__ import annotations

import inspect

import proofgate


def test_all_is_sorted() -> None:
    assert proofgate.__all__ == sorted(proofgate.__all__)


def test_every_exported_name_is_importable() -> None:
    for name in proofgate.__all__:
        assert getattr(proofgate, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from proofgate import *", namespace)  # noqa: S102 - the star import is what is tested
    assert set(proofgate.__all__) <= set(namespace)


def test_every_public_object_is_exported() -> None:
    public = {
        name
        for name, value in vars(proofgate).items()
        if (not name.startswith("_") or name == "__version__") and not inspect.ismodule(value)
    }
    assert public == set(proofgate.__all__)
