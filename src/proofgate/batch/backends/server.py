"""The `--server URL` batch backend: each item is one `POST /v1/check` to a proofgate server.

The client already retries 429/503 as Retry-After asks; this backend adds a few tries for a
dropped connection or a 5xx, then stops the run (a resume checks the rest).
"""

from __future__ import annotations

import asyncio

from proofgate.batch.backends.base import PerItemBackend, wait_while_busy
from proofgate.batch.input import BatchItem, BatchRecord
from proofgate.client import AsyncClient
from proofgate.exceptions import Busy, ServerError, SubmissionError

__all__ = ["ServerBackend"]

#: Tries of one item when the server fails or cannot be reached.
SERVER_ATTEMPTS = 3


class ServerBackend(PerItemBackend):
    """Checks items on a running proofgate server through `AsyncClient`."""

    name = "server"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        concurrency: int | None = None,
        client: AsyncClient | None = None,
        retry_backoff: float = 1.0,
    ) -> None:
        super().__init__(concurrency=concurrency or 8)
        self.url = url
        self._client = client or AsyncClient(url, api_key=api_key)
        self._backoff = retry_backoff

    async def start(self) -> None:
        await self._client.health()  # fail now, once, if the server cannot be reached

    async def close(self) -> None:
        await self._client.aclose()

    async def check_item(self, item: BatchItem) -> BatchRecord:
        attempts = 0
        while True:
            attempts += 1
            try:
                verdict = await self._client.check(item.submission)
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
