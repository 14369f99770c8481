"""A validation error is reported at the field it names, the same way by every front."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from proofgate.exceptions import ConfigError, SubmissionError
from proofgate.models import Submission, TriageRequest
from proofgate.models.check import MAX_SOURCE_CHARS
from proofgate.models.rewards import RewardRequest
from proofgate.models.sessions import OpenSessionRequest
from proofgate.models.validation import first_error, json_object, submission_error
from proofgate.rewards.openrlhf import OpenRLHFRequest


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


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"id": "a", ', "(Expecting"),  # not JSON: the parser's reason is kept
        ("[1, 2]", "; write one record a line"),  # JSON, but not an object: only the hint
        ('{"a": 1}\n{"b": 2}', "(Extra data"),  # two objects: a JSONL file, not one object
    ],
)
def test_a_text_that_is_not_one_json_object_is_refused_saying_where_and_what_to_give(
    text: str, reason: str
) -> None:
    """`export`'s verdict and submission files and `extract`'s signed results lines are read by
    this one function: the same message shape, and always the caller's hint."""
    with pytest.raises(ConfigError) as raised:
        json_object(text, "results.jsonl, line 3", hint="write one record a line")
    message = str(raised.value)
    assert message.startswith("results.jsonl, line 3: not a JSON object")
    assert reason in message and message.endswith("; write one record a line")


def test_one_json_object_is_returned_as_it_is() -> None:
    assert json_object('{"id": "a", "n": [1]}', "x", hint="h") == {"id": "a", "n": [1]}


def test_every_lean_text_is_held_to_the_same_bound_and_named_where_it_is_too_long() -> None:
    """`LeanSource` is the one bound of a Lean text: a completion past it is named by its index
    (`completions.1`), as pydantic names any item (it had a hand-written check of its own)."""
    fits, over = "x" * MAX_SOURCE_CHARS, "x" * (MAX_SOURCE_CHARS + 1)
    statement = "theorem t : True := by sorry"
    cases: list[tuple[type[BaseModel], dict[str, object], tuple[str | int, ...]]] = [
        (Submission, {"code": over}, ("code",)),
        (Submission, {"statement": statement, "proof": over}, ("proof",)),
        (TriageRequest, {"statement": over}, ("statement",)),
        (OpenSessionRequest, {"statement": over}, ("statement",)),
        (RewardRequest, {"statement": over, "completions": ["a"]}, ("statement",)),
        (RewardRequest, {"statement": statement, "completions": ["a", over]}, ("completions", 1)),
        (OpenRLHFRequest, {"query": ["q"], "prompts": ["p"], "labels": [over]}, ("labels", 0)),
    ]
    for model, fields, where in cases:
        with pytest.raises(ValidationError) as raised:
            model.model_validate(fields)
        (error,) = raised.value.errors()
        assert (error["loc"], error["type"]) == (where, "string_too_long"), model
    RewardRequest(statement=statement, completions=[fits])
