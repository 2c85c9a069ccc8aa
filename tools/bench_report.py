"""The BENCHMARKS.md page from one benchmark run's numbers (tools/bench.py measures them).

Owns: the page's text and tables, and the ratios it states. Does not: measure.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

CHUNKS = (1, 10, 100)
"""Chunk sizes of the PSOCK and queue comparison."""


@dataclass(frozen=True, kw_only=True)
class Results:
    """One run's measurements, section by section."""

    machine: str
    idle: list[int]
    joins: dict[tuple[int, str], float]
    speed: dict[str, float]
    tiny: dict[str, float]
    init: dict[str, float]
    queue: dict[str, Any]
    sweeps: dict[str, float]
    renders: dict[str, float]


def report(results: Results) -> list[str]:
    """The page's lines."""
    joins, speed, tiny, init = results.joins, results.speed, results.tiny, results.init
    queue, sweeps, renders = results.queue, results.sweeps, results.renders
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today().isoformat()} with `make bench`",
        "(`python -m tools.bench --write BENCHMARKS.md`)",
        f"on {results.machine}. Each section's numbers come from one run, side by side; compare the ratios,",
        "not absolute times across machines.",
        "",
        "## Join latency of idle workers",
        "",
        "Workers start, wait idle with no session listening, then a session calls",
        "`kubepar_plan(workers = 1)`; the time is from that call until the worker joined.",
        "kubepar: the rendered worker command (dial loop, SETUPTIMEOUT 5 s). Published chart:",
        "one `parallel:::.workRSOCK()` process with SETUPTIMEOUT=2592000 and no loop.",
        "",
        "| idle before the session | kubepar worker | published chart worker | ratio |",
        "|---|---|---|---|",
    ]
    for idle in results.idle:
        ours, chart = joins[(idle, "kubepar")], joins[(idle, "chart")]
        lines.append(f"| {idle} s | {ours:.2f} s | {chart:.2f} s | {chart / ours:.0f}x |")
    lines += [
        "",
        "R's PSOCK worker retries with a delay that grows x1.5 per attempt with no cap, so",
        "the chart worker's next dial after a long wait lands far in the future; kubepar",
        "restarts the dial every few seconds instead.",
        "",
        "## Two workers vs sequential",
        "",
        "`future_lapply(1:40, f, future.seed = 1)`, median of 3 rounds, two rendered workers",
        "on this 2-core machine (the session shares the cores).",
        "",
        "| task | sequential | 2 workers | speedup |",
        "|---|---|---|---|",
        f"| README example `mean(rnorm(1e5))` | {speed['light_seq']:.3f} s | {speed['light_par']:.3f} s "
        f"| {speed['light_seq'] / speed['light_par']:.2f}x |",
        f"| heavier `mean(rnorm(2e6))` | {speed['heavy_seq']:.3f} s | {speed['heavy_par']:.3f} s "
        f"| {speed['heavy_seq'] / speed['heavy_par']:.2f}x |",
        "",
        f"The README example is too small to gain: each task takes about {speed['light_seq'] / 40 * 1000:.0f} ms",
        "and a round trip to a worker costs about as much. Tasks worth distributing take",
        "seconds, not milliseconds.",
        "",
        "## 1,000 tiny tasks over two workers: Dask engine vs R engine",
        "",
        "Two rendered workers of each engine on this machine, median of 3. Dask: `client.map` of",
        "1,000 tasks through the rendered scheduler, from a client with the notebook's env.",
        "R: `future_lapply(1:1000, ...)`, with future's default chunking (one future per",
        "worker) and with one future per element (`future.scheduling = Inf`).",
        "",
        "| engine | time | tasks per second |",
        "|---|---|---|",
        f"| Dask, 1,000 tasks | {tiny['dask']:.2f} s | {1000 / tiny['dask']:.0f} |",
        f"| R, 1,000 elements in 2 futures | {tiny['r_batched']:.2f} s | {1000 / tiny['r_batched']:.0f} |",
        f"| R, 1,000 futures | {tiny['r_single']:.2f} s | {1000 / tiny['r_single']:.0f} |",
        "",
        "Per task, Dask's scheduler is far cheaper than one PSOCK round trip per future; R wins",
        "when future batches elements, which is its default.",
        "",
        "## The R package init container",
        "",
        "The rendered init container of a worker pod, on a fresh pod each time (median of 5),",
        "installing kubepar's core packages (future, future.apply, parallelly) and their",
        "dependencies as binaries from a local file:// repository: this machine's installed",
        "packages, tarred, the way the pinned Posit Package Manager snapshot serves Linux",
        "binaries. On a cluster, download time from the snapshot comes on top.",
        "",
        "| packages installed | seconds per pod start |",
        "|---|---|",
        f"| {init['packages']:.0f} | {init['seconds']:.2f} s |",
        "",
        "## R backends: PSOCK vs the Redis queue",
        "",
        "Two rendered workers of each backend, side by side in this run. PSOCK:",
        "`future_lapply(1:1000, function(i) i + 1L, future.chunk.size = n)`. Redis:",
        "`foreach(i = 1:1000) %dopar% (i + 1L)` after `kubepar_plan(chunk_size = n)`, through",
        "the rendered queue server (Debian's redis-server for the image's valkey-server) with",
        "its password on, every R process seeing only the pod's library and hiredis.",
        "",
        "| chunk size | PSOCK tasks/s | Redis tasks/s |",
        "|---|---|---|",
        *[f"| {size} | {1000 / queue['psock'][size]:.0f} | {1000 / queue['redis'][size]:.0f} |" for size in CHUNKS],
        "",
        "A worker lost mid-loop (SIGKILL of its pod: a Spot node gone), in a loop of 8 tasks of",
        "3 s on two workers: the loop still returns every result; the lost task is resubmitted",
        "once the session's fault-tolerance check finds its worker gone. No replacement joins",
        "here, so part of the added time is the lost worker's share of the loop; the difference",
        "between the rows is what the fault-tolerance interval itself costs.",
        "",
        "| fault-tolerance interval | loop, no loss | loop, a worker killed | added |",
        "|---|---|---|---|",
        *[
            f"| {label} ({queue['kills'][label + ' ftinterval']:.0f} s) | "
            f"{queue['kills'][label + ' baseline']:.1f} s | {queue['kills'][label + ' killed']:.1f} s | "
            f"{queue['kills'][label + ' killed'] - queue['kills'][label + ' baseline']:.1f} s |"
            for label in ("kubepar", "doRedis default")
        ],
        "",
        "PSOCK's per-task overhead is lower; the queue pays a Redis round trip per chunk but",
        "survives a lost worker (PSOCK fails the whole call) and takes workers that join late.",
        "",
        "## Sweep runner overhead per task",
        "",
        "A sweep task pod's main container as rendered (Rscript, kubepar.R as its profile, the",
        "task's L'Ecuyer stream, the script, the atomic save of its result), median of 10 tasks",
        "run one after another; the pod's library filled once by its init container (above).",
        "",
        "| task | seconds per task | overhead |",
        "|---|---|---|",
        f"| no work | {sweeps['noop']:.2f} s | {sweeps['noop']:.2f} s |",
        f"| 1 s of work | {sweeps['onesec']:.2f} s | {sweeps['onesec'] - 1:.2f} s |",
        "",
        f"So a task should run for much longer than {sweeps['noop']:.1f} s; on a cluster each task pod",
        "also starts a container and runs its init container (see above) before the script.",
        "",
        "## Offline render time per stack",
        "",
        "`python -m tools.render STACK` in a fresh process (imports included), median of 3.",
        "",
        "| stack | render |",
        "|---|---|",
        *[f"| {stack} | {seconds:.2f} s |" for stack, seconds in renders.items()],
        "",
    ]
    return lines
