"""The pure-ASGI middlewares read request headers with Starlette's `Headers`, as the routes'
`request.headers` does: the key middleware's token, the request id, the declared body length."""

from __future__ import annotations

import pytest

from proofgate.api.auth import _presented_token
from proofgate.api.errors import _content_length
from proofgate.api.middleware import _incoming_request_id


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "headers": list(headers)}


@pytest.mark.parametrize(
    ("headers", "presented"),
    [
        ((), (None, False)),
        (((b"authorization", b"Bearer  tok "),), ("tok", True)),
        (((b"authorization", b"Basic abc"),), (None, True)),
        (((b"x-api-key", b" key "), (b"authorization", b"Bearer tok")), ("key", True)),
        # Given twice: the first value (the loop this replaced kept the last).
        (((b"authorization", b"Bearer one"), (b"authorization", b"Bearer two")), ("one", True)),
        (((b"x-api-key", b"  "),), (None, False)),
    ],
)
def test_the_presented_token(
    headers: tuple[tuple[bytes, bytes], ...], presented: tuple[str | None, bool]
) -> None:
    assert _presented_token(_scope(*headers)) == presented


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (b"trace-42", "trace-42"),
        (b"a" * 128, "a" * 128),
        (b"a" * 129, None),
        (b"-starts-badly", None),
        (b"caf\xc3\xa9", None),  # not plain ASCII
        (b"ok\n", None),  # the whole value must be sane, a trailing newline too
    ],
)
def test_the_incoming_request_id(value: bytes, kept: str | None) -> None:
    assert _incoming_request_id(_scope((b"x-request-id", value))) == kept


def test_without_a_request_id_there_is_none() -> None:
    assert _incoming_request_id(_scope((b"x-other", b"trace"))) is None


@pytest.mark.parametrize(
    ("headers", "length"),
    [((), None), (((b"content-length", b"12"),), 12), (((b"content-length", b"twelve"),), None)],
)
def test_the_declared_body_length(
    headers: tuple[tuple[bytes, bytes], ...], length: int | None
) -> None:
    assert _content_length(_scope(*headers)) == length
