"""`POST /v1/rewards` under real uvicorn on loopback, on the stand-in stack (and on the fake service
where only the HTTP layer is exercised: keys, tenants, limits).

The stand-ins are steered by markers (tests/support/stack.py): `-- standin-axioms: ...` names the
axioms the checker finds, `-- standin: sorry` makes the REPL report a `sorry` on its line,
`-- standin: error TEXT` a Lean error, `-- standin: hang` a check that never ends.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from proofgate.api.app import create_app
from proofgate.config import Settings
from proofgate.exceptions import ConfigError, NotReady
from proofgate.models.tenant import key_tenant
from proofgate.reports.reward_log import read_reward_log, summarise
from proofgate.store.keys import KeyStore
from tests.api.conftest import serve_stack
from tests.support.fake_service import FakeServiceWithPool
from tests.support.live_app import run_app
from tests.support.stack import Stack, make_stack

pytestmark = pytest.mark.timeout(120)

STATEMENT = "import Mathlib\nopen Nat\n\ntheorem t1 (a b : ℕ) : a + b = b + a := by sorry\n"


def restated(proof: str, axioms: str = "") -> str:
    """A restated theorem: the stand-in compiler reads `-- standin-axioms:` at a line's start."""
    marker = f"\n-- standin-axioms: {axioms}" if axioms else ""
    return f"theorem t1 (a b : ℕ) : a + b = b + a := by\n  {proof}{marker}"


def fenced(lean: str, *, before: str = "Here is the proof.") -> str:
    return f"<think>\nTry simp first.\n```lean4\nby simp\n```\n</think>\n{before}\n```lean4\n{lean}\n```\n"


#: (completion, status, reward, cheat) for one of each outcome.
GROUP: list[tuple[str, str, float | None, str | None]] = [
    (fenced("by\n  omega"), "proved", 1.0, None),
    (fenced("by\n  omega"), "proved", 1.0, None),  # identical: checked once
    (fenced("theorem my_t (a b : ℕ) : a + b = b + a := by omega"), "proved", 1.0, None),
    ("I could not find a proof.", "no_proof", 0.0, None),
    (
        fenced(restated("sorry -- standin: sorry", "propext sorryAx")),
        "incomplete",
        0.0,
        None,
    ),
    (fenced(restated("exact sorryAx _ false", "propext sorryAx")), "incomplete", 0.0, "hidden_sorry"),
    (fenced(restated("exact cheat.elim", "propext cheat")), "axiom_violation", 0.0, "axiom"),
    (
        fenced(restated("exact foo", "propext Lean.ofReduceBool")),
        "axiom_violation",
        0.0,
        "native_code",
    ),
    (fenced("theorem t1 (a b : ℕ) : a + 0 = a := by simp"), "statement_mismatch", 0.0, "statement_mismatch"),
    (fenced("by\n  -- standin: error unknown identifier 'foo'\n  exact foo"), "failed", 0.0, None),
    (fenced("by\n  native_decide"), "rejected", 0.0, "native_code"),
    (
        fenced("set_option debug.skipKernelTC true in\ntheorem t1 (a b : ℕ) : a + b = b + a := by omega"),
        "rejected",
        0.0,
        "policy:debug-option",
    ),
]  # fmt: skip


def sample(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_a_group_gets_one_record_per_completion_in_order(stack: Stack) -> None:
    completions = [completion for completion, *_ in GROUP]
    with serve_stack(stack) as url:
        answer = httpx.post(
            url + "/v1/rewards",
            json={"statement": STATEMENT, "completions": completions},
            timeout=90,
        )
        assert answer.status_code == 200, answer.text
        metrics = httpx.get(url + "/metrics", timeout=10).text
    body = answer.json()
    records = body["records"]
    assert [record["index"] for record in records] == list(range(len(GROUP)))
    got = [(r["status"], r["reward"], r["cheat"]) for r in records]
    assert got == [(status, reward, cheat) for _, status, reward, cheat in GROUP]
    assert records[0]["read_as"] == "proof" and records[2]["read_as"] == "theorem"
    assert records[3]["read_as"] is None and records[3]["compiled"] is False
    assert records[0]["proved"] and records[0]["compiled"] and records[0]["pins"]["lean"]
    assert records[9]["error_category"] == "unknown_identifier" and records[9]["errors"] == 1
    assert records[4]["sorries"] == 1 and records[10]["error_category"] == "policy"
    assert all(record["retry"] is False for record in records)
    assert body["counts"]["proved"] == 3 and body["cheats"]["native_code"] == 2
    # identical completions are checked once: 11 verdicts for 12 completions, one of them no_proof
    verdicts = sum(
        float(value)
        for value in re.findall(r"^proofgate_verdicts_total\{[^}]*\} ([0-9.]+)$", metrics, re.M)
    )
    assert verdicts == len(GROUP) - 2
    env = 'environment="default"'
    assert sample(metrics, "proofgate_rewards_total", f'{env},status="proved"') == 3
    assert sample(metrics, "proofgate_rewards_total", f'{env},status="no_proof"') == 1
    assert sample(metrics, "proofgate_reward_cheats_total", f'cheat="native_code",{env}') == 2
    assert sample(metrics, "proofgate_reward_cheats_total", f'cheat="hidden_sorry",{env}') == 1


def test_records_stream_as_ndjson_each_exactly_once(stack: Stack) -> None:
    completions = [completion for completion, *_ in GROUP]
    with serve_stack(stack) as url:
        with httpx.stream(
            "POST",
            url + "/v1/rewards",
            json={"statement": STATEMENT, "completions": completions},
            headers={"Accept": "application/x-ndjson"},
            timeout=90,
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(raw) for raw in response.iter_lines() if raw]
    assert sorted(line["index"] for line in lines) == list(range(len(GROUP)))
    by_index = {line["index"]: line for line in lines}
    assert [by_index[i]["status"] for i in range(len(GROUP))] == [s for _, s, *_ in GROUP]


def test_an_unfinished_check_has_no_reward_and_is_never_cached(stack: Stack) -> None:
    body = {
        "statement": STATEMENT,
        "completions": [fenced("by\n  -- standin: hang\n  omega"), fenced("by\n  omega")],
        "timeout": 0.5,
    }
    with serve_stack(stack) as url:
        first = httpx.post(url + "/v1/rewards", json=body, timeout=60).json()["records"]
        again = httpx.post(url + "/v1/rewards", json=body, timeout=60).json()["records"]
    assert first[0]["status"] == "timeout" and first[0]["reward"] is None and first[0]["retry"]
    assert again[0]["status"] == "timeout" and again[0]["cached"] is False
    assert first[1]["reward"] == 1.0 and again[1]["cached"] is True


def test_reward_options_shape_the_rewards(stack: Stack) -> None:
    completions = [GROUP[0][0], GROUP[3][0], GROUP[5][0], GROUP[9][0]]
    reward = {
        "proved": 2.0,
        "statuses": {"failed": -0.25},
        "cheat_penalty": 1.0,
        "no_proof_penalty": 0.5,
    }
    with serve_stack(stack) as url:
        answer = httpx.post(
            url + "/v1/rewards",
            json={"statement": STATEMENT, "completions": completions, "reward": reward},
            timeout=60,
        )
    assert [record["reward"] for record in answer.json()["records"]] == [2.0, -0.5, -1.0, -0.25]


def test_the_server_settings_are_the_default_scale(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, reward_other=-0.1, reward_no_proof_penalty=0.4)
    completions = [GROUP[0][0], GROUP[3][0], GROUP[9][0]]
    with serve_stack(stack) as url:
        answer = httpx.post(
            url + "/v1/rewards",
            json={"statement": STATEMENT, "completions": completions, "reward": {"other": 0.0}},
            timeout=60,
        )
    assert [record["reward"] for record in answer.json()["records"]] == [1.0, -0.4, 0.0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"statement": "import Mathlib\n\ndef x : ℕ := 1\n", "completions": ["a"]}, "statement"),
        ({"statement": STATEMENT, "completions": ["a"], "environment": "nope"}, "environment"),
        ({"statement": STATEMENT, "completions": []}, "completions"),
        (
            {"statement": STATEMENT, "completions": ["a"], "reward": {"statuses": {"timeout": 1}}},
            "reward",
        ),
        ({"statement": STATEMENT, "completions": ["a"], "reward": {"proved": "inf"}}, "reward"),
    ],
)
def test_a_malformed_request_is_422_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    with serve_stack(stack) as url:
        answer = httpx.post(url + "/v1/rewards", json=body, timeout=30)
    assert answer.status_code == 422, answer.text
    assert field in answer.text


def test_more_completions_than_the_batch_limit_is_413(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, max_batch_items=3)
    with serve_stack(stack) as url:
        answer = httpx.post(
            url + "/v1/rewards", json={"statement": STATEMENT, "completions": ["x"] * 4}, timeout=30
        )
    assert answer.status_code == 413 and answer.json()["error"] == "too_many_items"


def test_each_completion_is_charged_and_checked_for_the_keys_tenant(settings: Settings) -> None:
    assert settings.api_keys_file is not None
    key, token = KeyStore(settings.api_keys_file).create("trainer", rate_per_minute=4)
    headers = {"Authorization": f"Bearer {token}"}
    service = FakeServiceWithPool()
    body = {"statement": STATEMENT, "completions": [fenced("by simp"), fenced("by ring"), "none"]}
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        first = httpx.post(url + "/v1/rewards", json=body, headers=headers, timeout=30)
        assert first.status_code == 200, first.text
        # three completions cost three of the four a minute: one more request fits, not two
        second = httpx.post(url + "/v1/rewards", json=body, headers=headers, timeout=30)
        assert second.status_code == 200
        third = httpx.post(url + "/v1/rewards", json=body, headers=headers, timeout=30)
    assert third.status_code == 429 and "retry-after" in third.headers
    assert service.tenants == [key_tenant(key.token_sha256)] * 4
    assert len(service.seen) == 4  # two distinct proofs a request, the prose checked by none


def test_an_unready_service_is_503_or_unfinished_records_when_streaming(
    settings: Settings,
) -> None:
    service = FakeServiceWithPool(ready=False)
    service.raises = NotReady("no toolchain: run `proofgate setup`")
    body = {"statement": STATEMENT, "completions": [fenced("by simp"), "none"]}
    with run_app(create_app(settings, service=service)) as url:  # type: ignore[arg-type]
        plain = httpx.post(url + "/v1/rewards", json=body, timeout=30)
        streamed = httpx.post(url + "/v1/rewards", params={"stream": "true"}, json=body, timeout=30)
    assert plain.status_code == 503 and "retry-after" in plain.headers
    lines = sorted(
        (json.loads(line) for line in streamed.text.splitlines()), key=lambda r: r["index"]
    )
    assert [(r["status"], r["reward"], r["retry"]) for r in lines] == [
        ("internal", None, True),
        ("no_proof", 0.0, False),
    ]


def test_the_server_writes_its_reward_log_for_both_routes(tmp_path: Path) -> None:
    log_path = tmp_path / "rewards.ndjson"
    stack = make_stack(tmp_path, reward_log=log_path)
    completions = [completion for completion, *_ in GROUP]
    with serve_stack(stack) as url:
        body = {"statement": STATEMENT, "completions": completions}
        answer = httpx.post(url + "/v1/rewards?stream=true", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        query = "Prove it.\n" + fenced("by\n  omega")
        openrlhf = {"query": [query], "prompts": ["Prove it.\n"], "labels": [STATEMENT]}
        answer = httpx.post(url + "/v1/rewards/openrlhf", json=openrlhf, timeout=60)
        assert answer.status_code == 200, answer.text
    lines = read_reward_log(log_path)
    assert [line["adapter"] for line in lines] == ["server:/v1/rewards"] * len(GROUP) + [
        "server:/v1/rewards/openrlhf"
    ]
    assert [line["index"] for line in lines[: len(GROUP)]] == list(range(len(GROUP)))
    assert [line["call"] for line in lines] == [0] * len(GROUP) + [1]
    assert {line["statement"] for line in lines} == {"t1"}
    summary = summarise(lines)
    planted = sum(cheat is not None for *_, cheat in GROUP)
    assert summary.steps[0].cheats.total() == planted  # the report reads the server's log


def test_a_reward_log_that_cannot_be_written_stops_the_server_at_start(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, reward_log=tmp_path / "missing" / "rewards.ndjson")
    app = create_app(stack.settings, service=FakeServiceWithPool())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="missing"), TestClient(app):
        pass
