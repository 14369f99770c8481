"""The wire models' own rules: which outcomes mean the run did not finish; how a request names its
environment, target and policy."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import BaseModel, ValidationError

from proofgate.models import Submission, TriageRequest, TriageResult, VerdictStatus
from proofgate.models.sessions import OpenSessionRequest


@pytest.mark.parametrize("status", list(VerdictStatus))
def test_a_verdict_and_a_triage_elaboration_agree_on_what_did_not_finish(
    status: VerdictStatus,
) -> None:
    unfinished = status.value in {"timeout", "out_of_memory", "internal"}
    assert status.is_unfinished is unfinished
    assert status.is_deterministic is not unfinished
    if status.value in get_args(TriageResult.model_fields["elaboration"].annotation):
        assert TriageResult(elaboration=status.value).elaboration_unfinished is unfinished


@pytest.mark.parametrize("model", [Submission, TriageRequest, OpenSessionRequest])
def test_every_request_names_its_environment_target_and_policy_by_one_rule(
    model: type[BaseModel],
) -> None:
    properties = model.model_json_schema()["properties"]
    assert properties["environment"]["maxLength"] == 128
    assert properties["environment"]["pattern"] == r"^[A-Za-z0-9_.-]+$"
    assert properties["target"]["anyOf"][0]["maxLength"] == 512
    policy = properties["policy"]["anyOf"]  # null: the server's (PROOFGATE_POLICY)
    assert policy == [{"enum": ["strict", "permissive"], "type": "string"}, {"type": "null"}]
    statement = "theorem t : True := sorry"
    fields = {"code": "x"} if model is Submission else {"statement": statement}
    for bad in ({"environment": "a b"}, {"target": "f (x)"}, {"policy": "lenient"}):
        with pytest.raises(ValidationError):
            model.model_validate({**fields, **bad})
    assert model.model_validate({**fields, "target": "Nat.add_comm"}).environment == "default"
