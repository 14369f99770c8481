"""Reading what a user gives, the one way every front reports it: a pydantic `ValidationError` by
its first error, at the field it names (dotted, e.g. `limits.timeout`), and a text that must be one
JSON object."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from proofgate.exceptions import ConfigError, SubmissionError

__all__ = ["first_error", "json_object", "submission_error"]


def first_error(exc: ValidationError) -> tuple[str | None, str]:
    """`(field, message)` of the first error; the field is None when pydantic names none."""
    first = exc.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or None, first["msg"]


def submission_error(exc: ValidationError, name: str) -> SubmissionError:
    """The first error as a `SubmissionError` that names its field (`name` when there is none)."""
    field, message = first_error(exc)
    return SubmissionError(f"{field or name}: {message}", field=field)


def json_object(text: str, where: str, *, hint: str) -> dict[str, Any]:
    """`text` as one JSON object; anything else is a `ConfigError` that says `where` it stands (a
    file, a line of one) and, in `hint`, what to give instead."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{where}: not a JSON object ({exc}); {hint}") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: not a JSON object; {hint}")
    return value
