"""What `proofgate bench` writes: the one-line JSON, the results file, a markdown table, a plot.

The plot needs matplotlib (the `report` extra) and draws with the Agg backend (no display).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proofgate.reports.markup import table_lines

__all__ = ["headline_json", "markdown_table", "plot", "statements_text", "write_results"]

#: Raw samples kept in the results file for the plot, left out of the one-line JSON.
RAW_KEY = "cdf_ms"


def headline_json(results: dict[str, Any]) -> str:
    """The figures as ONE compact JSON object (raw samples dropped), for the last line of output."""
    return json.dumps({k: v for k, v in results.items() if k != RAW_KEY}, separators=(",", ":"))


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def statements_text(statement_group: int) -> str:
    """How a run's statements repeat (`--statement-group`), for a report's note."""
    if statement_group > 1:
        return (
            f"each statement sent {statement_group} times in a row (a reward group: its "
            "reference compiled once)"
        )
    return "every statement new (no reference cached)"


def markdown_table(results: dict[str, Any]) -> str:
    """The headline figures and targets, then the throughput points, as markdown tables."""
    summary = results["summary"]
    backend = results["backend"]
    lognormal = backend["check_seconds_lognormal"]
    load = results["machine"].get("load_average_1m", {"before": None, "after": None})
    audit = backend.get("audit", {})
    audit_text = (
        f"audit model {audit.get('model')}: the real Auditor, jail `{audit.get('jail')}`, "
        f"checker {audit.get('checker', 'oneshot')}, "
        f"{audit.get('jailed_runs_per_audit', audit.get('processes_per_audit'))} jailed runs a "
        f"request, {audit.get('imports_per_audit', audit.get('processes_per_audit'))} of them "
        f"importing for {audit.get('import_seconds_each')} s, elaboration "
        f"{audit.get('elaboration')}, "
        f"{audit.get('replay_cpu_ms_per_declaration')} ms CPU a replayed declaration, over a "
        "SIMULATED lean and checker; audit off: a simulated ok that starts no process"
    )
    intro = (
        f"Simulated REPL: import {backend['import_seconds']:g} s, check time lognormal "
        f"(mu {lognormal['mu']:g}, sigma {lognormal['sigma']:g}; mean "
        f"{backend['mean_check_seconds']:.3f} s); {audit_text}; "
        f"{results['machine']['cpus']} CPUs (1-minute load average {load['before']} before, "
        f"{load['after']} after), `proofgate bench` mode `{results['config']['mode']}`, "
        + statements_text(results["config"].get("statement_group", 1))
        + "."
    )
    met = {True: "yes", False: "**no**", None: "n/a"}
    figures = [
        [name, _fmt(target["value"], 3), target["target"], met[target["met"]]]
        for name, target in results["targets"].items()
    ]
    figures += [
        [name, _fmt(value, 3), "", ""]
        for name, value in summary.items()
        if name not in results["targets"]
    ]
    throughput = [
        [
            point["workers"],
            point["concurrency"],
            point["audit"],
            _fmt(point["achieved_over_ideal"], 3),
            _fmt(point["achieved_rps"]),
            _fmt(point["ideal_rps"]),
            _fmt(point["header_hit_rate"], 3),
            _fmt(point["latency"].get("p50_ms"), 1),
            _fmt(point["latency"].get("p99_ms"), 1),
            _fmt(point["server_cpu_ms_per_request"], 2),
            _fmt(point["cpu_ms_per_request_with_children"], 2),
            _fmt(point.get("health_p99_ms"), 1),
        ]
        for point in results.get("throughput", [])
    ]
    lines = [
        intro,
        "",
        *table_lines(["figure", "value", "target", "met"], figures),
        "",
        *table_lines(
            [
                "workers",
                "concurrency",
                "audit",
                "completed/ideal",
                "req/s",
                "ideal req/s",
                "header hits",
                "p50 ms",
                "p99 ms",
                "server CPU ms/req",
                "with children",
                "health p99 ms",
            ],
            throughput,
        ),
    ]
    return "\n".join(lines) + "\n"


def _cdf(axes: Any, series: dict[str, list[float]], title: str) -> None:
    for name, values in sorted(series.items()):
        ordered = sorted(v for v in values if v > 0)
        if not ordered:
            continue
        fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
        axes.step(ordered, fractions, where="post", label=name)
    axes.set_xscale("log")
    axes.set_xlabel("latency (ms, log scale)")
    axes.set_ylabel("fraction of requests")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)


def plot(results: dict[str, Any], path: Path) -> None:
    """Latency CDFs (overhead paths; end to end under load) and throughput vs workers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (overhead_axes, load_axes, throughput_axes) = plt.subplots(1, 3, figsize=(17, 4.8))
    raw = results.get(RAW_KEY, {})
    _cdf(
        overhead_axes,
        {k: v for k, v in raw.items() if "zero backend" in k},
        "Zero backend latency, audit off: driver, pool, HTTP",
    )
    _cdf(
        load_axes,
        {k.replace("HTTP under load, ", ""): v for k, v in raw.items() if "under load" in k},
        "End to end under load (simulated checks)",
    )
    points = results.get("throughput", [])
    for concurrency, audit in sorted({(p["concurrency"], p["audit"]) for p in points}):
        chosen = sorted(
            (p for p in points if (p["concurrency"], p["audit"]) == (concurrency, audit)),
            key=lambda p: p["workers"],
        )
        workers = [p["workers"] for p in chosen]
        throughput_axes.plot(
            workers,
            [p["achieved_rps"] for p in chosen],
            marker="o",
            label=f"completed, concurrency {concurrency}, audit {audit}",
        )
        throughput_axes.plot(
            workers,
            [p["ideal_rps"] for p in chosen],
            linestyle="--",
            label=f"ideal, concurrency {concurrency}, audit {audit}",
        )
    throughput_axes.set_xlabel("workers")
    throughput_axes.set_ylabel("checks / s")
    throughput_axes.set_title("Throughput vs workers (steady-state window)")
    throughput_axes.grid(True, alpha=0.3)
    throughput_axes.legend(fontsize=7)
    figure.suptitle(
        "proofgate bench on the SIMULATED REPL and the audit model (no Lean)", fontsize=10
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_results(
    results: dict[str, Any], directory: Path, *, with_plot: bool = True
) -> list[Path]:
    """`bench-MODE.json`, `bench-MODE.md` and (with matplotlib) `bench-MODE.png` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{results['config']['mode']}"
    written = [directory / f"{stem}.json", directory / f"{stem}.md"]
    written[0].write_text(json.dumps(results, indent=1) + "\n", "utf-8")
    written[1].write_text(markdown_table(results), "utf-8")
    if with_plot:
        plot(results, directory / f"{stem}.png")
        written.append(directory / f"{stem}.png")
    return written
