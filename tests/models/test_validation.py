"""A validation error is reported at the field it names, the same way by every front."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from proofgate.exceptions import SubmissionError
from proofgate.models import Submission
from proofgate.models.validation import first_error, submission_error


def _error(**fields: object) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        Submission.model_validate(fields)
    return raised.value


def test_the_first_error_names_its_field() -> None:
    field, message = first_error(_error(code="theorem t : True := trivial", timeout=-1))
    assert field == "timeout"
    assert message


def test_a_submission_error_falls_back_to_the_given_name_when_no_field_is_named() -> None:
    named = submission_error(_error(code="x", timeout=-1), "submission")
    assert isinstance(named, SubmissionError)
    assert named.field == "timeout" and str(named).startswith("timeout: ")
    unnamed = submission_error(_error(), "submission")  # a model-level error: no field
    assert unnamed.field is None and str(unnamed).startswith("submission: ")
