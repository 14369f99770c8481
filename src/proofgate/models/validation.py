"""Reading a pydantic `ValidationError` the one way every front reports it: its first error, at the
field it names (dotted, e.g. `limits.timeout`)."""

from __future__ import annotations

from pydantic import ValidationError

from proofgate.exceptions import SubmissionError

__all__ = ["first_error", "submission_error"]


def first_error(exc: ValidationError) -> tuple[str | None, str]:
    """`(field, message)` of the first error; the field is None when pydantic names none."""
    first = exc.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or None, first["msg"]


def submission_error(exc: ValidationError, name: str) -> SubmissionError:
    """The first error as a `SubmissionError` that names its field (`name` when there is none)."""
    field, message = first_error(exc)
    return SubmissionError(f"{field or name}: {message}", field=field)
