"""Benchmarks for BENCHMARKS.md, measured side by side in one run on this machine.

1. Join latency of idle workers (60 s and 300 s idle): kubepar's rendered
   worker command vs the published chart's single worker process
   (SETUPTIMEOUT=2592000, no loop), both dialing a kubepar_plan() session.
2. The README example over two dialing workers vs sequential, plus a heavier
   variant where computation, not overhead, dominates.
3. 1,000 tiny tasks over two workers: the Dask engine vs the R engine.
4. The R package init container: packages installed and seconds, per pod start.
5. rBackend redis vs psock, two workers: tiny tasks per second at chunk sizes
   1, 10 and 100; and the time a worker killed mid-loop adds to a loop of
   3-second tasks, with kubepar's fault-tolerance interval and doRedis' own.
6. The sweep runner: per-task overhead of a task pod's main container (R
   start, kubepar.R, the task's stream, the atomic save) against a 1 s task.
7. Offline render time per stack (a fresh process each, as `make render` runs).

Every R pod starts as the cluster starts it: its rendered init container
fills the pod's library from a local repository, and R sees nothing else.

Usage: python tools/bench.py [--write BENCHMARKS.md] [--idle 60 300]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import render  # noqa: E402

from components.config import R_CORE_PACKAGES, R_QUEUE_PACKAGES  # noqa: E402
from tests.e2e import pods, repository  # noqa: E402


def local_cran() -> str:
    """A local repository standing in for the pinned snapshot (see tests/e2e/repository.py)."""
    return repository.build(Path(tempfile.mkdtemp(prefix="kubepar-bench-cran-")))


def r_worker_pod(capture: render.Capture, root: Path, cran: str, port: int, name: str) -> subprocess.Popen[bytes]:
    """A worker pod: its init container, then its main container dialing ``port``."""
    pods.start_r_pod(capture, "worker", root, cran, name)
    return pods.r_worker(capture, root, port, name).start(root / f"{name}.log")


def r_session_pod(capture: render.Capture, root: Path, cran: str, port: int) -> dict[str, str]:
    """The scheduler pod's init container, then the env of an RStudio session listening on ``port``."""
    pods.start_r_pod(capture, "scheduler", root, cran, "scheduler-0")
    return pods.r_session_env(capture, root, port)


CHART_WORKER = [
    "Rscript",
    "-e",
    "parallel:::.workRSOCK()",
    "MASTER=127.0.0.1",
    "PORT={port}",
    "OUT=/dev/null",
    "TIMEOUT=2592000",
    "XDR=FALSE",
    "SETUPTIMEOUT=2592000",
    "SETUPSTRATEGY=sequential",
]
JOIN_SESSION = (
    "t0 <- Sys.time(); kubepar_plan(workers = 1, timeout = 900, port = {port}); "
    "cat(as.numeric(difftime(Sys.time(), t0, units = 'secs')), '\\n'); kubepar_stop()"
)
SPEEDUP_SESSION = """
library(future.apply)
time_it <- function(expr) {{
  t0 <- Sys.time(); force(expr); as.numeric(difftime(Sys.time(), t0, units = "secs"))
}}
light <- function(i) mean(rnorm(1e5))
heavy <- function(i) mean(rnorm(2e6))
res <- list()
for (round in 1:3) {{
  future::plan(future::sequential)
  res$light_seq <- c(res$light_seq, time_it(future_lapply(1:40, light, future.seed = 1)))
  res$heavy_seq <- c(res$heavy_seq, time_it(future_lapply(1:40, heavy, future.seed = 1)))
  kubepar_plan(workers = 2, timeout = 60, port = {port})
  res$light_par <- c(res$light_par, time_it(future_lapply(1:40, light, future.seed = 1)))
  res$heavy_par <- c(res$heavy_par, time_it(future_lapply(1:40, heavy, future.seed = 1)))
  kubepar_stop()
}}
for (k in names(res)) cat(k, median(res[[k]]), "\\n")
"""


def start_chart(root: Path, port: int, name: str) -> subprocess.Popen[bytes]:
    argv = [part.format(port=port) for part in CHART_WORKER]
    return subprocess.Popen(
        argv, stdout=(root / f"{name}.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def join_latency(idle_seconds: list[int], cran: str) -> dict[tuple[int, str], float]:
    """Start all workers at once; at each idle mark, time a session's join per kind."""
    root = Path(tempfile.mkdtemp(prefix="kubepar-bench-"))
    capture = render.run_program("local")
    session_env = r_session_pod(capture, root, cran, 0)
    workers = []
    plan: list[tuple[int, str, int]] = []
    for idle in idle_seconds:
        for kind in ("kubepar", "chart"):
            port = pods.free_port()
            name = f"{kind}-{idle}"
            if kind == "kubepar":
                workers.append(r_worker_pod(capture, root, cran, port, name))
            else:
                workers.append(start_chart(root, port, name))
            plan.append((idle, kind, port))
    started = time.monotonic()
    results: dict[tuple[int, str], float] = {}
    sessions: dict[tuple[int, str], subprocess.Popen[str]] = {}
    try:
        for idle in sorted(set(idle_seconds)):
            time.sleep(max(0.0, started + idle - time.monotonic()))
            for mark, kind, port in plan:
                if mark == idle:
                    sessions[(mark, kind)] = subprocess.Popen(
                        ["Rscript", "-e", JOIN_SESSION.format(port=port)],
                        env={**session_env, "KUBEPAR_WORKER_PORT": str(port)},
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
            for key in [k for k in sessions if k[0] == idle]:
                out, _err = sessions[key].communicate(timeout=900)
                results[key] = float(out.split()[0]) if out.strip() else float("nan")
    finally:
        for worker in workers:
            pods.stop(worker)
    return results


def r_session_with_two_workers(code: str, cran: str, raw: bool = False) -> Any:
    """Run an R session (rendered env) with two rendered workers; parse 'name value' lines (or return them)."""
    root = Path(tempfile.mkdtemp(prefix="kubepar-bench-"))
    capture = render.run_program("local")
    port = pods.free_port()
    env = r_session_pod(capture, root, cran, port)
    workers = [r_worker_pod(capture, root, cran, port, f"w{i}") for i in range(2)]
    try:
        out = subprocess.run(
            ["Rscript", "-e", code.format(port=port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        ).stdout
    finally:
        for worker in workers:
            pods.stop(worker)
    if raw:
        return out
    return {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.strip()}


def speedup(cran: str) -> dict[str, float]:
    return r_session_with_two_workers(SPEEDUP_SESSION, cran)


def init_container(cran: str, rounds: int = 5) -> dict[str, float]:
    """The rendered R init container on a fresh pod: packages installed and median seconds."""
    capture = render.run_program("local")
    samples = []
    installed = 0
    for index in range(rounds):
        root = Path(tempfile.mkdtemp(prefix="kubepar-bench-init-"))
        t0 = time.monotonic()
        result = pods.run_init(capture, "worker", root, cran, f"pod-{index}")
        samples.append(time.monotonic() - t0)
        if result.returncode != 0:
            raise RuntimeError(result.stderr)
        installed = len(list((root / "pods" / f"pod-{index}" / "kubepar-packages").iterdir()))
    return {"seconds": statistics.median(samples), "packages": installed}


SWEEP_BENCH = [
    {"name": "noop", "script": "tests/e2e/sweeps/noop.R", "tasks": 10},
    {"name": "onesec", "script": "tests/e2e/sweeps/one-second.R", "tasks": 10},
]


def sweep_overhead(cran: str) -> dict[str, float]:
    """Median seconds of a task pod's main container, with no work and with one second of work."""
    import json

    capture = render.run_program("local", {"kubepar:sweeps": json.dumps(SWEEP_BENCH)})
    results: dict[str, float] = {}
    for sweep in ("noop", "onesec"):
        root = Path(tempfile.mkdtemp(prefix=f"kubepar-bench-{sweep}-"))
        job = pods.LocalJob(capture, sweep, root, cran)
        # The pod's library once (the init container is measured above); then each task's main container.
        pods.start_r_pod(capture, "sweep", root, cran, "shared", document=job.document)
        samples = []
        for index in range(10):
            container = job.container(index, 0)
            container.env["R_LIBS"] = container.env["R_LIBS"].replace(
                str(root / "pods" / f"{job.name}-{index}-0"), str(root / "pods" / "shared")
            )
            t0 = time.monotonic()
            process = container.start(root / f"task-{index}.log")
            if process.wait(timeout=120) != 0:
                raise RuntimeError((root / f"task-{index}.log").read_text())
            samples.append(time.monotonic() - t0)
        results[sweep] = statistics.median(samples)
    return results


CHUNKS = (1, 10, 100)
PSOCK_CHUNKS = """
kubepar_plan(workers = 2, timeout = 60, port = {port})
for (size in c({chunks})) {{
  t0 <- Sys.time()
  future.apply::future_lapply(1:1000, function(i) i + 1L, future.chunk.size = size)
  cat("psock", size, as.numeric(difftime(Sys.time(), t0, units = "secs")), "\n")
}}
kubepar_stop()
"""
REDIS_CHUNKS = """
library(foreach)
for (size in c({chunks})) {{
  kubepar_plan(chunk_size = size)
  t0 <- Sys.time()
  r <- foreach(i = 1:1000, .combine = c) %dopar% (i + 1L)
  stopifnot(identical(r, 2:1001))
  cat("redis", size, as.numeric(difftime(Sys.time(), t0, units = "secs")), "\n")
}}
"""
REDIS_KILL = """
library(foreach)
kubepar_plan(ftinterval = {ftinterval})
t0 <- Sys.time()
r <- foreach(i = 1:8, .combine = c) %dopar% {{ Sys.sleep(3); i }}
stopifnot(identical(sort(r), 1:8))
cat("elapsed", as.numeric(difftime(Sys.time(), t0, units = "secs")), "\n")
"""


def queue_cluster(root: Path, cran: str) -> pods.LocalQueueCluster:
    cluster = pods.LocalQueueCluster(render.run_program("local", {"kubepar:rBackend": "redis"}), root, cran)
    cluster.start_server()
    for name in ("worker-0", "worker-1"):
        cluster.start_worker(name)
    if not pods.wait_for(lambda: cluster.connected() == 2, timeout=60):
        raise RuntimeError(cluster.logs())
    return cluster


def _session_values(out: str, tag: str) -> dict[int, float]:
    return {int(line.split()[1]): float(line.split()[2]) for line in out.splitlines() if line.startswith(tag + " ")}


def queue_vs_psock(cran: str, queue_cran: str) -> dict[str, Any]:
    """Tiny tasks per second by chunk size, PSOCK and Redis side by side; and a killed worker's cost."""
    psock_out = r_session_with_two_workers(
        PSOCK_CHUNKS.replace("{chunks}", ", ".join(map(str, CHUNKS))), cran, raw=True
    )
    cluster = queue_cluster(Path(tempfile.mkdtemp(prefix="kubepar-bench-queue-")), queue_cran)
    try:
        session = cluster.session(REDIS_CHUNKS.format(chunks=", ".join(map(str, CHUNKS))))
        redis_out, _ = session.communicate(timeout=900)
        kills: dict[str, float] = {}
        for label, ftinterval in (("kubepar", 5), ("doRedis default", 30)):
            for baseline in (True, False):
                session = cluster.session(REDIS_KILL.format(ftinterval=ftinterval))
                if not baseline:
                    time.sleep(4.5)  # both workers mid-way through their second task
                    victim = cluster.workers.pop("worker-1")
                    os.killpg(victim.pid, signal.SIGKILL)
                out, _ = session.communicate(timeout=900)
                elapsed = next(float(line.split()[1]) for line in out.splitlines() if line.startswith("elapsed"))
                kills[f"{label} {'baseline' if baseline else 'killed'}"] = elapsed
                if not baseline:
                    cluster.start_worker("worker-1")
                    pods.wait_for(lambda: cluster.connected() == 2, timeout=60)
            kills[f"{label} ftinterval"] = ftinterval
    finally:
        cluster.stop_all()
    return {"psock": _session_values(psock_out, "psock"), "redis": _session_values(redis_out, "redis"), "kills": kills}


TINY_R_SESSION = """
kubepar_plan(workers = 2, timeout = 60, port = {port})
time_it <- function(expr) {{
  t0 <- Sys.time(); force(expr); as.numeric(difftime(Sys.time(), t0, units = "secs"))
}}
batched <- median(replicate(3, time_it(future.apply::future_lapply(1:1000, function(i) i + 1L))))
single <- median(replicate(3, time_it(future.apply::future_lapply(1:1000, function(i) i + 1L,
                                                                  future.scheduling = Inf))))
cat("r_batched", batched, "\n")
cat("r_single", single, "\n")
kubepar_stop()
"""
TINY_DASK_CLIENT = """
import statistics, time
from distributed import Client
client = Client()
client.wait_for_workers(2, timeout=60)
samples = []
for _ in range(3):
    t0 = time.perf_counter()
    client.gather(client.map(lambda i: i + 1, range(1000), pure=False))
    samples.append(time.perf_counter() - t0)
print("dask", statistics.median(samples))
"""


def tiny_tasks(cran: str) -> dict[str, float]:
    """1,000 tiny tasks over two workers: the Dask engine vs the R engine, side by side."""
    results = r_session_with_two_workers(TINY_R_SESSION, cran)
    cluster = pods.LocalDask(render.run_program("dask-dev"), Path(tempfile.mkdtemp(prefix="kubepar-bench-")))
    try:
        cluster.start(workers=2)
        out = subprocess.run(
            [sys.executable, "-c", TINY_DASK_CLIENT],
            env=cluster.container("notebook", "notebook-0").process_env(),
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        ).stdout
        results["dask"] = float(out.split()[1])
    finally:
        cluster.stop_all()
    return results


def render_times() -> dict[str, float]:
    times = {}
    for stack in ("local", "dev", "prod", "dask-dev"):
        samples = []
        for _ in range(3):
            with tempfile.TemporaryDirectory() as out:
                t0 = time.monotonic()
                subprocess.run(
                    [sys.executable, str(ROOT / "tools" / "render.py"), stack, "--out", out],
                    check=True,
                    capture_output=True,
                )
                samples.append(time.monotonic() - t0)
        times[stack] = statistics.median(samples)
    return times


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    r_version = subprocess.run(["Rscript", "-e", "cat(R.version.string)"], capture_output=True, text=True).stdout
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    system = f"{platform.system()} {platform.release()}"
    import dask

    return f"{cores} cores ({cpu}), {system}, {r_version}, Python {platform.python_version()}, dask {dask.__version__}"


ENGINE_SECTION = "## Building the real engine"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", type=Path)
    parser.add_argument("--idle", type=int, nargs="+", default=[60, 300])
    parser.add_argument("--only-tiny", action="store_true", help="run only the tiny-task comparison")
    args = parser.parse_args()
    cran = local_cran()
    if args.only_tiny:
        print(tiny_tasks(cran))
        return 0
    joins = join_latency(args.idle, cran)
    speed = speedup(cran)
    tiny = tiny_tasks(cran)
    init = init_container(cran)
    # doRedis, redux and storr exist only on CRAN: the benchmark needs it reachable.
    queue_cran = repository.build(
        Path(tempfile.mkdtemp(prefix="kubepar-bench-cran-queue-")),
        packages=(*R_CORE_PACKAGES, "foreach", "iterators", "R6", "digest"),
        built=R_QUEUE_PACKAGES,
        built_from=repository.cran_sources(Path(tempfile.mkdtemp(prefix="kubepar-bench-cran-sources-"))),
    )
    queue = queue_vs_psock(cran, queue_cran)
    sweeps = sweep_overhead(cran)
    renders = render_times()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today().isoformat()} with `make bench`",
        "(`python tools/bench.py --write BENCHMARKS.md`)",
        f"on {machine()}. Each section's numbers come from one run, side by side; compare the ratios,",
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
    for idle in args.idle:
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
        "`python tools/render.py STACK` in a fresh process (imports included), median of 3.",
        "",
        "| stack | render |",
        "|---|---|",
        *[f"| {stack} | {seconds:.2f} s |" for stack, seconds in renders.items()],
        "",
    ]
    text = "\n".join(lines)
    if args.write:
        # The engine's build times are measured by hand (a cold build needs a fresh machine): keep them.
        previous = args.write.read_text() if args.write.exists() else ""
        kept = previous[previous.index(ENGINE_SECTION) :] if ENGINE_SECTION in previous else ""
        args.write.write_text(text.rstrip("\n") + ("\n\n" + kept if kept else "\n"))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
