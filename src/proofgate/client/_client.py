"""`Client` (blocking) and `AsyncClient`: the Python client of the HTTP API (see `proofgate.client`).

Each call is one flow below, run by `SyncBase` or `AsyncBase`; the classes only name the calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from proofgate.client._base import (
    ENVIRONMENTS,
    ClientBase,
    Flow,
    ModelT,
    build,
    decode,
    error_for,
    expect,
    json_object,
    send,
)
from proofgate.client._batch import BatchOutcome, batch_flow
from proofgate.client._sessions import AsyncSessionMethods, SessionMethods
from proofgate.exceptions import ServerError
from proofgate.models import Submission, TriageRequest, TriageResult, Verdict
from proofgate.models.http import EnvironmentInfo, ReadinessReport
from proofgate.models.rewards import RewardRequest, RewardResponse
from proofgate.models.steps import CheckStepsResponse

__all__ = ["AsyncClient", "Client"]

_JSON = {"Content-Type": "application/json"}


# --- the calls, once ----------------------------------------------------------------------------


def post_flow(
    client: ClientBase, path: str, body: BaseModel, model: type[ModelT], **options: Any
) -> Flow[ModelT]:
    content = body.model_dump_json(exclude_none=True)
    response = yield from send(client, "POST", path, content=content, headers=_JSON, **options)
    return expect(response, 200, model)


def check_flow(
    client: ClientBase, submission: Submission | None, fields: Mapping[str, Any]
) -> Flow[Verdict]:
    built = build(Submission, submission, fields, "submission")
    return post_flow(client, "/v1/check", built, Verdict, timeout=client._check_timeout(built))


def check_steps_flow(
    client: ClientBase,
    submission: Submission | None,
    fields: Mapping[str, Any],
    include_unverified: bool,
) -> Flow[CheckStepsResponse]:
    built = build(Submission, submission, fields, "submission")
    return post_flow(
        client,
        "/v1/check/steps",
        built,
        CheckStepsResponse,
        params={"include_unverified": "true" if include_unverified else "false"},
        timeout=client._check_timeout(built),
    )


def triage_flow(
    client: ClientBase, request: TriageRequest | None, fields: Mapping[str, Any]
) -> Flow[TriageResult]:
    built = build(TriageRequest, request, fields, "request")
    return post_flow(client, "/v1/triage", built, TriageResult)


def rewards_flow(
    client: ClientBase, request: RewardRequest | None, fields: Mapping[str, Any]
) -> Flow[RewardResponse]:
    built = build(RewardRequest, request, fields, "request")
    return post_flow(
        client, "/v1/rewards", built, RewardResponse, timeout=_group_timeout(client, built)
    )


def _group_timeout(client: ClientBase, request: RewardRequest) -> httpx.Timeout:
    """A group's checks share the server's pool: wait for the slowest round of them, at least
    the request's own timeout plus room for queueing and the audit."""
    configured = client._timeout
    if request.timeout is None:
        return configured
    read = max(configured.read or 0.0, request.timeout + 60.0)
    return httpx.Timeout(
        configured.connect, read=read, write=configured.write, pool=configured.pool
    )


def environments_flow(client: ClientBase) -> Flow[list[EnvironmentInfo]]:
    response = yield from send(client, "GET", "/v1/environments")
    if response.status_code != 200:
        raise error_for(response)
    try:
        return ENVIRONMENTS.validate_json(response.content)
    except ValidationError as exc:
        raise ServerError(f"unreadable environments list: {exc.errors()[0]['msg']}") from exc


def health_flow(client: ClientBase) -> Flow[dict[str, Any]]:
    response = yield from send(client, "GET", "/healthz", retry=False)
    if response.status_code != 200:
        raise error_for(response)
    return json_object(response)


def ready_flow(client: ClientBase) -> Flow[ReadinessReport]:
    response = yield from send(client, "GET", "/readyz", retry=False)
    if response.status_code not in (200, 503):
        raise error_for(response)
    return decode(response, ReadinessReport)


# --- the two clients ----------------------------------------------------------------------------


class Client(SessionMethods):
    """Blocking client. Use as a context manager, or call `close()`."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def check(self, submission: Submission | None = None, /, **fields: Any) -> Verdict:
        """Verify one submission (a `Submission`, or its fields as keywords)."""
        return self._run(check_flow(self, submission, fields))

    def check_steps(
        self,
        submission: Submission | None = None,
        /,
        *,
        include_unverified: bool = False,
        **fields: Any,
    ) -> CheckStepsResponse:
        """`check`, and the proof's tactic steps (`POST /v1/check/steps`): each step Lean's REPL
        lists, run again in its proof state. The steps come for a `proved` verdict, and with
        `include_unverified` for any verdict Lean ran to an answer; otherwise `steps` is None."""
        return self._run(check_steps_flow(self, submission, fields, include_unverified))

    def batch(
        self, submissions: Iterable[Submission | Mapping[str, Any]], *, progress: bool = True
    ) -> list[BatchOutcome]:
        """Check many submissions as one server job; results in input order (an invalid item is
        an `ItemError`). A mapping may carry an `id`. Streams, with a progress bar on stderr."""
        return self._run(batch_flow(self, submissions, progress=progress))

    def triage(self, request: TriageRequest | None = None, /, **fields: Any) -> TriageResult:
        """Triage one statement (a `TriageRequest`, or its fields as keywords): does it elaborate,
        and is it false, vacuous or trivially provable?"""
        return self._run(triage_flow(self, request, fields))

    def rewards(self, request: RewardRequest | None = None, /, **fields: Any) -> RewardResponse:
        """Reward a group of completions for one locked statement (a `RewardRequest`, or its
        fields as keywords): one `RewardRecord` per completion, in order, and counts."""
        return self._run(rewards_flow(self, request, fields))

    def environments(self) -> list[EnvironmentInfo]:
        return self._run(environments_flow(self))

    def health(self) -> dict[str, Any]:
        """`/healthz`: the process is up (raises `ServerError` if not)."""
        return self._run(health_flow(self))

    def ready(self) -> ReadinessReport:
        """`/readyz`: whether the server can verify now; never retried, never raises on 503."""
        return self._run(ready_flow(self))


class AsyncClient(AsyncSessionMethods):
    """The same API as `Client`, awaitable. Use `async with`, or `await aclose()`."""

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # The calls are `Client`'s, awaitable; their docs are there.

    async def check(self, submission: Submission | None = None, /, **fields: Any) -> Verdict:
        return await self._run(check_flow(self, submission, fields))

    async def check_steps(
        self,
        submission: Submission | None = None,
        /,
        *,
        include_unverified: bool = False,
        **fields: Any,
    ) -> CheckStepsResponse:
        return await self._run(check_steps_flow(self, submission, fields, include_unverified))

    async def batch(
        self, submissions: Iterable[Submission | Mapping[str, Any]], *, progress: bool = True
    ) -> list[BatchOutcome]:
        return await self._run(batch_flow(self, submissions, progress=progress))

    async def triage(self, request: TriageRequest | None = None, /, **fields: Any) -> TriageResult:
        return await self._run(triage_flow(self, request, fields))

    async def rewards(
        self, request: RewardRequest | None = None, /, **fields: Any
    ) -> RewardResponse:
        return await self._run(rewards_flow(self, request, fields))

    async def environments(self) -> list[EnvironmentInfo]:
        return await self._run(environments_flow(self))

    async def health(self) -> dict[str, Any]:
        return await self._run(health_flow(self))

    async def ready(self) -> ReadinessReport:
        return await self._run(ready_flow(self))
