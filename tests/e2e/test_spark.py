"""End to end with real Spark: the rendered master, workers and Connect server, and the session's client.

The three roles run their rendered containers (command, arguments,
environment, fixed ports) from the ``pyspark`` package at the server's
version and Debian's Java 17 (tools/harness/spark.py); each pod has a
loopback address of its own. The client is ``pyspark-client`` at the same
version with the JupyterLab session's rendered environment, through
``kubepar.spark()`` as a notebook user calls it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.ground import spark
from tests.conftest import program
from tools.harness.pods import LocalContainer, wait_for
from tools.harness.spark import CONNECT_IP, MASTER_IP, LocalSpark, missing, port_open

WORKERS = 2
SETTINGS = {"workers": WORKERS, "workerMemory": "2Gi", "driverMemory": "1Gi"}
# id % 1000 over N rows: every key counts N/1000, and the ids sum to N(N-1)/2.
QUERY = """
import kubepar
from pyspark.sql import functions as F
spark = kubepar.spark()
rows = spark.range(0, {rows}, 1, {partitions}).selectExpr("id % 1000 as k", "id as v")
answer = rows.groupBy("k").agg(F.count("*").alias("n"), F.sum("v").alias("s")).collect()
print("ANSWER", len(answer), sorted({{row.n for row in answer}}), sum(row.s for row in answer))
spark.stop()
"""


def expected(rows: int) -> str:
    return f"ANSWER 1000 [{rows // 1000}] {rows * (rows - 1) // 2}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSpark]:
    reason = missing()
    if reason is not None:
        pytest.fail(f"Spark's end-to-end tests need their components (make venv installs them): {reason}")
    capture = program("local", engine="dask", packages="[]", spark=json.dumps(SETTINGS))
    local = LocalSpark(capture, tmp_path_factory.mktemp("spark"))
    try:
        local.start(workers=WORKERS)
        yield local
    finally:
        local.stop_all()


def run(cluster: LocalSpark, code: str, **env: str) -> str:
    done = cluster.client(textwrap.dedent(code), {**cluster.session_env("notebook"), **env})
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}\n{cluster.logs()}"
    return done.stdout


def test_a_query_from_the_session_returns_the_right_answer(cluster: LocalSpark) -> None:
    env = cluster.session_env("notebook")
    # The rendered address, with the Service's name resolved to the Connect pod.
    assert env["KUBEPAR_SPARK_REMOTE"] == f"sc://{CONNECT_IP}:{spark.CONNECT_PORT}"
    assert expected(10**6) in run(cluster, QUERY.format(rows=10**6, partitions=8))
    # Only the declared ports: the master's REST submission server (6066) is off.
    assert not port_open(MASTER_IP, 6066)


def test_a_client_of_another_minor_version_is_refused_before_it_talks(cluster: LocalSpark) -> None:
    done = cluster.client(
        "import kubepar; kubepar.spark()", {**cluster.session_env("notebook"), "KUBEPAR_SPARK_VERSION": "4.0.3"}
    )
    assert done.returncode != 0
    assert "pyspark 4.1.2 cannot talk to the Spark 4.0.3 server" in done.stderr


def _driver(path: str) -> Any:
    url = f"http://{CONNECT_IP}:{spark.DRIVER_UI_PORT}/api/v1/applications"
    with urllib.request.urlopen(url, timeout=5) as answer:
        application = json.load(answer)[0]["id"]
    with urllib.request.urlopen(f"{url}/{application}/{path}", timeout=5) as answer:
        return json.load(answer)


def _running_with_progress() -> bool:
    try:
        jobs = _driver("jobs")
    except (OSError, IndexError, KeyError, ValueError):
        return False
    return any(job["status"] == "RUNNING" and job["numCompletedTasks"] > 0 for job in jobs)


def _query_killing_a_worker(cluster: LocalSpark, rows: int) -> tuple[bool, str]:
    """(whether a worker was killed while the query ran, the client's output)."""
    result: dict[str, str] = {}

    def query() -> None:
        result["out"] = run(cluster, QUERY.format(rows=rows, partitions=64))

    client = threading.Thread(target=query)
    client.start()
    assert wait_for(lambda: _running_with_progress() or not client.is_alive(), timeout=300)
    killed = client.is_alive() and _running_with_progress()
    if killed:
        cluster.kill("spark-worker-1")
    client.join(timeout=900)
    assert not client.is_alive() and "out" in result, cluster.logs()
    return killed, result["out"]


def test_a_worker_lost_mid_query_costs_a_rerun_of_its_tasks_not_the_answer(cluster: LocalSpark) -> None:
    # Spot: the worker's pod is gone at once (the worker and its executor killed, no SIGTERM).
    # Each try is bigger, until the kill lands while the query runs (the driver says so).
    for rows in (4 * 10**7, 16 * 10**7, 64 * 10**7):
        killed_mid_query, out = _query_killing_a_worker(cluster, rows)
        if killed_mid_query:
            break
    assert killed_mid_query, "every query finished before a worker could be killed in it"
    assert expected(rows) in out
    # The rerun ran on the worker that is left; the lost executor is on record as lost.
    assert cluster.alive_workers() == 1
    cluster.start_worker(1)
    assert wait_for(lambda: cluster.alive_workers() == 2, timeout=180), cluster.logs()


def test_the_roles_wrote_only_under_their_pods_own_volumes(cluster: LocalSpark) -> None:
    # Read-only root in the pod: the warehouse, work dir and shuffle files land in /tmp (the emptyDir),
    # nothing in the working directory (the image's /opt/spark/work-dir).
    pods = Path(cluster.root) / "pods"
    assert any(pods.glob("spark-worker-*/tmp/spark-work/app-*")), "the worker's --work-dir was not used"
    assert not any(Path(cluster.root).glob("spark-warehouse")), "the Connect server wrote into its working dir"
    assert not any(Path(cluster.root).glob("metastore_db"))


def test_the_rstudio_pods_python_reaches_the_server(cluster: LocalSpark, tmp_path: Path) -> None:
    # The RStudio pod's install-python init container, as rendered, then that virtualenv as pysparklyr
    # uses it. The official Python image's /usr/local cannot be pulled here: this interpreter stands in.
    capture = program("local", engine="r", spark=json.dumps(SETTINGS))
    init = LocalContainer(capture, "scheduler", tmp_path, container="install-python", init=True)
    image = tmp_path / "python-image-usr-local"
    (image / "bin").mkdir(parents=True)
    (image / "bin" / "python3").symlink_to(sys.executable)
    env = {**init.process_env(), "KUBEPAR_PYTHON_SOURCE": str(image)}
    done = subprocess.run(init.argv(), env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    python = Path(init.env["KUBEPAR_PYTHON_DIR"]) / "envs" / init.env["KUBEPAR_PYTHON_ENV"] / "bin" / "python"
    remote = LocalContainer(capture, "scheduler", tmp_path, substitutions=cluster.substitutions).env
    code = (
        "from pyspark.sql import SparkSession; import sys; s = SparkSession.builder.remote(sys.argv[1]).getOrCreate()"
    )
    code += "; print('ROWS', s.range(1000).count()); s.stop()"
    query = subprocess.run(
        [str(python), "-c", code, remote["KUBEPAR_SPARK_REMOTE"]], capture_output=True, text=True, timeout=300
    )
    assert "ROWS 1000" in query.stdout, query.stderr[-3000:]


def test_sigterm_stops_each_jvm_well_within_its_grace_period(cluster: LocalSpark) -> None:
    # Last: it stops the cluster. The JVM is PID 1 in the pod (no shell between), so SIGTERM is its own.
    for pod_name, component in (
        ("spark-connect-0", "spark-connect"),
        ("spark-worker-0", "spark-worker"),
        ("spark-master-0", "spark-master"),
    ):
        code, seconds = cluster.terminate(pod_name)
        grace = cluster.grace_seconds(component)
        assert seconds < grace / 2, f"{pod_name} took {seconds:.1f} s of its {grace} s"
        # 143: ended by the signal's handler (128 + SIGTERM), not killed after the grace period.
        assert code in (0, 143, -15), f"{pod_name} exited {code}"
