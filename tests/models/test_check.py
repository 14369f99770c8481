"""The wire models' own rules: which outcomes mean the run did not finish."""

from __future__ import annotations

from typing import get_args

import pytest

from proofgate.models import TriageResult, VerdictStatus


@pytest.mark.parametrize("status", list(VerdictStatus))
def test_a_verdict_and_a_triage_elaboration_agree_on_what_did_not_finish(
    status: VerdictStatus,
) -> None:
    unfinished = status.value in {"timeout", "out_of_memory", "internal"}
    assert status.is_unfinished is unfinished
    assert status.is_deterministic is not unfinished
    if status.value in get_args(TriageResult.model_fields["elaboration"].annotation):
        assert TriageResult(elaboration=status.value).elaboration_unfinished is unfinished
