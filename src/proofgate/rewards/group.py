"""A group: one locked statement, the completions sampled for it, one reward record each.

`Group.prepare` reads the statement (a malformed one raises `SubmissionError`, before anything
runs) and every completion; `Group.records` checks the distinct submissions among them through a
checker (`CheckerService.check`, or anything with its signature) with bounded concurrency, and
yields each completion's record as its check finishes. Identical submissions are checked once; the
statement's reference is compiled once and cached by the audit, whichever check asks first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict

from typing_extensions import Unpack

from proofgate.exceptions import Busy, NotReady, SubmissionError
from proofgate.logs import get_logger
from proofgate.models import Submission, Verdict, VerdictStatus
from proofgate.models.rewards import RewardRecord, RewardRequest
from proofgate.models.tenant import LOCAL
from proofgate.rewards.reward import (
    RewardScale,
    no_proof_record,
    unfinished_record,
    verdict_record,
)
from proofgate.verify.assemble import Statement, parse_statement
from proofgate.verify.completion import plan_submission, read_completion

__all__ = ["CheckOptions", "Checker", "Group", "Planned", "score_group"]

_log = get_logger("proofgate.rewards")
_BUSY_SLEEP_CAP = 1.0  # short: the busy deadline is looked at between two waits

#: Called with each verdict a check returned and the seconds it took (e.g. the app's metrics).
OnVerdict = Callable[[Verdict, float], None]


class CheckOptions(TypedDict, total=False):
    """How a group's checks run (`Group.records`, `score_group`)."""

    #: Whose workers run the checks (default: `LOCAL`, this process's own user).
    tenant: str
    #: How statuses become rewards (default: the request's `reward` options over the defaults).
    scale: RewardScale | None
    #: Checks at once (default 4).
    concurrency: int
    #: Seconds a check the pool is too busy for is retried before it is `internal` (default 30).
    busy_wait: float
    #: Called with each verdict and the seconds it took (default: nothing is called).
    on_verdict: OnVerdict | None


class Checker(Protocol):
    """What a group is checked with: `CheckerService`, or anything with its `check`."""

    async def check(self, submission: Submission, *, tenant: str) -> Verdict: ...


@dataclass(frozen=True)
class Planned:
    """One completion, read: the submission to check, and why it is `no_proof` (a reason with
    a submission: a restatement with no target, checked only for a policy refusal)."""

    index: int
    read_as: Literal["proof", "theorem"] | None
    submission: Submission | None
    reason: str = ""

    @property
    def sources(self) -> Mapping[str, str]:
        """The submitted texts by field, as a verdict's positions refer to them."""
        submission = self.submission
        if submission is None:
            return {}
        fields = {
            "statement": submission.statement,
            "code": submission.code,
            "proof": submission.proof,
        }
        return {name: text for name, text in fields.items() if text is not None}


def _plan(request: RewardRequest, statement: Statement) -> list[Planned]:
    planned = []
    for index, text in enumerate(request.completions):
        completion = read_completion(text, unfenced=request.unfenced)
        read_as = None if completion.kind == "none" else completion.kind
        try:
            submission, reason = plan_submission(completion, request, statement)
        except ValueError as exc:  # a pydantic ValidationError: the field's own limits
            submission, reason = None, f"the completion does not make a valid submission: {exc}"
        planned.append(Planned(index, read_as, submission, reason))
    return planned


@dataclass(frozen=True)
class _Unchecked:
    """Why a check gave no verdict: the completion's fault (`no_proof`), or not (`internal`)."""

    reason: str
    no_proof: bool = False


@dataclass(frozen=True)
class Group:
    """A statement and its completions, read and ready to check."""

    request: RewardRequest
    statement: Statement
    planned: tuple[Planned, ...]

    @classmethod
    def read(cls, request: RewardRequest) -> Group:
        """Read the statement and every completion; `SubmissionError` for a malformed statement."""
        statement = parse_statement(request.statement, target=request.target)
        return cls(request, statement, tuple(_plan(request, statement)))

    @classmethod
    async def prepare(cls, request: RewardRequest) -> Group:
        """`read`, in a worker thread: a group can hold megabytes of completions."""
        return await asyncio.to_thread(cls.read, request)

    async def records(
        self, checker: Checker, *, raise_not_ready: bool = False, **options: Unpack[CheckOptions]
    ) -> AsyncIterator[RewardRecord]:
        """Each completion's record, as its check finishes (`no_proof` ones first).

        A check the pool is too busy for is retried for `busy_wait` seconds, then its records are
        `internal` (retry). A service that cannot verify (`NotReady`) raises with
        `raise_not_ready`, else its records are `internal` too."""
        tenant = options.get("tenant", LOCAL)
        scale = options.get("scale") or RewardScale.from_options(self.request.reward)
        concurrency = options.get("concurrency", 4)
        busy_wait = options.get("busy_wait", 30.0)
        on_verdict = options.get("on_verdict")
        distinct: dict[str, list[Planned]] = {}
        for planned in self.planned:
            if planned.submission is not None:
                distinct.setdefault(planned.submission.content_hash(), []).append(planned)
        queue: asyncio.Queue[list[RewardRecord] | BaseException] = asyncio.Queue()
        limit = asyncio.Semaphore(max(1, concurrency))

        async def run(members: list[Planned]) -> None:
            try:
                async with limit:
                    outcome = await self._check(
                        checker, members[0], tenant, busy_wait, raise_not_ready, on_verdict
                    )
                queue.put_nowait(self._records(members, outcome, scale))
            except BaseException as exc:  # handed to the reader, which raises it
                queue.put_nowait(exc)
                if not isinstance(exc, Exception):
                    raise

        tasks = [asyncio.create_task(run(members)) for members in distinct.values()]
        try:
            for planned in self.planned:
                if planned.submission is None:
                    yield no_proof_record(planned.index, planned.reason, scale=scale)
            for _ in range(len(tasks)):
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                for record in item:
                    yield record
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @staticmethod
    async def _check(
        checker: Checker,
        planned: Planned,
        tenant: str,
        busy_wait: float,
        raise_not_ready: bool,
        on_verdict: OnVerdict | None,
    ) -> Verdict | _Unchecked:
        """The verdict, or why the check gave none."""
        assert planned.submission is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + busy_wait
        while True:
            began = time.perf_counter()
            try:
                verdict = await checker.check(planned.submission, tenant=tenant)
            except Busy as exc:
                if loop.time() >= deadline:
                    return _Unchecked(f"the service stayed busy for {busy_wait:g} s: {exc}")
                await exc.wait(cap=_BUSY_SLEEP_CAP)
                continue
            except NotReady as exc:
                if raise_not_ready:
                    raise
                return _Unchecked(f"cannot verify now: {exc.reason}")
            except SubmissionError as exc:
                return _Unchecked(f"{exc.field or 'submission'}: {exc}", no_proof=True)
            except Exception as exc:  # one completion's failure never fails the group
                _log.error("reward_check_failed", error=repr(exc))
                return _Unchecked(
                    f"internal error ({type(exc).__name__}): proofgate's fault, not the "
                    "completion's; send it again"
                )
            if on_verdict is not None:
                on_verdict(verdict, time.perf_counter() - began)
            return verdict

    @staticmethod
    def _records(
        members: list[Planned], outcome: Verdict | _Unchecked, scale: RewardScale
    ) -> list[RewardRecord]:
        first = members[0]
        if (
            isinstance(outcome, Verdict)
            and first.reason
            and outcome.status is not VerdictStatus.rejected
        ):
            record = no_proof_record(first.index, first.reason, scale=scale)
            record = record.model_copy(update={"read_as": first.read_as})
        elif isinstance(outcome, Verdict):
            assert first.read_as is not None
            record = verdict_record(
                first.index, outcome, read_as=first.read_as, scale=scale, sources=first.sources
            )
        elif outcome.no_proof:
            record = no_proof_record(first.index, outcome.reason, scale=scale)
            record = record.model_copy(update={"read_as": first.read_as})
        else:
            record = unfinished_record(first.index, outcome.reason, read_as=first.read_as)
        return [record.model_copy(update={"index": member.index}) for member in members]


async def score_group(
    checker: Checker, request: RewardRequest, **options: Unpack[CheckOptions]
) -> list[RewardRecord]:
    """Every completion's record, in the request's order: the call trainer adapters make, against
    a `CheckerService` in this process or anything with its `check`. Raises `SubmissionError` for
    a malformed statement and `NotReady` when the service cannot verify."""
    group = await Group.prepare(request)
    records = [record async for record in group.records(checker, raise_not_ready=True, **options)]
    return sorted(records, key=lambda record: record.index)
