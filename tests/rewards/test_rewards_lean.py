"""Reward mode with real Lean, Mathlib and the trusted checker: the audit-stage cheats of
`../shared/adversarial/` and the project's own cases (tests/data/adversarial.jsonl), each sent as
a model's completion (its code in a fenced block after some reasoning) against its locked
statement, on the real `CheckerService` in this process through `proofgate.rewards.score_group`.

Skipped where no toolchain is installed (tests/conftest.py says which piece is missing); the
real-Lean workflow runs it. A `reject` case never earns a reward and names a cheat, except a
visible `sorry` (an honest `incomplete`) and a block with no theorem to take (`no_proof`); an
`accept` case is `proved` with reward 1. The expected classes follow from the verdicts
tests/verify/test_audit_lean.py requires; they are not yet recorded from a real run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from proofgate.config import SOURCE_ROOT, Settings
from proofgate.lean.lexer import tokenize
from proofgate.models.rewards import RewardRequest
from proofgate.rewards import score_group
from proofgate.service import CheckerService
from tests.conftest import ADVERSARIAL_CASES
from tests.support.adversarial import load_cases

#: One service (one warm pool, one reference cache) for every case: on the module's event loop.
pytestmark = [
    pytest.mark.lean,
    pytest.mark.timeout(1800),
    pytest.mark.asyncio(loop_scope="module"),
]

PROJECT_CASES = SOURCE_ROOT / "tests" / "data" / "adversarial.jsonl"
#: An `example` is no theorem to take for the target: no proof, no cheat (and no reward).
NO_PROOF = {"pub-example"}
#: Reward mode takes a restatement's only theorem for the target, renamed to the statement's name
#: (issue 24, item 3): a root-level `c8` proving the very type of `Comp.c8` is a proof of it.
PROVED_IN_REWARD_MODE = {"own-stmt-namespace-target"}


def visible_sorry(code: str) -> bool:
    return any(token.is_word("sorry", "admit") for token in tokenize(code))


def _cases() -> list[Any]:
    params = []
    for source, path in (("shared", ADVERSARIAL_CASES), ("project", PROJECT_CASES)):
        if not path.is_file():
            continue
        for case in load_cases(path):
            if case["statement"] is not None:
                params.append(pytest.param(case, id=f"{source}:{case['id']}"))
    return params


def completion(code: str) -> str:
    return f"<think>\nLet me restate it and prove it.\n</think>\n```lean4\n{code}\n```\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CheckerService]:
    checker = CheckerService(Settings(data_dir=Path(tmp_path_factory.mktemp("rewards-lean"))))
    await checker.start()
    try:
        yield checker
    finally:
        await checker.close()


@pytest.mark.parametrize("case", _cases())
async def test_each_case_gets_its_reward_and_cheat_class(
    service: CheckerService, case: dict[str, Any]
) -> None:
    request = RewardRequest(statement=case["statement"], completions=[completion(case["code"])])
    (record,) = await score_group(service, request, tenant="local")
    assert not record.retry, f"{case['id']}: the check did not finish: {record.reason}"
    got = (record.status.value, record.reward, record.cheat)
    if case["expect"] == "accept" or case["id"] in PROVED_IN_REWARD_MODE:
        assert got == ("proved", 1.0, None), case["id"]
        return
    assert record.status.value != "proved" and record.reward == 0.0, (case["id"], record)
    if case["id"] in NO_PROOF:
        assert got == ("no_proof", 0.0, None)
    elif case["category"] == "sorry" and visible_sorry(case["code"]):
        assert got == ("incomplete", 0.0, None), case["id"]  # an honest, visible `sorry`
    elif case["stage"] in ("audit", "policy"):
        assert record.cheat is not None, (case["id"], record)
