"""The rendered engines as local processes: R pods and sessions, Dask, and the R queue backend.

Owns: starting a rendered pod's init containers and main container for the
R engine (PSOCK and queue backends) and the Dask engine, redirected only
where a test says so (the scheduler's host and port, the package
repository). Does not: run single containers (pods.py) or Jobs (jobs.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from components.engines import dask
from components.engines.model import ENDPOINT_SERVICE
from components.k8s import queue
from tools.harness.capture import Capture
from tools.harness.pods import (
    TEST_PASSWORD,
    LocalContainer,
    deployment,
    free_port,
    start_r_pod,
    stop,
    wait_for,
    without_system_libraries,
    write_secret,
)


def require_r() -> None:
    missing = [tool for tool in ("Rscript", "sh", "pgrep") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"end-to-end tests need {missing}: .ci/run installs r-base-core and friends")


def r_worker(capture: Capture, root: Path, port: int, pod_name: str) -> LocalContainer:
    """The rendered R worker, dialing a session on 127.0.0.1:port instead of the scheduler Service.

    Its pod's init container must have run (:func:`start_r_pod`) for R to find future.
    """
    return LocalContainer(
        capture,
        "worker",
        root,
        pod_name=pod_name,
        env_overrides={"KUBEPAR_SCHEDULER_HOST": "127.0.0.1", "KUBEPAR_SCHEDULER_PORT": str(port)},
    )


def r_session_env(capture: Capture, root: Path, port: int, pod_name: str = "scheduler-0") -> dict[str, str]:
    """The environment an RStudio session gets from the rendered scheduler, listening on ``port``."""
    session = LocalContainer(
        capture, "scheduler", root, pod_name=pod_name, env_overrides={"KUBEPAR_WORKER_PORT": str(port)}
    )
    return session.process_env()


def python_path_env() -> dict[str, str]:
    """PATH with this interpreter's folder first: the Dask images have dask on PATH."""
    return {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}


class LocalDask:
    """The rendered Dask scheduler and workers as local processes.

    What changes from the render: the scheduler Service's DNS name becomes
    127.0.0.1 and the ports become free local ones, since here every pod
    shares one address.
    """

    def __init__(self, capture: Capture, root: Path) -> None:
        self.capture = capture
        self.root = root
        self.scheduler_port = free_port()
        self.dashboard_port = free_port()
        self.substitutions = {
            f"{ENDPOINT_SERVICE}.kubepar.svc.cluster.local": "127.0.0.1",
            f":{dask.DASK_SCHEDULER_PORT}": f":{self.scheduler_port}",
            f":{dask.DASK_DASHBOARD_PORT}": f":{self.dashboard_port}",
            # Each worker pod has its own address for its dashboard; here they share one.
            f":{dask.DASK_WORKER_DASHBOARD_PORT}": ":0",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def container(self, component: str, pod_name: str) -> LocalContainer:
        return LocalContainer(
            self.capture,
            component,
            self.root,
            pod_name=pod_name,
            substitutions=self.substitutions,
            env_overrides=python_path_env(),
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.dashboard_port}/health", timeout=2) as answer:
                return bool(answer.read() == b"ok")
        except OSError:
            return False

    def start(self, workers: int) -> None:
        scheduler = self.container("scheduler", "scheduler-0")
        argv = scheduler.argv()
        # The scheduler's own --port, which the address substitution does not reach.
        argv[argv.index("--port") + 1] = str(self.scheduler_port)
        log = (self.root / "scheduler-0.log").open("wb")
        self.processes["scheduler-0"] = subprocess.Popen(
            argv,
            env=scheduler.process_env(),
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait_for(self.healthy, timeout=60):
            raise RuntimeError(f"the Dask scheduler did not become healthy:\n{self.logs()}")
        for index in range(workers):
            name = f"worker-{index}"
            self.processes[name] = self.container("worker", name).start(self.root / f"{name}.log")

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop(process, timeout=20)

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.root.glob("*.log"))


class LocalQueueCluster:
    """The rendered queue server, worker pods and session on this machine."""

    def __init__(self, capture: Capture, root: Path, cran: str) -> None:
        self.capture, self.root, self.cran = capture, root, cran
        self.port = free_port()
        self.overrides = {"KUBEPAR_QUEUE_HOST": "127.0.0.1", "KUBEPAR_QUEUE_PORT": str(self.port)}
        spec = deployment(capture, "queue")["spec"]["template"]["spec"]
        secret = next(v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v)
        write_secret(
            root,
            secret,
            {queue.PASSWORD_FILE: TEST_PASSWORD, queue.AUTH_CONFIG_FILE: queue.auth_config(TEST_PASSWORD)},
        )
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def server_argv(self) -> list[str]:
        argv = LocalContainer(self.capture, "queue", self.root, pod_name="queue-0").argv()
        assert argv[0] == "valkey-server"
        return ["redis-server", *argv[1:], "--port", str(self.port)]

    def start_server(self) -> None:
        self.server = subprocess.Popen(
            self.server_argv(),
            stdout=(self.root / "queue-0.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait_for(lambda: self.ping() == "PONG", timeout=20):
            raise RuntimeError((self.root / "queue-0.log").read_text())

    def stop_server(self) -> int:
        assert self.server is not None
        return stop(self.server, signal.SIGTERM, timeout=20)

    def ping(self, password: str | None = TEST_PASSWORD) -> str:
        auth = ["-a", password, "--no-auth-warning"] if password else []
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), *auth, "ping"], capture_output=True, text=True, check=False
        )
        return result.stdout.strip()

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        start_r_pod(self.capture, "worker", self.root, self.cran, name, hide_system_libraries=True)
        container = LocalContainer(self.capture, "worker", self.root, pod_name=name, env_overrides=self.overrides)
        process = container.start(self.root / f"{name}.log", argv=without_system_libraries(container.argv()))
        self.workers[name] = process
        return process

    def session_env(self) -> dict[str, str]:
        start_r_pod(self.capture, "scheduler", self.root, self.cran, "scheduler-0", hide_system_libraries=True)
        return LocalContainer(
            self.capture, "scheduler", self.root, pod_name="scheduler-0", env_overrides=self.overrides
        ).process_env()

    def session(self, code: str, timeout: float = 300) -> subprocess.Popen[str]:
        return subprocess.Popen(
            without_system_libraries(["Rscript", "-e", code]),
            env=self.session_env(),
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def connected(self) -> int:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "-a", TEST_PASSWORD, "--no-auth-warning", "client", "list"],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout.count("name=kubepar-worker:")

    def stop_all(self) -> None:
        for process in self.workers.values():
            stop(process, timeout=10)
        if self.server is not None:
            stop(self.server, timeout=10)

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in sorted(self.root.glob("*.log"))
        )
