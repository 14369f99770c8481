"""The Ray backend's scheduling without Ray: fake actor handles answer at once, so header
affinity, the retry of a lost actor's items and the give-up on a poison item are exact."""

from __future__ import annotations

import concurrent.futures
import json
from collections import defaultdict
from typing import Any

from proofgate.batch.executors.ray_cluster import RayExecutor, _Actor
from proofgate.batch.input import BatchItem, header_key
from proofgate.models import Submission, Verdict, VerdictStatus


class ActorDied(Exception):
    """Stands in for ray.exceptions.RayActorError."""


class _Ref:
    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self._future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if error is not None:
            self._future.set_exception(error)
        else:
            self._future.set_result(value)

    def future(self) -> concurrent.futures.Future[Any]:
        return self._future


class _Method:
    def __init__(self, call: Any) -> None:
        self.remote = call


class FakeHandle:
    """An actor handle whose calls answer at once; `dies_on` kills it when it gets that code."""

    def __init__(self, name: str, log: list[tuple[str, str]], dies_on: str | None = None) -> None:
        self.name = name
        self.dead = False
        self._log = log
        self._dies_on = dies_on
        self.check = _Method(self._check)
        self.start = _Method(lambda: _Ref({"pid": 1, "ready": True, "reasons": []}))

    def _check(self, submission_json: str) -> _Ref:
        code = json.loads(submission_json)["code"]
        if self._dies_on is not None and self._dies_on in code:
            self.dead = True
        if self.dead:
            return _Ref(error=ActorDied(self.name))
        self._log.append((self.name, code))
        verdict = Verdict(status=VerdictStatus.compiled, kind="compile", reason=self.name)
        return _Ref({"verdict": verdict.model_dump_json()})


class _FakeRemote:
    """What `ray.remote(CheckerActor).options(...)` returns: makes replacement actors."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.made = 0
        self._log = log

    def remote(self, factory: Any) -> FakeHandle:
        self.made += 1
        return FakeHandle(f"replacement-{self.made}", self._log)


def _backend(
    *handles: FakeHandle, log: list[tuple[str, str]], max_attempts: int = 3
) -> RayExecutor:
    backend = RayExecutor(None, concurrency=2, max_attempts=max_attempts)
    backend._actors = [_Actor(handle, number) for number, handle in enumerate(handles, start=1)]
    backend._started = len(handles)
    backend._target = len(handles)
    backend._lost_errors = (ActorDied,)
    backend._remote = _FakeRemote(log)
    return backend


def _items(headers: dict[str, int]) -> list[BatchItem]:
    items = []
    for header, count in headers.items():
        for index in range(count):
            code = f"{header}\n-- {header} {index}\ntheorem x : True := trivial\n"
            items.append(BatchItem(f"{header}-{index}", len(items) + 1, Submission(code=code)))
    return items


async def _run(backend: RayExecutor, items: list[BatchItem]) -> dict[str, Any]:
    return {record.id: record async for record in backend.check_many(items)}


async def test_each_header_stays_on_the_actor_that_has_it_warm() -> None:
    log: list[tuple[str, str]] = []
    backend = _backend(FakeHandle("a", log), FakeHandle("b", log), log=log)
    items = _items({"import Mathlib": 40, "import Aesop": 20, "import Batteries": 6})
    records = await _run(backend, items)
    assert len(records) == 66 and all(r.verdict is not None for r in records.values())
    actors_by_header: dict[str, set[str]] = defaultdict(set)
    for actor, code in log:
        actors_by_header[header_key(Submission(code=code))[1]].add(actor)
    assert actors_by_header["import Aesop"] == {"b"}
    assert actors_by_header["import Batteries"] == {
        "b"
    }  # the free actor takes the unclaimed header
    # Mathlib is shared only once nothing else waits: after b's first Mathlib item, only Mathlib
    first_shared = next(
        i for i, (actor, code) in enumerate(log) if actor == "b" and "Mathlib" in code
    )
    assert all("Mathlib" in code for _, code in log[first_shared:])


async def test_a_lost_actors_items_are_retried_on_another() -> None:
    log: list[tuple[str, str]] = []
    doomed = FakeHandle("a", log, dies_on="import Mathlib\n-- import Mathlib 5\n")
    backend = _backend(doomed, FakeHandle("b", log), log=log)
    records = await _run(backend, _items({"import Mathlib": 30}))
    assert len(records) == 30 and all(r.verdict is not None for r in records.values())
    retried = {item_id for item_id, r in records.items() if r.attempts > 1}
    assert "import Mathlib-5" in retried
    assert all(records[i].verdict.reason != "a" for i in retried)  # type: ignore[union-attr]
    assert backend._remote.made == 1  # one replacement for the one lost actor
    assert doomed.dead and doomed not in backend.actor_handles()


async def test_an_item_that_kills_every_actor_ends_as_an_infrastructure_error() -> None:
    log: list[tuple[str, str]] = []

    class Poisoned(_FakeRemote):
        def remote(self, factory: Any) -> FakeHandle:
            self.made += 1
            return FakeHandle(f"replacement-{self.made}", log, dies_on="poison")

    backend = _backend(
        FakeHandle("a", log, dies_on="poison"),
        FakeHandle("b", log, dies_on="poison"),
        log=log,
        max_attempts=3,
    )
    backend._remote = Poisoned(log)
    items = _items({"import Mathlib": 8})
    items.append(BatchItem("bad", 9, Submission(code="import Mathlib\n-- poison\n")))
    records = await _run(backend, items)
    assert len(records) == 9
    bad = records["bad"]
    assert bad.error is not None and bad.error.kind == "infrastructure" and bad.attempts == 3
    assert all(records[f"import Mathlib-{i}"].verdict is not None for i in range(8))
