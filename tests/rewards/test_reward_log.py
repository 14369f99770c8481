"""The reward log (`proofgate.rewards.log`): every adapter, called as its trainer calls it (see
test_trl.py, test_verl.py, test_verifiers.py; OpenRLHF's `reward_func` file as
`SingleTurnAgentExecutor._fetch_rewards_via_func` calls it, in threads), appends one NDJSON line
per record with the step, the statement's identity and a timestamp; a bad path fails when the
adapter is made; concurrent writers never interleave lines."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from proofgate.api.app import create_app
from proofgate.exceptions import ConfigError
from proofgate.models.rewards import RewardRecord, RewardStatus
from proofgate.rewards import RewardLog, Scorer
from proofgate.rewards.log import LOG_FIELDS, statement_identity
from proofgate.rewards.openrlhf import openrlhf_reward_func
from proofgate.rewards.trl import trl_reward, trl_reward_blocking
from proofgate.rewards.verifiers import verifiers_reward
from proofgate.rewards.verl import verl_compute_score, verl_compute_score_blocking
from tests.rewards.adapters import CHEAT, PROSE, PROVED, STATEMENT_A, STATEMENT_B
from tests.rewards.test_trl import trainer_call
from tests.rewards.test_verifiers import LeanData, Trace, invoke
from tests.support.live_app import run_app
from tests.support.stack import Stack, running_service

pytestmark = pytest.mark.timeout(120)

SHA_A = hashlib.sha256(STATEMENT_A.encode()).hexdigest()
SHA_B = hashlib.sha256(STATEMENT_B.encode()).hexdigest()
RECORD_FIELDS = set(RewardRecord.model_fields)


def lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def assert_line_shape(line: dict[str, Any]) -> None:
    assert set(line) == set(LOG_FIELDS) | RECORD_FIELDS, set(line) ^ (
        set(LOG_FIELDS) | RECORD_FIELDS
    )
    assert list(line)[: len(LOG_FIELDS)] == list(LOG_FIELDS)
    when = dt.datetime.fromisoformat(line["time"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.timezone.utc) - when).total_seconds()) < 120


def test_the_statements_identity_is_its_theorems_name_and_hash() -> None:
    assert statement_identity(STATEMENT_A) == ("t1", SHA_A)
    assert statement_identity("def f : Nat := 1") == (
        None,
        hashlib.sha256(b"def f : Nat := 1").hexdigest(),
    )


async def test_trl_logs_every_record_with_the_trainers_step(stack: Stack, tmp_path: Path) -> None:
    log = tmp_path / "rewards.ndjson"
    statements = [STATEMENT_A, STATEMENT_B, STATEMENT_A, STATEMENT_B]
    async with running_service(stack) as service:
        reward = trl_reward(Scorer(service=service), reward_log=log)
        kwargs, _ = trainer_call([PROVED, CHEAT, PROSE, PROVED], statements)
        assert await reward(**kwargs) == [1.0, 0.0, 0.0, 1.0]
        kwargs, _ = trainer_call([CHEAT], [STATEMENT_A])
        kwargs["trainer_state"].global_step = 4  # an instance attribute: the class keeps 3
        assert await reward(**kwargs) == [0.0]
    written = lines(log)
    for line in written:
        assert_line_shape(line)
    assert [(r["step"], r["call"], r["index"]) for r in written] == [
        (3, 0, 0), (3, 0, 1), (3, 0, 2), (3, 0, 3), (4, 1, 0),
    ]  # fmt: skip
    assert [(r["statement"], r["statement_sha256"]) for r in written[:2]] == [
        ("t1", SHA_A),
        ("t4", SHA_B),
    ]
    assert [(r["status"], r["cheat"], r["reward"]) for r in written] == [
        ("proved", None, 1.0),
        ("rejected", "native_code", 0.0),
        ("no_proof", None, 0.0),
        ("proved", None, 1.0),
        ("rejected", "native_code", 0.0),
    ]
    assert {(r["adapter"], r["environment"]) for r in written} == {("trl", "default")}


def test_trl_blocking_and_verl_blocking_log_against_a_server(stack: Stack, tmp_path: Path) -> None:
    log_path = tmp_path / "rewards.ndjson"
    with (
        RewardLog(log_path, step=11) as log,
        run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url,
    ):
        reward = trl_reward_blocking(Scorer(url), reward_log=log)
        kwargs, _ = trainer_call([PROVED, CHEAT], [STATEMENT_A, STATEMENT_B])
        assert reward(**kwargs) == [1.0, 0.0]
        compute_score = verl_compute_score_blocking(Scorer(url), reward_log=log)
        result = compute_score(
            data_source="proofgate", solution_str=CHEAT, ground_truth=STATEMENT_B, extra_info={}
        )
        assert result["cheat"] == "native_code"
    written = lines(log_path)
    # TRL's own step wins over the log's; verl passes none, so the log's step is written
    assert [(r["adapter"], r["step"], r["call"], r["statement"], r["cheat"]) for r in written] == [
        ("trl", 3, 0, "t1", None),
        ("trl", 3, 0, "t4", "native_code"),
        ("verl", 11, 1, "t4", "native_code"),
    ]


async def test_verl_logs_each_coalesced_group(stack: Stack, tmp_path: Path) -> None:
    log_path = tmp_path / "rewards.ndjson"
    samples = [
        (STATEMENT_A, PROVED),
        (STATEMENT_B, CHEAT),
        (STATEMENT_A, CHEAT),
        (STATEMENT_B, PROSE),
    ]
    async with running_service(stack) as service:
        compute_score = verl_compute_score(
            Scorer(service=service), group_size=2, linger=60.0, reward_log=log_path
        )
        results = await asyncio.gather(
            *(
                compute_score(
                    data_source="proofgate",
                    solution_str=solution,
                    ground_truth=statement,
                    extra_info={"index": index, "num_turns": None},
                )
                for index, (statement, solution) in enumerate(samples)
            )
        )
    assert [result["score"] for result in results] == [1.0, 0.0, 0.0, 0.0]
    written = lines(log_path)
    for line in written:
        assert_line_shape(line)
    assert {r["step"] for r in written} == {None}  # verl gives no step, and the log has none set
    by_call: dict[int, list[tuple[str, str | None]]] = {}
    for r in written:
        by_call.setdefault(r["call"], []).append((r["statement"], r["cheat"]))
    assert sorted(by_call.values()) == [
        [("t1", None), ("t1", "native_code")],
        [("t4", "native_code"), ("t4", None)],
    ]


async def test_verifiers_logs_each_coalesced_group(stack: Stack, tmp_path: Path) -> None:
    log = RewardLog(tmp_path / "rewards.ndjson")
    data = LeanData(idx=0, formal_statement=STATEMENT_A)
    traces = [Trace(reply=reply) for reply in (PROVED, CHEAT, PROSE)]
    async with running_service(stack) as service:
        reward = verifiers_reward(
            Scorer(service=service), group_size=3, linger=60.0, reward_log=log
        )
        log.step = 7  # a trainer callback's doing
        scores = await asyncio.gather(
            *(invoke(reward, {"task": data, "trace": trace}) for trace in traces)
        )
    log.close()
    assert scores == [1.0, 0.0, 0.0]
    written = lines(log.path)
    assert [(r["adapter"], r["step"], r["call"], r["index"], r["status"]) for r in written] == [
        ("verifiers", 7, 0, 0, "proved"),
        ("verifiers", 7, 0, 1, "rejected"),
        ("verifiers", 7, 0, 2, "no_proof"),
    ]
    assert {r["statement_sha256"] for r in written} == {SHA_A}


def test_openrlhfs_reward_func_logs_each_call_in_threads(stack: Stack, tmp_path: Path) -> None:
    log_path = tmp_path / "rewards.ndjson"
    prompt = f"<|user|>Prove:\n```lean4\n{STATEMENT_A}```<|assistant|>"
    samples = [(PROVED, STATEMENT_A), (CHEAT, STATEMENT_A), (PROSE, STATEMENT_B)]
    with run_app(create_app(stack.settings, service=stack.service()), timeout=20) as url:
        reward_func = openrlhf_reward_func(Scorer(url), reward_log=log_path)

        async def executor() -> list[Any]:
            # as _fetch_rewards_via_func: one sample a call, each in a thread, all at once
            return await asyncio.gather(
                *(
                    asyncio.to_thread(
                        reward_func, [prompt + response + "<|end|>"], [prompt], [label]
                    )
                    for response, label in samples
                )
            )

        answers = asyncio.run(executor())
    assert [answer["rewards"] for answer in answers] == [[1.0], [0.0], [0.0]]
    assert answers[1]["extra_logs"]["proofgate_cheat"] == [1.0]
    written = lines(log_path)
    assert sorted(r["call"] for r in written) == [0, 1, 2]
    assert sorted((r["statement"], r["status"], r["cheat"]) for r in written) == [
        ("t1", "proved", None),
        ("t1", "rejected", "native_code"),
        ("t4", "no_proof", None),
    ]
    assert {(r["adapter"], r["step"]) for r in written} == {("openrlhf", None)}


def test_openrlhfs_reward_func_needs_a_server() -> None:
    class Service:
        async def check(self, submission: Any, *, tenant: str) -> Any:
            raise AssertionError("never called")

    with pytest.raises(TypeError, match="server `url`"):
        openrlhf_reward_func(Scorer(service=Service()))


@pytest.mark.parametrize(
    ("where", "why"),
    [
        ("missing/rewards.ndjson", "does not exist"),
        (".", "is a directory"),
    ],
)
def test_a_bad_path_fails_when_the_adapter_is_made(tmp_path: Path, where: str, why: str) -> None:
    scorer = Scorer("http://127.0.0.1:9")  # never reached: the error comes first
    path = tmp_path / where
    for make in (
        lambda: trl_reward(scorer, reward_log=path),
        lambda: trl_reward_blocking(scorer, reward_log=path),
        lambda: verl_compute_score(scorer, reward_log=path),
        lambda: verl_compute_score_blocking(scorer, reward_log=str(path)),
        lambda: verifiers_reward(scorer, reward_log=path),
        lambda: openrlhf_reward_func(scorer, reward_log=path),
    ):
        with pytest.raises(ConfigError, match=f"cannot write the reward log .*{why}"):
            make()
    with pytest.raises(ConfigError, match="empty"):
        trl_reward(scorer, reward_log="")


def test_the_log_appends_to_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "rewards.ndjson"
    path.write_text('{"earlier": true}\n', encoding="utf-8")
    with RewardLog(path) as log:
        log.write([record(0)], STATEMENT_A, adapter="trl", environment="default", step=1)
    assert [next(iter(line)) for line in lines(path)] == ["earlier", "time"]


def record(index: int, reason: str = "") -> RewardRecord:
    return RewardRecord(
        index=index,
        reward=0.0,
        status=RewardStatus.rejected,
        proved=False,
        cheat="native_code",
        compiled=True,
        reason=reason,
    )


async def test_concurrent_async_calls_and_threads_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "rewards.ndjson"
    per_call, reason = 8, "x" * 20_000  # lines far past a pipe's atomic write size
    log = RewardLog(path)
    records = [record(index, reason) for index in range(per_call)]

    async def from_the_loop(count: int) -> None:
        for _ in range(count):
            log.write(records, STATEMENT_A, adapter="trl", environment="default")
            await asyncio.sleep(0)

    tasks = [from_the_loop(5) for _ in range(20)]
    threads = [asyncio.to_thread(from_thread, log, records, 5) for _ in range(8)]
    await asyncio.wait_for(asyncio.gather(*tasks, *threads), timeout=60)
    log.close()
    written = lines(path)
    assert len(written) == (20 + 8) * 5 * per_call
    # each call's lines together, in order, every call number once
    calls = []
    for start in range(0, len(written), per_call):
        chunk = written[start : start + per_call]
        assert len({line["call"] for line in chunk}) == 1, [line["call"] for line in chunk]
        assert [line["index"] for line in chunk] == list(range(per_call))
        assert all(line["reason"] == reason for line in chunk)
        calls.append(chunk[0]["call"])
    assert calls == list(range((20 + 8) * 5))  # each call numbered once, in the file's order


def from_thread(log: RewardLog, records: list[RewardRecord], count: int) -> None:
    for _ in range(count):
        log.write(records, STATEMENT_A, adapter="verl", environment="default")


async def test_many_concurrent_trl_calls_write_intact_lines(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "rewards.ndjson"
    async with running_service(stack) as service:
        reward = trl_reward(Scorer(service=service), reward_log=path)

        async def step(number: int) -> list[float | None]:
            kwargs, _ = trainer_call([PROVED, CHEAT, PROSE, CHEAT], [STATEMENT_A, STATEMENT_B] * 2)
            kwargs["trainer_state"].global_step = number
            return await reward(**kwargs)

        answers = await asyncio.wait_for(asyncio.gather(*(step(n) for n in range(40))), 90)
    assert answers == [[1.0, 0.0, 0.0, 0.0]] * 40
    written = lines(path)
    assert len(written) == 40 * 4
    for start in range(0, len(written), 4):
        chunk = written[start : start + 4]
        assert len({(line["call"], line["step"]) for line in chunk}) == 1
        assert [line["index"] for line in chunk] == [0, 1, 2, 3]
    assert sorted({line["step"] for line in written}) == list(range(40))
    assert sorted({line["call"] for line in written}) == list(range(40))
