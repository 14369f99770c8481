"""Answers as NDJSON: the routes that can stream (`POST /v1/batch`, `GET /v1/jobs/{id}/results`,
`POST /v1/rewards`) send one JSON line per result, as each finishes, when the request asks for it
with `?stream=true` or `Accept: application/x-ndjson`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import StreamingResponse

from proofgate.models.http import ErrorBody
from proofgate.models.jobs import NDJSON

__all__ = ["StreamOption", "ndjson_response", "streamed_responses", "wants_ndjson"]

#: The `?stream=` query parameter of a route that can answer NDJSON.
StreamOption = Annotated[bool, Query(description="Answer NDJSON: a line per result.")]


def wants_ndjson(request: Request, stream: bool) -> bool:
    """The request asks for NDJSON: `?stream=true`, or NDJSON in its Accept header."""
    return stream or NDJSON in request.headers.get("accept", "")


def ndjson_response(
    lines: AsyncIterator[str], *, headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    """`lines` (JSON texts, without their newline) streamed as NDJSON, each sent as it comes."""

    async def encoded() -> AsyncIterator[bytes]:
        async for line in lines:
            yield (line + "\n").encode("utf-8")

    return StreamingResponse(encoded(), media_type=NDJSON, headers=headers)


def streamed_responses(lines: str, too_many: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a route that takes many items and can stream its results: what its
    NDJSON `lines` are, and its 413 (`too_many` items, or a body too large)."""
    return {
        200: {"content": {NDJSON: {}}, "description": lines},
        413: {"model": ErrorBody, "description": too_many},
    }
