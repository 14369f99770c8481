"""`Scorer`: where trainer adapters send a statement's completions, a server or this process.

`Scorer(url, api_key=...)` posts each group to `POST /v1/rewards` through `proofgate.AsyncClient`
(or the blocking `Client`, for a trainer that calls its reward function in threads);
`Scorer(service=...)` checks in-process through `score_group` on a started `CheckerService` (or a
`LocalBackend`'s), whose calls must come from the event loop it was started on;
`Scorer(router=...)` sends each group to a started `proofgate.rewards.ray.RewardRouter` (a
service per node of the trainer's Ray cluster). Either way the answer is one `RewardRecord` per
completion, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import httpx

from proofgate.client import DEFAULT_TIMEOUT, AsyncClient, Client
from proofgate.models.check import PolicyProfile
from proofgate.models.rewards import RewardOptions, RewardRecord, RewardRequest
from proofgate.models.tenant import LOCAL
from proofgate.rewards.group import Checker, score_group

__all__ = ["Scorer", "group_metrics"]

#: The most completions one request carries: a larger call is split (the server's default
#: PROOFGATE_MAX_BATCH_ITEMS is far above it; a group of a few hundred is one round of GRPO).
MAX_GROUP = 256


class Router(Protocol):
    """Where a whole group is scored at once: `proofgate.rewards.ray.RewardRouter`."""

    async def score(self, request: RewardRequest) -> list[RewardRecord]: ...


class Scorer:
    """Rewards for a statement's completions, from a proofgate server (`url`), in-process
    (`service`) or on a Ray cluster (`router`). The request options (`environment`, `timeout`,
    `policy`, `reward`, `unfenced`) are the same for every group; `policy` None is the server's
    (PROOFGATE_POLICY)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        service: Checker | None = None,
        router: Router | None = None,
        tenant: str = LOCAL,
        environment: str = "default",
        timeout: float | None = None,
        policy: PolicyProfile | None = None,
        reward: RewardOptions | None = None,
        unfenced: bool = False,
        concurrency: int = 4,
        http_timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        max_group: int = MAX_GROUP,
    ) -> None:
        if sum(given is not None for given in (url, service, router)) != 1:
            raise TypeError(
                "give a server `url`, an in-process `service` or a Ray `router`, one of them"
            )
        self.url = url
        self.router = router
        self.api_key = api_key
        # a `LocalBackend` (whose `check` takes no tenant) is checked through its service
        inner = getattr(service, "service", None)
        self.checker: Checker | None = inner if inner is not None else service
        self.tenant = tenant
        self.concurrency = concurrency
        self.max_group = max(1, max_group)
        self._options: dict[str, Any] = {
            "environment": environment,
            "timeout": timeout,
            "policy": policy,
            "reward": reward or RewardOptions(),
            "unfenced": unfenced,
        }
        self._http_timeout = http_timeout
        self._transport = transport
        self._client: AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def environment(self) -> str:
        return str(self._options["environment"])

    def request(
        self, statement: str, completions: Sequence[str], *, environment: str | None = None
    ) -> RewardRequest:
        """The `POST /v1/rewards` body for these completions (in `environment`, if given)."""
        options = dict(self._options)
        if environment:
            options["environment"] = environment
        return RewardRequest(statement=statement, completions=list(completions), **options)

    def _requests(
        self, statement: str, completions: Sequence[str], environment: str | None
    ) -> list[RewardRequest]:
        """The requests for these completions: one per `max_group` of them, in order."""
        size = self.max_group
        return [
            self.request(statement, completions[i : i + size], environment=environment)
            for i in range(0, len(completions), size)
        ]

    async def score(
        self, statement: str, completions: Sequence[str], *, environment: str | None = None
    ) -> list[RewardRecord]:
        """One record per completion, in order (indices count from 0 over all of them), in the
        scorer's environment or `environment`."""
        requests = self._requests(statement, completions, environment)
        return _joined([await self._score_chunk(request) for request in requests])

    async def score_each(
        self, statements: Sequence[str], completions: Sequence[str]
    ) -> list[RewardRecord]:
        """One record per completion, each against its own statement, in the completions' order:
        a statement's completions are one group, the groups scored at once."""
        groups = _by_statement(statements, completions)
        answers = await asyncio.gather(
            *(self.score(statement, [completions[i] for i in idx]) for statement, idx in groups)
        )
        return _in_call_order(groups, answers)

    async def _score_chunk(self, request: RewardRequest) -> list[RewardRecord]:
        if self.router is not None:
            return await self.router.score(request)
        if self.checker is not None:
            return await score_group(
                self.checker, request, tenant=self.tenant, concurrency=self.concurrency
            )
        return (await self._async_client().rewards(request)).records

    def score_blocking(
        self, statement: str, completions: Sequence[str], *, environment: str | None = None
    ) -> list[RewardRecord]:
        """`score` for a caller without an event loop (a trainer's worker thread): the server's
        blocking client. An in-process service needs its own loop: use `score` there."""
        if self.url is None:
            raise TypeError(
                "an in-process or Ray scorer is awaited on an event loop: use `await "
                "scorer.score(...)` (the adapters' async functions), or give a server `url`"
            )
        if not completions:
            return []
        requests = self._requests(statement, completions, environment)
        with Client(self.url, api_key=self.api_key, timeout=self._http_timeout) as client:
            return _joined([client.rewards(request).records for request in requests])

    def score_each_blocking(
        self, statements: Sequence[str], completions: Sequence[str]
    ) -> list[RewardRecord]:
        """`score_each` through the blocking client, one statement's group after another."""
        groups = _by_statement(statements, completions)
        answers = [self.score_blocking(s, [completions[i] for i in idx]) for s, idx in groups]
        return _in_call_order(groups, answers)

    def _async_client(self) -> AsyncClient:
        """The async client of the running loop (an httpx client is tied to its loop: a trainer
        that runs its reward functions on a new loop gets a new one)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            assert self.url is not None
            self._client = AsyncClient(
                self.url,
                api_key=self.api_key,
                timeout=self._http_timeout,
                transport=self._transport,
            )
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the server connection (the in-process service is its owner's to close)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _joined(answers: Sequence[Sequence[RewardRecord]]) -> list[RewardRecord]:
    """The records of consecutive requests as one list, indices counting over all of them."""
    records: list[RewardRecord] = []
    for answered in answers:
        offset = len(records)
        records.extend(r.model_copy(update={"index": r.index + offset}) for r in answered)
    return records


#: A call's completions by statement: each statement with its completions' indices in the call.
_Groups = list[tuple[str, list[int]]]


def _by_statement(statements: Sequence[str], completions: Sequence[str]) -> _Groups:
    """The completions' indices by their statement, statements in first-seen order."""
    if len(statements) != len(completions):
        raise ValueError(
            f"give one statement per completion ({len(statements)} statements, "
            f"{len(completions)} completions)"
        )
    groups: dict[str, list[int]] = {}
    for index, statement in enumerate(statements):
        groups.setdefault(statement, []).append(index)
    return list(groups.items())


def _in_call_order(
    groups: _Groups, answers: Sequence[Sequence[RewardRecord]]
) -> list[RewardRecord]:
    """Each group's records put back at their completions' places in the call (and so indexed)."""
    placed: dict[int, RewardRecord] = {}
    for (_, indices), records in zip(groups, answers, strict=True):
        for index, record in zip(indices, records, strict=True):
            placed[index] = record.model_copy(update={"index": index})
    return [placed[index] for index in range(len(placed))]


def group_metrics(records: Sequence[RewardRecord], prefix: str = "proofgate/") -> dict[str, float]:
    """What a trainer logs for a batch of records: the share proved, cheating, without a proof and
    left for a retry, and the count of each cheat class (`prefix` + `cheats/<class>`)."""
    total = len(records)
    if not total:
        return {}
    metrics = {
        f"{prefix}proved": sum(r.proved for r in records) / total,
        f"{prefix}cheat_rate": sum(r.cheat is not None for r in records) / total,
        f"{prefix}no_proof": sum(r.status.value == "no_proof" for r in records) / total,
        f"{prefix}retry": sum(r.retry for r in records) / total,
    }
    for record in records:
        if record.cheat is not None:
            name = f"{prefix}cheats/{record.cheat}"
            metrics[name] = metrics.get(name, 0.0) + 1.0
    return metrics
