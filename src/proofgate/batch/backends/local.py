"""The default batch backend: an in-process `CheckerService` (its own warm REPL pool)."""

from __future__ import annotations

from proofgate.batch.backends.base import PerItemBackend, wait_while_busy
from proofgate.batch.input import BatchItem, BatchRecord
from proofgate.config import Settings
from proofgate.exceptions import Busy, NotReady, SubmissionError
from proofgate.service import CheckerService

__all__ = ["LocalBackend"]


class LocalBackend(PerItemBackend):
    """Checks items on a `CheckerService` this backend starts and closes (tests pass their own)."""

    name = "local"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        service: CheckerService | None = None,
        concurrency: int | None = None,
    ) -> None:
        if service is None:
            if settings is None:
                raise ValueError("give settings or a service")
            service = CheckerService(settings)
        # keep every worker busy and a few more queued, well under the pool's queue limit
        default = service.settings.workers * 2
        super().__init__(concurrency=concurrency or default)
        self.service = service

    async def start(self) -> None:
        await self.service.start()
        readiness = self.service.readiness()
        if not readiness.ready:
            # checking would fail for every item but policy refusals: say why once, up front
            raise NotReady("cannot verify: " + "; ".join(readiness.reasons))

    async def close(self) -> None:
        await self.service.close()

    async def check_item(self, item: BatchItem) -> BatchRecord:
        attempts = 0
        while True:
            attempts += 1
            try:
                verdict = await self.service.check(item.submission)
            except SubmissionError as exc:
                return item.error("submission", str(exc), field=exc.field, attempts=attempts)
            except Busy as exc:
                await wait_while_busy(exc, attempts)
                continue
            return item.record(verdict, attempts=attempts)
