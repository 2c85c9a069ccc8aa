"""End to end with real R: rendered workers dial a real R session that loaded kubepar.R.

Every pod starts as Kubernetes would start it: its rendered init container
fills the pod's package folder (from a local repository instead of the
snapshot), then its main container runs with R seeing only base R and that
folder. Workers run the rendered worker container's command, args and env;
the session runs with the rendered RStudio container's env (so
R_PROFILE_USER loads the rendered kubepar.R and KUBEPAR_WORKERS_FILE is the
rendered settings ConfigMap). Only the scheduler host (127.0.0.1), the port
(a free one) and the package repository are changed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools import harness
from tools.harness import clusters, pods

clusters.require_r()

EXAMPLE = """
library(future.apply)
kubepar_plan(timeout = 60)
cat("workers:", future::nbrOfWorkers(), "\\n")
parallel_result <- future_lapply(1:40, function(i) mean(rnorm(1e5)), future.seed = 1)
pids <- unique(unlist(future_lapply(1:8, function(i) { Sys.sleep(0.2); Sys.getpid() })))
future::plan(future::sequential)
sequential_result <- future_lapply(1:40, function(i) mean(rnorm(1e5)), future.seed = 1)
cat("identical:", identical(parallel_result, sequential_result), "\\n")
cat("distinct worker pids:", length(pids), "\\n")
"""


@dataclass
class RCluster:
    capture: harness.Capture
    root: Path
    port: int
    cran: str
    workers: list[subprocess.Popen[bytes]]

    def session_env(self) -> dict[str, str]:
        return clusters.r_session_env(self.capture, self.root, self.port)

    def run_session(self, code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["Rscript", "-e", code],
            env=self.session_env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start_session(self, code: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["Rscript", "-e", code],
            env=self.session_env(),
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def start_worker(self, index: int) -> subprocess.Popen[bytes]:
        pod = f"worker-{index}"
        pods.start_r_pod(self.capture, "worker", self.root, self.cran, pod)
        process = clusters.r_worker(self.capture, self.root, self.port, pod).start(self.root / f"{pod}.log")
        self.workers.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("worker-*.log")))


def wait_for_line(session: subprocess.Popen[str], wanted: str) -> None:
    """Read the session's output until a line equals ``wanted`` (it blocks, R is quick)."""
    assert session.stdout is not None
    seen = []
    for line in session.stdout:
        seen.append(line)
        if line.strip() == wanted:
            return
    raise AssertionError(f"session ended before {wanted!r}: {''.join(seen)}")


@pytest.fixture
def cluster(tmp_path: Path, cran: str) -> Iterator[RCluster]:
    capture = harness.run_program("local")
    replicas = pods.deployment(capture, "worker")["spec"]["replicas"]
    assert replicas == 2, "the local stack declares two workers"
    rcluster = RCluster(capture=capture, root=tmp_path, port=pods.free_port(), cran=cran, workers=[])
    pods.start_r_pod(capture, "scheduler", tmp_path, cran, "scheduler-0")
    for index in range(replicas):
        rcluster.start_worker(index)
    yield rcluster
    for process in rcluster.workers:
        pods.stop(process)


def test_future_lapply_over_dialing_workers_matches_sequential(cluster: RCluster) -> None:
    result = cluster.run_session(EXAMPLE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kubepar: 2 workers joined" in result.stderr
    assert "workers: 2" in result.stdout
    assert "identical: TRUE" in result.stdout
    assert "distinct worker pids: 2" in result.stdout


def test_session_reports_how_many_workers_joined_when_some_are_missing(cluster: RCluster) -> None:
    # The settings ConfigMap says 2; ask for 3 within a short timeout.
    result = cluster.run_session("kubepar_plan(workers = 3, timeout = 10)", timeout=60)
    assert result.returncode != 0
    assert "only 2 of 3 workers joined within 10 s" in result.stderr
    assert "kubectl -n kubepar get pods -l app.kubernetes.io/component=worker" in result.stderr


def test_idle_workers_join_within_seconds(cluster: RCluster) -> None:
    time.sleep(60)
    result = cluster.run_session(
        "t0 <- Sys.time(); kubepar_plan(timeout = 60); "
        "cat('join seconds:', as.numeric(difftime(Sys.time(), t0, units = 'secs')), '\\n')"
    )
    assert result.returncode == 0, result.stderr
    seconds = float(result.stdout.split("join seconds:")[1].split()[0])
    # Setup timeout 5 s: the longest gap between dials is about 2.5 s plus R's start.
    assert seconds < 8, f"idle workers took {seconds:.1f}s to join"


def test_workers_rejoin_after_stop_cluster_and_after_the_master_dies(cluster: RCluster) -> None:
    after_stop = cluster.run_session(
        "kubepar_plan(timeout = 60); kubepar_stop(); kubepar_plan(timeout = 30); kubepar_status()"
    )
    assert after_stop.returncode == 0, after_stop.stderr
    assert "2 of 2 configured workers joined, 2 responding" in after_stop.stdout

    master = cluster.start_session("kubepar_plan(timeout = 60); cat('ready\\n'); Sys.sleep(600)")
    wait_for_line(master, "ready")
    master.send_signal(signal.SIGKILL)
    master.wait(timeout=10)

    after_death = cluster.run_session("kubepar_plan(timeout = 30); kubepar_status()")
    assert after_death.returncode == 0, after_death.stderr + cluster.logs()
    assert "2 of 2 configured workers joined, 2 responding" in after_death.stdout
    assert "master gone or worker killed" in cluster.logs()


def test_killed_worker_fails_the_call_clearly_and_comes_back(cluster: RCluster) -> None:
    session = cluster.start_session(
        "kubepar_plan(timeout = 60); cat('ready\\n');"
        "r <- tryCatch(future.apply::future_lapply(1:8, function(i) { Sys.sleep(3); i }),"
        "  error = function(e) { cat('ERROR:', conditionMessage(e), '\\n'); NULL });"
        "kubepar_stop(); kubepar_plan(timeout = 30); kubepar_status()"
    )
    wait_for_line(session, "ready")
    victim = cluster.workers[0]
    assert pods.wait_for(lambda: pods.r_children(victim), timeout=10)
    time.sleep(1)
    for pid in pods.r_children(victim):
        subprocess.run(["kill", "-9", str(pid)], check=True)
    output, _ = session.communicate(timeout=120)
    assert session.returncode == 0, output
    assert "ERROR:" in output
    error_line = next(line for line in output.splitlines() if line.startswith("ERROR:"))
    assert "RichSOCKnode" in error_line or "connection" in error_line.lower(), error_line
    assert "2 of 2 configured workers joined, 2 responding" in output
    assert victim.poll() is None, "the worker loop itself must survive its R process"


def test_sigterm_stops_a_connected_worker_within_seconds(cluster: RCluster) -> None:
    session = cluster.start_session("kubepar_plan(timeout = 60); cat('ready\\n'); Sys.sleep(60)")
    wait_for_line(session, "ready")
    worker = cluster.workers[1]
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(timeout=10)
    elapsed = time.monotonic() - started
    session.kill()
    session.wait(timeout=10)
    assert code == 0
    assert elapsed < 3, f"worker took {elapsed:.1f}s to stop"
    assert "stopped by signal" in cluster.logs()
