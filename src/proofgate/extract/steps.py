"""Where `proofgate extract` gets an item's verdict and its tactic steps: from
`CheckerService.check_with_tactics`, in this process (`ServiceSteps`) or on a proofgate server
through `POST /v1/check/steps` (`ServerSteps`). Either way one function computes the steps
(`proofgate.sessions.steps.tactic_steps`, after the service's own assembly and policy pass), so
the records are the same wherever Lean runs, the steps' times aside.

The REPL's steps never decide a verdict: it comes from the service's audit, or from a signed record
(then only the steps are asked for: `steps`).
"""

from __future__ import annotations

from typing import Protocol

from proofgate.client import AsyncClient
from proofgate.exceptions import ClientError, RemoteError
from proofgate.models import Submission, Verdict
from proofgate.models.steps import CheckStepsResponse, TacticSteps
from proofgate.models.tenant import LOCAL
from proofgate.service import CheckerService

__all__ = ["ServerSteps", "ServiceSteps", "StepSource"]


class StepSource(Protocol):
    async def check(
        self, submission: Submission, *, include_unverified: bool
    ) -> tuple[Verdict, TacticSteps | None]:
        """The verdict, and the steps when it is `proved` (any verdict Lean ran to an answer,
        with `include_unverified`); None otherwise."""
        ...

    async def steps(self, submission: Submission) -> TacticSteps:
        """The steps of a submission whose verdict is known already (a signed record's)."""
        ...


class ServiceSteps:
    """An in-process `CheckerService` (started); its step workers close with it."""

    def __init__(self, service: CheckerService, *, tenant: str = LOCAL) -> None:
        self._service = service
        self._tenant = tenant

    async def check(
        self, submission: Submission, *, include_unverified: bool
    ) -> tuple[Verdict, TacticSteps | None]:
        return await self._service.check_with_tactics(
            submission, tenant=self._tenant, include_unverified=include_unverified
        )

    async def steps(self, submission: Submission) -> TacticSteps:
        return await self._service.tactic_steps(submission, tenant=self._tenant)


class ServerSteps:
    """A proofgate server, through `AsyncClient.check_steps` (its retries and typed errors)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def _ask(self, submission: Submission, include_unverified: bool) -> CheckStepsResponse:
        try:
            return await self._client.check_steps(submission, include_unverified=include_unverified)
        except ClientError as exc:
            if exc.status_code != 404:
                raise
            raise RemoteError(
                f"{self._client.base_url} has no POST /v1/check/steps (a proofgate server older "
                "than this client): upgrade it, or run extract without --server",
                status_code=404,
                request_id=exc.request_id,
            ) from exc

    async def check(
        self, submission: Submission, *, include_unverified: bool
    ) -> tuple[Verdict, TacticSteps | None]:
        answer = await self._ask(submission, include_unverified)
        return answer.verdict, answer.steps

    async def steps(self, submission: Submission) -> TacticSteps:
        # The server has no route for steps alone: it checks again (its verdict is not used).
        answer = await self._ask(submission, True)
        if answer.steps is not None:
            return answer.steps
        status = answer.verdict.status.value
        return TacticSteps(
            code=None, note=f"no steps: the server's Lean did not run it to an answer ({status})"
        )
