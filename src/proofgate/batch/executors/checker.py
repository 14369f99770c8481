"""The batch executor over a `proofgate.backends.Backend`: each item is one `check`, in this process
(the default: a `CheckerService` with its own warm REPL pool) or on a server (`--server URL`).

Busy answers are retried as Retry-After asks (the client already retries 429/503 a few times); a
dropped connection or a 5xx is tried a few more times, then stops the run (a resume checks the
rest). A malformed item is a record of its own, never a stop.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from proofgate.backends import SERVER_CONCURRENCY, Backend, open_backend
from proofgate.batch.executors.base import PerItemExecutor, wait_while_busy
from proofgate.batch.input import BatchItem, BatchRecord
from proofgate.config import Settings, get_settings
from proofgate.environments import discover_environments
from proofgate.exceptions import Busy, ServerError, SubmissionError
from proofgate.models.http import EnvironmentInfo
from proofgate.service import CheckerService

__all__ = ["SERVER_ATTEMPTS", "CheckerExecutor"]

#: Tries of one item when the server fails or cannot be reached.
SERVER_ATTEMPTS = 3


class CheckerExecutor(PerItemExecutor):
    """Checks items on the backend `open_backend` gives: `server`, else a service in this process
    (built from `settings`, or the `service` given; either is started here and closed after)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        server: str | None = None,
        api_key: str | None = None,
        service: CheckerService | None = None,
        concurrency: int | None = None,
        retry_backoff: float = 1.0,
    ) -> None:
        self.settings = settings or (service.settings if service else get_settings())
        self.server = server
        self.name = "server" if server else "local"
        # Locally: keep every worker busy and a few more queued, well under the pool's queue limit.
        default = SERVER_CONCURRENCY if server else self.settings.workers * 2
        super().__init__(concurrency=concurrency or default)
        self._api_key = api_key
        self._service = service
        self._backoff = retry_backoff
        self._exit = AsyncExitStack()
        self._backend: Backend | None = None

    async def start(self) -> None:
        # Locally, a service that cannot verify would fail every item but policy refusals: say
        # why once, up front. A server that cannot be reached fails here too, once.
        self._backend = await self._exit.enter_async_context(
            open_backend(
                self.settings,
                server=self.server,
                api_key=self._api_key,
                service=self._service,
                require_ready=True,
            )
        )
        if self.server:
            await self._backend.environments()

    async def close(self) -> None:
        self._backend = None
        await self._exit.aclose()

    async def environments(self) -> list[EnvironmentInfo] | None:
        """A server's list (with each one's readiness) once started; in this process, the
        projects' own, before starting (readiness unknown: a check says it)."""
        if self._backend is not None:
            return await self._backend.environments()
        if self.server:
            return None
        if self._service is not None:
            described = await asyncio.to_thread(self._service.environments)
        else:
            found = await asyncio.to_thread(discover_environments, self.settings)
            described = [environment.describe() for environment in found.values()]
        return [EnvironmentInfo.model_validate(entry) for entry in described]

    async def check_item(self, item: BatchItem) -> BatchRecord:
        assert self._backend is not None, "start() first"
        attempts = 0
        while True:
            attempts += 1
            try:
                verdict = await self._backend.check(item.submission)
            except SubmissionError as exc:
                return item.error("submission", _message(exc), field=exc.field, attempts=attempts)
            except Busy as exc:
                await wait_while_busy(exc, attempts)
                continue
            except ServerError:
                if attempts >= SERVER_ATTEMPTS:
                    raise
                await asyncio.sleep(self._backoff * 2 ** (attempts - 1))
                continue
            return item.record(verdict, attempts=attempts)


def _message(error: SubmissionError) -> str:
    """The refusal as the service words it: the API prefixes the field, which the record holds."""
    message = str(error)
    prefix = f"{error.field}: "
    return message[len(prefix) :] if error.field and message.startswith(prefix) else message
