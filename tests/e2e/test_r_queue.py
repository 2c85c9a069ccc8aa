"""rBackend redis end to end: a queue server, worker pods and an RStudio session, as rendered.

The server runs as the rendered queue Deployment declares it (its command,
config file and the password file of its Secret), with Debian's
redis-server standing in for the image's valkey-server (Valkey is a fork of
Redis 7.2: same protocol, same config directives) and the port and data
folder mapped. Workers and the session run their rendered init containers:
the system library installer really fetches hiredis from the distribution's
archive, the package installer fills the pod's library from a local
repository (doRedis, redux and storr fetched from CRAN at pinned versions,
compiled here once and served as binaries, like the pods' snapshot). Every R
process runs with this machine's hiredis and site library hidden: it finds
only what the pod would have.

Where CRAN cannot be reached (it is the only source of doRedis, redux and
storr), every test here is reported as not run, with that reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.engines import model
from components.engines.r_language import R_CORE_PACKAGES, R_QUEUE_PACKAGES
from tests.conftest import program
from tools import harness
from tools.harness import clusters, pods, repository

# What doRedis, redux and storr need beyond base R (Debian packages on this machine).
QUEUE_DEPENDENCIES = ("foreach", "iterators", "R6", "digest")


@pytest.fixture(scope="module")
def queue_cran(tmp_path_factory: pytest.TempPathFactory) -> str:
    clusters.require_r()
    try:
        sources = repository.cran_sources(tmp_path_factory.mktemp("cran-sources"))
    except repository.CranUnreachableError as error:
        pytest.skip(f"not run here: doRedis, redux and storr exist only on CRAN, which is unreachable ({error})")
    return repository.build(
        tmp_path_factory.mktemp("cran-queue"),
        packages=(*R_CORE_PACKAGES, *QUEUE_DEPENDENCIES),
        built=R_QUEUE_PACKAGES,
        built_from=sources,
    )


@pytest.fixture(scope="module")
def capture() -> harness.Capture:
    return program("local", rBackend="redis", workers=2)


@pytest.fixture
def cluster(capture: harness.Capture, tmp_path: Path, queue_cran: str) -> Iterator[clusters.LocalQueueCluster]:
    local = clusters.LocalQueueCluster(capture, tmp_path, queue_cran)
    local.start_server()
    try:
        yield local
    finally:
        local.stop_all()


def finish(session: subprocess.Popen[str], cluster: clusters.LocalQueueCluster, timeout: float = 300) -> str:
    try:
        out, _ = session.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        session.kill()
        out, _ = session.communicate()
        raise AssertionError(f"the session did not finish:\n{out}\n{cluster.logs()}") from None
    assert session.returncode == 0, f"{out}\n{cluster.logs()}"
    return out


def test_redux_loads_only_with_the_hiredis_the_pods_init_container_fetched(
    capture: harness.Capture, tmp_path: Path, queue_cran: str
) -> None:
    result = pods.run_init(capture, "worker", tmp_path, queue_cran, "worker-0", hide_system_libraries=True)
    assert result.returncode == 0, result.stdout + result.stderr
    container = pods.LocalContainer(capture, "worker", tmp_path, pod_name="worker-0")
    env = container.process_env()
    fetched = sorted((tmp_path / "pods" / "worker-0" / "kubepar-system").glob("usr/lib/*-linux-gnu/libhiredis.so*"))
    assert fetched, "the system library init container fetched no hiredis"
    check = ["Rscript", "-e", "library(redux); cat('LOADED', redis_available() || TRUE, '\\n')"]
    loaded = subprocess.run(pods.without_system_libraries(check), env=env, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0 and "LOADED" in loaded.stdout, loaded.stderr
    # The same process without the pod's folder: this machine's hiredis is hidden, so redux cannot load.
    bare = {k: v for k, v in env.items() if k != "LD_LIBRARY_PATH"}
    missing = subprocess.run(
        pods.without_system_libraries(check), env=bare, capture_output=True, text=True, check=False
    )
    assert missing.returncode != 0 and "libhiredis" in missing.stderr, missing.stderr


def test_the_queue_refuses_clients_without_the_password(cluster: clusters.LocalQueueCluster) -> None:
    assert cluster.ping(password=None).startswith("NOAUTH")
    assert cluster.ping() == "PONG"


SEED_EXAMPLE = """
kubepar_plan()
library(foreach)
f <- function(i) {{ set.seed(i); mean(rnorm(1e4)) }}
t0 <- Sys.time()
parallel <- foreach(i = 1:40, .combine = c) %dopar% f(i)
cat("ELAPSED", as.numeric(difftime(Sys.time(), t0, units = "secs")), "\\n")
sequential <- vapply(1:40, f, numeric(1))
cat("IDENTICAL", identical(parallel, sequential), "\\n")
kubepar_status()
"""


def test_foreach_over_the_queue_equals_the_sequential_result(cluster: clusters.LocalQueueCluster) -> None:
    for name in ("worker-0", "worker-1"):
        cluster.start_worker(name)
    assert pods.wait_for(lambda: cluster.connected() == 2, timeout=60), cluster.logs()
    out = finish(cluster.session(SEED_EXAMPLE.format()), cluster)
    assert "IDENTICAL TRUE" in out
    assert "2 of 2 configured workers connected now" in out
    assert "kubepar: 2 of 2 configured workers connected; tasks: 0 queued, 0 running" in out


LONG_TASKS = """
kubepar_plan(ftinterval = 3)
library(foreach)
password <- readLines(Sys.getenv("KUBEPAR_QUEUE_PASSWORD_FILE"))
con <- redux::hiredis(host = "127.0.0.1", port = {port}, password = password)
r <- foreach(i = 1:2, .combine = c) %dopar% {{
  runs <- redux::hiredis(host = "127.0.0.1", port = {port}, password = password)
  runs$INCR(paste0("runs:", i))
  Sys.sleep(8)
  i
}}
cat("RESULT", r, "\\n")
cat("RUNS", vapply(1:2, function(i) as.integer(con$GET(paste0("runs:", i))), integer(1)), "\\n")
"""


def test_with_the_password_on_a_task_longer_than_the_fault_interval_runs_once(
    cluster: clusters.LocalQueueCluster,
) -> None:
    # doRedis issue 14 reports running tasks resubmitted when Redis has a password:
    # its alive-key thread must authenticate. With 3.0.2 it does: each task runs once.
    for name in ("worker-0", "worker-1"):
        cluster.start_worker(name)
    assert pods.wait_for(lambda: cluster.connected() == 2, timeout=60), cluster.logs()
    out = finish(cluster.session(LONG_TASKS.format(port=cluster.port)), cluster)
    assert "RESULT 1 2" in out
    assert "RUNS 1 1" in out, out


SLOW_LOOP = """
kubepar_plan()
library(foreach)
t0 <- Sys.time()
r <- foreach(i = 1:{tasks}, .combine = rbind) %dopar% {{
  Sys.sleep({seconds})
  data.frame(i = i, value = i^2, worker = Sys.getenv("KUBEPAR_WORKER_NAME"))
}}
cat("ELAPSED", as.numeric(difftime(Sys.time(), t0, units = "secs")), "\\n")
cat("CORRECT", identical(r$value[order(r$i)], (1:{tasks})^2), nrow(r), "\\n")
cat("WORKERS", sort(unique(r$worker)), "\\n")
"""


def _elapsed(out: str) -> float:
    return float(next(line for line in out.splitlines() if line.startswith("ELAPSED")).split()[1])


def test_a_worker_killed_mid_task_costs_a_retry_not_the_loop(cluster: clusters.LocalQueueCluster) -> None:
    for name in ("worker-0", "worker-1"):
        cluster.start_worker(name)
    assert pods.wait_for(lambda: cluster.connected() == 2, timeout=60), cluster.logs()
    session = cluster.session(SLOW_LOOP.format(tasks=6, seconds=2))
    # Both workers busy with their first task, then one node is lost: its whole pod dies at once.
    assert pods.wait_for(lambda: cluster.connected() == 2 and len(pods.r_children(cluster.workers["worker-1"])) > 0, 30)
    time.sleep(3)
    os.killpg(cluster.workers["worker-1"].pid, signal.SIGKILL)
    out = finish(session, cluster)
    assert "CORRECT TRUE 6" in out, out
    # Without the loss: 6 tasks of 2 s on 2 workers, about 6 s; the lost task waits for the fault interval (5 s).
    print(f"loop with a killed worker took {_elapsed(out):.1f} s")
    assert _elapsed(out) < 6 + 5 + 10


def test_workers_that_join_mid_loop_take_queued_tasks(cluster: clusters.LocalQueueCluster) -> None:
    cluster.start_worker("worker-0")
    assert pods.wait_for(lambda: cluster.connected() == 1, timeout=60), cluster.logs()
    session = cluster.session(SLOW_LOOP.format(tasks=10, seconds=1))
    time.sleep(2)
    cluster.start_worker("worker-1")
    out = finish(session, cluster)
    assert "CORRECT TRUE 10" in out
    assert "WORKERS worker-0 worker-1" in out, out


def test_a_server_restart_mid_loop_loses_nothing(cluster: clusters.LocalQueueCluster) -> None:
    for name in ("worker-0", "worker-1"):
        cluster.start_worker(name)
    assert pods.wait_for(lambda: cluster.connected() == 2, timeout=60), cluster.logs()
    session = cluster.session(SLOW_LOOP.format(tasks=12, seconds=1))
    time.sleep(3)
    # A restarted queue pod: SIGTERM (the server flushes its append-only file), then the same command again.
    assert cluster.stop_server() == 0
    assert list(Path(cluster.server_argv()[cluster.server_argv().index("--dir") + 1]).glob("**/*.aof*"))
    time.sleep(2)
    cluster.start_server()
    out = finish(session, cluster, timeout=240)
    assert "CORRECT TRUE 12" in out, out
    assert pods.wait_for(lambda: cluster.connected() == 2, timeout=30), "workers did not reconnect"


def test_a_busy_worker_exits_promptly_on_sigterm(cluster: clusters.LocalQueueCluster) -> None:
    worker = cluster.start_worker("worker-0")
    assert pods.wait_for(lambda: cluster.connected() == 1, timeout=60), cluster.logs()
    session = cluster.session(SLOW_LOOP.format(tasks=2, seconds=20))
    assert pods.wait_for(lambda: len(pods.r_children(worker)) > 0, 30)
    time.sleep(3)
    t0 = time.monotonic()
    code = pods.stop(worker, signal.SIGTERM, timeout=model.SPOT_GRACE_SECONDS)
    assert code == 0 and time.monotonic() - t0 < 3, cluster.logs()
    session.kill()
    session.communicate()
