"""End to end with real Dask: the rendered scheduler and workers, and a client as the notebook.

Scheduler and workers run the rendered containers' commands and env (see
clusters.LocalDask for the address and port changes). The client runs with the
rendered notebook's env and calls Client() with no arguments, as a notebook
user would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.engines import dask
from tools import harness
from tools.harness import clusters, pods


def run_client(cluster: clusters.LocalDask, code: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Python with the rendered notebook's env, as a notebook user."""
    notebook = cluster.container("notebook", "notebook-0")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=notebook.process_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_client(cluster: clusters.LocalDask, code: str) -> subprocess.Popen[str]:
    """A long-running client with the notebook's env; the test reads its lines as it goes."""
    script = cluster.root / "client.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=cluster.container("notebook", "notebook-0").process_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[clusters.LocalDask]:
    capture = harness.run_program("dask-dev")
    scheduler = pods.deployment(capture, "scheduler")["spec"]["template"]["spec"]["containers"][0]
    assert scheduler["readinessProbe"]["httpGet"] == {"path": "/health", "port": dask.DASK_DASHBOARD_PORT}
    assert pods.deployment(capture, "worker")["spec"]["replicas"] >= 2
    cluster = clusters.LocalDask(capture, tmp_path)
    try:
        cluster.start(workers=2)
        yield cluster
    finally:
        cluster.stop_all()


def test_rendered_dask_cluster_computes_what_numpy_computes(dask_cluster: clusters.LocalDask) -> None:
    result = run_client(
        dask_cluster,
        """
        import numpy as np
        import dask.array as da
        from distributed import Client

        client = Client()  # DASK_SCHEDULER_ADDRESS, as in the notebook
        client.wait_for_workers(2, timeout=60)
        print("workers", len(client.scheduler_info()["workers"]))
        x = da.random.RandomState(42).random_sample((3000, 3000), chunks=(500, 500))
        total = float((x * 2).sum().compute())
        # Same seed, same chunks: the distributed sum equals the in-process one.
        in_process = float((x * 2).sum().compute(scheduler="sync"))
        print("array", abs(total - in_process) < 1e-6 * abs(in_process))
        squares = client.gather(client.map(lambda i: i * i, range(200)))
        print("map", sum(squares) == sum(i * i for i in range(200)))
        print("numpy", abs(float(np.asarray(x).sum() * 2) - total) < 1e-6 * abs(total))
        """,
    )
    assert result.returncode == 0, result.stderr + dask_cluster.logs()
    assert "workers 2" in result.stdout
    assert "array True" in result.stdout
    assert "map True" in result.stdout
    assert "numpy True" in result.stdout


def test_killed_worker_does_not_stop_the_computation(dask_cluster: clusters.LocalDask) -> None:
    session = start_client(
        dask_cluster,
        """
            import time
            from distributed import Client

            client = Client()
            client.wait_for_workers(2, timeout=60)
            print("ready", flush=True)
            futures = client.map(lambda i: (time.sleep(0.25), i)[1], range(60), pure=False)
            print("results", sorted(client.gather(futures)) == list(range(60)), flush=True)
            print("workers left", len(client.scheduler_info()["workers"]), flush=True)
            """,
    )
    assert session.stdout is not None
    assert session.stdout.readline().strip() == "ready"
    time.sleep(2)
    victim = dask_cluster.processes["worker-0"]
    os.killpg(victim.pid, signal.SIGKILL)
    output, _ = session.communicate(timeout=180)
    assert session.returncode == 0, output + dask_cluster.logs()
    assert "results True" in output
    assert "workers left 1" in output


def test_stopping_worker_hands_its_results_over_first(dask_cluster: clusters.LocalDask) -> None:
    session = start_client(
        dask_cluster,
        """
            import sys
            from distributed import Client

            client = Client()
            client.wait_for_workers(2, timeout=60)
            futures = client.map(lambda i: i * 10, range(40), pure=False)
            client.gather(futures)
            names = {info["name"]: address for address, info in client.scheduler_info()["workers"].items()}
            held = {w for ws in client.who_has(futures).values() for w in ws}
            print("held by", sorted(held), flush=True)
            print("leaving", names["worker-1"], flush=True)
            sys.stdin.readline()  # the test retires worker-1 now
            after = {w for ws in client.who_has(futures).values() for w in ws}
            print("after", sorted(after), flush=True)
            print("kept", names["worker-1"] not in after and len(client.who_has(futures)) == 40, flush=True)
            print("values", client.gather(futures) == [i * 10 for i in range(40)], flush=True)
            """,
    )
    assert session.stdout is not None and session.stdin is not None
    held = session.stdout.readline()
    leaving = session.stdout.readline().split()[1]
    assert leaving in held, held

    # What the kubelet does on scale-down or Spot preemption: preStop, then SIGTERM.
    worker = dask_cluster.container("worker", "worker-1")
    hook = subprocess.run(worker.pre_stop(), env=worker.process_env(), capture_output=True, text=True, timeout=90)
    assert hook.returncode == 0, hook.stderr
    assert "retired worker worker-1" in hook.stdout
    dask_cluster.processes["worker-1"].send_signal(signal.SIGTERM)
    assert dask_cluster.processes["worker-1"].wait(timeout=30) == 0

    output, _ = session.communicate("go\n", timeout=60)
    assert "kept True" in output, output + dask_cluster.logs()
    assert "values True" in output
