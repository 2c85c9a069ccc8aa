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

Usage (from the project root): python -m tools.bench [--write BENCHMARKS.md] [--idle 60 300]
"""

from __future__ import annotations

import argparse
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

from components.engines.r_language import R_CORE_PACKAGES, R_QUEUE_PACKAGES
from components.ground.project import PROJECT_ROOT as ROOT
from tools import harness
from tools.bench_report import CHUNKS, Results, report
from tools.harness import clusters, jobs, pods, repository

# The benchmark programs, as files: R sessions and a Dask client.
PROGRAMS = Path(__file__).resolve().parent / "benchmarks"


def local_cran() -> str:
    """A local repository standing in for the pinned snapshot (see tests/e2e/repository.py)."""
    return repository.build(Path(tempfile.mkdtemp(prefix="kubepar-bench-cran-")))


def r_worker_pod(capture: harness.Capture, root: Path, cran: str, port: int, name: str) -> subprocess.Popen[bytes]:
    """A worker pod: its init container, then its main container dialing ``port``."""
    pods.start_r_pod(capture, "worker", root, cran, name)
    return clusters.r_worker(capture, root, port, name).start(root / f"{name}.log")


def r_session_pod(capture: harness.Capture, root: Path, cran: str, port: int) -> dict[str, str]:
    """The scheduler pod's init container, then the env of an RStudio session listening on ``port``."""
    pods.start_r_pod(capture, "scheduler", root, cran, "scheduler-0")
    return clusters.r_session_env(capture, root, port)


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


def start_chart(root: Path, port: int, name: str) -> subprocess.Popen[bytes]:
    argv = [part.format(port=port) for part in CHART_WORKER]
    return subprocess.Popen(
        argv, stdout=(root / f"{name}.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def join_latency(idle_seconds: list[int], cran: str) -> dict[tuple[int, str], float]:
    """Start all workers at once; at each idle mark, time a session's join per kind."""
    root = Path(tempfile.mkdtemp(prefix="kubepar-bench-"))
    capture = harness.run_program("local")
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
                        ["Rscript", str(PROGRAMS / "join.R")],
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


def r_session_with_two_workers(program: str, cran: str, raw: bool = False, env: dict[str, str] | None = None) -> Any:
    """Run an R session (rendered env) with two rendered workers; parse 'name value' lines (or return them)."""
    root = Path(tempfile.mkdtemp(prefix="kubepar-bench-"))
    capture = harness.run_program("local")
    port = pods.free_port()
    session_env = r_session_pod(capture, root, cran, port)
    workers = [r_worker_pod(capture, root, cran, port, f"w{i}") for i in range(2)]
    try:
        out = subprocess.run(
            ["Rscript", str(PROGRAMS / program)],
            env={**session_env, **(env or {})},
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
    return r_session_with_two_workers("speedup.R", cran)


def init_container(cran: str, rounds: int = 5) -> dict[str, float]:
    """The rendered R init container on a fresh pod: packages installed and median seconds."""
    capture = harness.run_program("local")
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

    capture = harness.run_program("local", {"kubepar:sweeps": json.dumps(SWEEP_BENCH)})
    results: dict[str, float] = {}
    for sweep in ("noop", "onesec"):
        root = Path(tempfile.mkdtemp(prefix=f"kubepar-bench-{sweep}-"))
        job = jobs.LocalJob(capture, sweep, root, cran)
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


def _sourced(program: str, **env: str) -> str:
    """R code that sets ``env`` and runs a benchmark program (a queue session takes code, not a file)."""
    settings = ", ".join(f"{key} = {value!r}" for key, value in env.items())
    return f"Sys.setenv({settings}); source({str(PROGRAMS / program)!r})"


def queue_cluster(root: Path, cran: str) -> clusters.LocalQueueCluster:
    cluster = clusters.LocalQueueCluster(harness.run_program("local", {"kubepar:rBackend": "redis"}), root, cran)
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
    chunks = " ".join(map(str, CHUNKS))
    psock_out = r_session_with_two_workers("psock_chunks.R", cran, raw=True, env={"BENCH_CHUNKS": chunks})
    cluster = queue_cluster(Path(tempfile.mkdtemp(prefix="kubepar-bench-queue-")), queue_cran)
    try:
        session = cluster.session(_sourced("redis_chunks.R", BENCH_CHUNKS=chunks))
        redis_out, _ = session.communicate(timeout=900)
        kills: dict[str, float] = {}
        for label, ftinterval in (("kubepar", 5), ("doRedis default", 30)):
            for baseline in (True, False):
                session = cluster.session(_sourced("redis_kill.R", BENCH_FTINTERVAL=str(ftinterval)))
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


def tiny_tasks(cran: str) -> dict[str, float]:
    """1,000 tiny tasks over two workers: the Dask engine vs the R engine, side by side."""
    results = r_session_with_two_workers("tiny_tasks.R", cran)
    cluster = clusters.LocalDask(harness.run_program("dask-dev"), Path(tempfile.mkdtemp(prefix="kubepar-bench-")))
    try:
        cluster.start(workers=2)
        out = subprocess.run(
            [sys.executable, str(PROGRAMS / "tiny_tasks_client.py")],
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
                    [sys.executable, "-m", "tools.render", stack, "--out", out],
                    cwd=ROOT,
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
    results = Results(
        machine=machine(),
        idle=args.idle,
        joins=joins,
        speed=speed,
        tiny=tiny,
        init=init,
        queue=queue,
        sweeps=sweeps,
        renders=renders,
    )
    lines = report(results)
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
