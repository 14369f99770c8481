"""`proofgate bench`: overhead, throughput, recovery, memory and health figures on the SIMULATED REPL,
with the audit model (real jailed processes over a simulated Lean) on and off.

Progress goes to stderr; stdout's last line is the figures as one JSON object. The full run (the
default) also writes `bench-full.json`, `bench-full.md` and `bench-full.png` under `--out`.
Exit 0 when every target is met, 1 when one is missed, 3 when the bench could not run.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, TypeVar, cast

import typer
from rich.markup import escape

from proofgate.cli.common import ExitCode, console, fail

__all__ = ["bench", "register"]

_N = TypeVar("_N", int, float)
_T = TypeVar("_T")


def _numbers(text: str | None, kind: Callable[[str], _N], what: str) -> tuple[_N, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        fail(f"{what}: expected comma-separated numbers, got {text!r}")
    if not values or any(v <= 0 for v in values):
        fail(f"{what}: expected positive numbers, got {text!r}")
    return values


def _given(value: _T | None, default: _T) -> _T:
    """The option's value when it was given, else the preset's."""
    return default if value is None else value


def _jail(
    value: str | None, default: Literal["auto", "bwrap", "none"]
) -> Literal["auto", "bwrap", "none"]:
    if value is None:
        return default
    if value not in ("auto", "bwrap", "none"):
        fail(f"--audit-jail: expected auto, bwrap or none, got {value!r}")
    return cast(Literal["auto", "bwrap", "none"], value)


class AuditChecker(str, Enum):
    oneshot = "oneshot"
    warm = "warm"


class AuditCompiler(str, Enum):
    lean = "lean"
    zygote = "zygote"


def bench(
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Under a minute on 2 cores; writes no files unless --out."),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Directory for JSON, markdown and PNG (full run default: benchmarks/results)."
        ),
    ] = None,
    workers: Annotated[str | None, typer.Option(help="Worker counts, e.g. 1,2,4,8.")] = None,
    concurrency: Annotated[
        str | None, typer.Option(help="Client concurrencies, e.g. 2,16.")
    ] = None,
    spare_workers: Annotated[
        int | None, typer.Option(min=0, max=16, help="Warm spares per server.")
    ] = None,
    window: Annotated[
        float | None, typer.Option(min=0.5, help="Steady-state window, seconds.")
    ] = None,
    import_seconds: Annotated[
        float | None, typer.Option(min=0.0, help="Simulated header import time.")
    ] = None,
    check_mu: Annotated[
        float | None, typer.Option(help="Lognormal mu of the check time (log seconds).")
    ] = None,
    check_sigma: Annotated[
        float | None, typer.Option(min=0.0, help="Lognormal sigma of the check time.")
    ] = None,
    memory_mb_per_check: Annotated[
        int | None, typer.Option(min=0, help="MiB a worker keeps per check.")
    ] = None,
    audit: Annotated[
        bool,
        typer.Option(
            help="The audit model: the real Auditor starting real jailed processes over a "
            "simulated Lean (--no-audit: only the audit-off side, a simulated ok at 0 s)."
        ),
    ] = True,
    audit_import_seconds: Annotated[
        float | None,
        typer.Option(min=0.0, help="Each audit process's import (default: --import-seconds)."),
    ] = None,
    audit_elaboration_factor: Annotated[
        float | None,
        typer.Option(min=0.0, help="The submission's compile: this times the item's check time."),
    ] = None,
    audit_replay_ms: Annotated[
        float | None, typer.Option(min=0.0, help="Checker CPU per replayed declaration, ms.")
    ] = None,
    audit_jail: Annotated[
        str | None,
        typer.Option(help="The audit's sandbox setting: auto (as deployed), bwrap or none."),
    ] = None,
    audit_checker: Annotated[
        AuditChecker | None,
        typer.Option(
            help="The audit's checker setting: oneshot (as deployed by default) or warm "
            "(PROOFGATE_AUDIT_CHECKER=warm: an exporter per compile, checkers that import once)."
        ),
    ] = None,
    audit_compiler: Annotated[
        AuditCompiler | None,
        typer.Option(
            help="The audit's compiler setting: lean (as deployed by default) or zygote "
            "(PROOFGATE_AUDIT_COMPILER=zygote: a child forked from a zygote that imported the "
            "header once elaborates each check and gives its feedback; warm checkers)."
        ),
    ] = None,
    audit_pairs: Annotated[
        int | None, typer.Option(min=0, help="Audit-on/off request pairs for audit_added.")
    ] = None,
    kill_every: Annotated[
        float | None, typer.Option(min=0.1, help="Mean seconds between worker kills.")
    ] = None,
    recovery_seconds: Annotated[
        float | None, typer.Option(min=0.0, help="Length of the kill run (0: skip).")
    ] = None,
    overhead_requests: Annotated[
        int | None, typer.Option(min=1, help="Checks on each overhead path.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of check times, header mix and kills.")] = 0,
    plot: Annotated[
        bool, typer.Option(help="Draw the PNG (needs matplotlib: the `report` extra).")
    ] = True,
    server_source: Annotated[
        Path | None,
        typer.Option(
            help="Run the bench server from another proofgate source tree (its src/ directory), "
            "e.g. an older revision, for before/after figures; the harness stays this one."
        ),
    ] = None,
    rewards: Annotated[
        bool,
        typer.Option(
            "--rewards",
            help="Reward serving instead: groups of completions per statement, one node in this "
            "process, then a private Ray cluster on 127.0.0.1 scaling from one node to two "
            "(--workers: the first count is a node's pool).",
        ),
    ] = False,
    group_sizes: Annotated[
        str | None, typer.Option(help="With --rewards: completions per group, e.g. 8,16,64.")
    ] = None,
    ray_nodes: Annotated[
        int | None,
        typer.Option(min=0, max=8, help="With --rewards: Ray nodes to scale to (0: no Ray part)."),
    ] = None,
    groups_in_flight: Annotated[
        int | None,
        typer.Option(
            min=1, help="With --rewards: groups a node is sent at a time (a trainer's batch)."
        ),
    ] = None,
    statement_group: Annotated[
        int,
        typer.Option(
            min=1,
            help="Consecutive requests that share one statement, as a reward group's completions "
            "do (its reference is then compiled once); 1: every statement new.",
        ),
    ] = 1,
) -> None:
    """Benchmark the service as deployed, on the SIMULATED REPL and a simulated Lean (no Lean).

    The audit is the real Auditor starting real jailed processes (the audit model); every figure
    is reported with it on and with it off, labelled. Overhead (driver vs pool vs HTTP), what the
    audit adds, completed requests over ideal at several worker counts and concurrencies,
    recovery from SIGKILLed workers, server memory, health-probe latency and CPU per request
    (server alone, and with the audit's processes), judged against the project's targets.
    """
    from dataclasses import replace

    from proofgate.bench.report import headline_json, markdown_table, write_results
    from proofgate.bench.runner import BenchConfig, run_bench
    from proofgate.exceptions import ProofgateError

    if rewards:
        _bench_rewards(
            out=out,
            workers=_numbers(workers, int, "--workers"),
            group_sizes=_numbers(group_sizes, int, "--group-sizes"),
            ray_nodes=ray_nodes,
            groups_in_flight=groups_in_flight,
            window=window,
            import_seconds=import_seconds,
            check_mu=check_mu,
            check_sigma=check_sigma,
            audit=audit,
            audit_jail=audit_jail,
            seed=seed,
        )
    config = BenchConfig.quick() if quick else BenchConfig.full()
    worker_counts = _numbers(workers, int, "--workers")
    concurrencies = _numbers(concurrency, int, "--concurrency")
    if server_source is not None:
        if not (server_source / "proofgate" / "bench" / "server.py").is_file():
            fail(
                f"--server-source: {server_source} has no proofgate/bench/server.py (give a src/ directory)"
            )
        server_source = server_source.resolve()
    recovery_workers = config.recovery_workers
    if worker_counts and recovery_workers not in worker_counts:
        recovery_workers = min(worker_counts)
    profile = config.profile
    config = replace(
        config,
        seed=seed,
        profile=replace(
            profile,
            import_seconds=_given(import_seconds, profile.import_seconds),
            check_mu=_given(check_mu, profile.check_mu),
            check_sigma=_given(check_sigma, profile.check_sigma),
            memory_mb_per_check=_given(memory_mb_per_check, profile.memory_mb_per_check),
        ),
        audit=replace(
            config.audit,
            enabled=audit,
            import_seconds=_given(audit_import_seconds, config.audit.import_seconds),
            elaboration_factor=_given(audit_elaboration_factor, config.audit.elaboration_factor),
            replay_ms_per_declaration=_given(
                audit_replay_ms, config.audit.replay_ms_per_declaration
            ),
            jail=_jail(audit_jail, config.audit.jail),
            checker=config.audit.checker if audit_checker is None else audit_checker.value,
            compiler=config.audit.compiler if audit_compiler is None else audit_compiler.value,
        ),
        audit_pairs=_given(audit_pairs, config.audit_pairs),
        worker_counts=_given(worker_counts, config.worker_counts),
        concurrencies=_given(concurrencies, config.concurrencies),
        spare_workers=_given(spare_workers, config.spare_workers),
        window_seconds=_given(window, config.window_seconds),
        kill_every_seconds=_given(kill_every, config.kill_every_seconds),
        recovery_seconds=_given(recovery_seconds, config.recovery_seconds),
        overhead_requests=_given(overhead_requests, config.overhead_requests),
        server_source=_given(server_source, config.server_source),
        recovery_workers=recovery_workers,
        statement_group=statement_group,
    )
    console.print(
        f"[bold]proofgate bench[/bold] ({config.mode}) on the SIMULATED REPL and audit model "
        f"({'on and off' if config.audit.enabled else 'off'}): no Lean is run"
    )
    try:
        results = run_bench(config, progress=lambda message: console.print(f"  {escape(message)}"))
    except ProofgateError as exc:
        fail(f"the bench could not run: {exc}", ExitCode.infra)
    directory = out if out is not None else (None if quick else Path("benchmarks/results"))
    if directory is not None:
        try:
            written = write_results(results, directory, with_plot=plot)
        except ImportError:
            written = write_results(results, directory, with_plot=False)
            console.print(
                "[yellow]note:[/yellow] no plot: install matplotlib "
                + escape("(`pip install 'proofgate[report]'`)")
            )
        console.print("wrote " + escape(", ".join(str(path) for path in written)))
    console.print(escape(markdown_table(results)))
    missed = [name for name, target in results["targets"].items() if target["met"] is False]
    if missed:
        console.print("[red]targets missed:[/red] " + escape(", ".join(missed)))
    typer.echo(headline_json(results))
    raise typer.Exit(ExitCode.failed if missed else ExitCode.ok)


def _bench_rewards(
    *,
    out: Path | None,
    workers: tuple[int, ...] | None,
    group_sizes: tuple[int, ...] | None,
    ray_nodes: int | None,
    groups_in_flight: int | None,
    window: float | None,
    import_seconds: float | None,
    check_mu: float | None,
    check_sigma: float | None,
    audit: bool,
    audit_jail: str | None,
    seed: int,
) -> None:
    """`proofgate bench --rewards`: the figures of `proofgate.bench.rewards_bench`; exits."""
    import json
    from dataclasses import replace

    from proofgate.bench.rewards_bench import (
        TARGET,
        RewardsBenchConfig,
        markdown_table,
        run_rewards_bench,
        target_met,
    )
    from proofgate.exceptions import ProofgateError
    from proofgate.logs import configure_logging

    configure_logging("warning")  # the in-process node's service logs every jailed process
    config = RewardsBenchConfig()
    profile = config.profile
    config = replace(
        config,
        seed=seed,
        workers=workers[0] if workers else config.workers,
        group_sizes=_given(group_sizes, config.group_sizes),
        ray_nodes=_given(ray_nodes, config.ray_nodes),
        groups_in_flight=_given(groups_in_flight, config.groups_in_flight),
        window_seconds=_given(window, config.window_seconds),
        profile=replace(
            profile,
            import_seconds=_given(import_seconds, profile.import_seconds),
            check_mu=_given(check_mu, profile.check_mu),
            check_sigma=_given(check_sigma, profile.check_sigma),
        ),
        audit=replace(config.audit, enabled=audit, jail=_jail(audit_jail, config.audit.jail)),
    )
    console.print(
        "[bold]proofgate bench --rewards[/bold] on the SIMULATED REPL and audit model "
        f"({'on' if audit else 'off'}): no Lean is run"
    )
    try:
        results = run_rewards_bench(
            config,
            ray=config.ray_nodes > 0,
            progress=lambda message: console.print(f"  {escape(message)}"),
        )
    except ProofgateError as exc:
        fail(f"the rewards bench could not run: {exc}", ExitCode.infra)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench-rewards.json").write_text(json.dumps(results, indent=2), "utf-8")
        (out / "bench-rewards.md").write_text(markdown_table(results) + "\n", "utf-8")
        console.print("wrote " + escape(str(out / "bench-rewards.json")))
    console.print(escape(markdown_table(results)))
    met = target_met(results)
    size, target_workers, bound = TARGET
    if met is False:
        console.print(
            f"[red]target missed:[/red] group size {size} on {target_workers} workers "
            f"below {bound:g} of ideal"
        )
    typer.echo(json.dumps({"group_sizes": results["group_sizes"], "ray": results["ray"]}))
    raise typer.Exit(ExitCode.failed if met is False else ExitCode.ok)


def register(app: typer.Typer) -> None:
    app.command()(bench)
