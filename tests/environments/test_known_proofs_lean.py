"""A known proof on each preset, with its expected verdict (issue 26, item 3), through the real
audit: the environment's own toolchain compiles, its own `proofgate-checker` (built from the
shared sources and its Lean's API era module) judges. The real-Lean workflow runs this file once
per environment of its matrix, naming it in PROOFGATE_TEST_ENVIRONMENT (default: `default`), after
`proofgate setup --environment NAME`. Skipped here: no Lean runs where proofgate is developed.

Each case uses only names every pinned Mathlib has (v4.9.0-rc1's fork to v4.32.0): a Mathlib-free
theorem, and one that imports Mathlib.
"""

from __future__ import annotations

import pytest

from proofgate.config import Settings
from proofgate.environments.readiness import CHECKER_PATH
from proofgate.environments.registry import get_environment
from proofgate.verify.audit import Auditor, AuditRequest
from proofgate.verify.verdict import decide_verdict
from tests.conftest import TEST_ENVIRONMENT

pytestmark = [pytest.mark.lean, pytest.mark.timeout(900)]

ALLOWED = ("propext", "Classical.choice", "Quot.sound")
CORE = "theorem t (a b : Nat) : a + b = b + a := by sorry\n"
MATHLIB = "import Mathlib\n\ntheorem t : Nat.Prime 2 := by sorry\n"

KNOWN = [
    pytest.param(CORE, CORE.replace("by sorry", "Nat.add_comm a b"), "proved", id="core-proved"),
    pytest.param(CORE, CORE, "incomplete", id="core-sorry"),
    pytest.param(CORE, CORE.replace("b + a", "a + b"), "statement_mismatch", id="core-restated"),
    pytest.param(
        MATHLIB, MATHLIB.replace("by sorry", "Nat.prime_two"), "proved", id="mathlib-proved"
    ),
    pytest.param(
        MATHLIB,
        "import Mathlib\n\naxiom cheat : ¬True\n\ntheorem t : Nat.Prime 2 := absurd trivial cheat\n",
        "axiom_violation",
        id="mathlib-own-axiom",
    ),
]


@pytest.fixture(scope="module")
def auditor(tmp_path_factory: pytest.TempPathFactory) -> Auditor:
    settings = Settings(data_dir=tmp_path_factory.mktemp("known-proofs"))
    checker = get_environment(settings, TEST_ENVIRONMENT).directory / CHECKER_PATH
    if not checker.is_file():
        pytest.fail(f"{checker} is missing: run `proofgate setup --environment {TEST_ENVIRONMENT}`")
    return Auditor(settings)


@pytest.mark.parametrize(("statement", "code", "expected"), KNOWN)
async def test_a_known_proof_gets_its_verdict_on_the_environment(
    statement: str, code: str, expected: str, auditor: Auditor
) -> None:
    environment = get_environment(auditor.settings, TEST_ENVIRONMENT)
    audit = await auditor.audit(
        AuditRequest(
            environment=environment,
            statement=statement,
            code=code,
            target="t",
            answer_holes=(),
            allowed_axioms=ALLOWED,
        )
    )
    status, reason = decide_verdict(
        kind="check",
        violations=(),
        repl_messages=(),
        audit=audit,
        allowed_axioms=ALLOWED,
        target="t",
    )
    assert status.value == expected, f"{TEST_ENVIRONMENT}: {reason}"
