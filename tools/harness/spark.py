"""The rendered Spark roles (master, workers, Connect server) as local processes, and the session's client.

Each role runs its rendered container's command, arguments and environment
with the ``pyspark`` package of the same version standing in for the
image's ``/opt/spark`` (its ``bin/spark-class`` and ``bin/spark-submit``, its
jars) and Debian's Java 17 for the image's. Each pod gets a loopback address
of its own (``status.podIP``), so the fixed ports of two workers do not
collide, as they would not on two pods; the Services' DNS names become the
addresses of the pods they select. The client runs in a virtualenv with
``pyspark-client`` at that version, with the session's rendered environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from components.ground import spark
from tools.harness.capture import Capture
from tools.harness.pods import LocalContainer, deployment, wait_for

ROOT = Path(__file__).resolve().parents[2]
SERVER_VENV = ROOT / ".venv-spark"
CLIENT_VENV = ROOT / ".venv-spark-client"
PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"
SPARK_HOME = SERVER_VENV / "lib" / PYTHON / "site-packages" / "pyspark"
MASTER_IP = "127.0.0.10"
CONNECT_IP = "127.0.0.11"


def worker_ip(index: int) -> str:
    return f"127.0.0.{20 + index}"


def missing() -> str | None:
    """Why the Spark tests cannot run here (they are installed by `make venv` and .ci/run), or None."""
    if not (SPARK_HOME / "bin" / "spark-class").exists():
        return f"no Spark at {SPARK_HOME}: run `make venv` (pyspark, as requirements-spark.txt pins it)"
    if not (CLIENT_VENV / "bin" / "python").exists():
        return f"no Spark Connect client at {CLIENT_VENV}: run `make venv`"
    if subprocess.run(["java", "-version"], capture_output=True, check=False).returncode != 0:
        return "no Java: install openjdk-17-jre-headless (.ci/run does)"
    return None


def port_open(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


class LocalSpark:
    """Master, workers and the Connect server of a render, started as the render declares them."""

    def __init__(self, capture: Capture, root: Path) -> None:
        self.capture = capture
        self.root = root
        namespace = deployment(capture, "spark-master")["metadata"]["namespace"]
        self.substitutions = {
            f"{spark.SPARK_HOME}/": f"{SPARK_HOME}/",
            f"{spark.MASTER_SERVICE}.{namespace}.svc.cluster.local": MASTER_IP,
            f"{spark.CONNECT_SERVICE}.{namespace}.svc.cluster.local": CONNECT_IP,
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def container(self, component: str, pod_name: str, pod_ip: str) -> LocalContainer:
        # The image's own environment: SPARK_HOME (its Dockerfile's ENV), Java on PATH.
        return LocalContainer(
            self.capture,
            component,
            self.root,
            pod_name=pod_name,
            pod_ip=pod_ip,
            # Settings that name /tmp (spark.local.dir=/tmp, the warehouse) mean the pod's own /tmp.
            substitutions={**self.substitutions, "=/tmp": f"={self.root}/pods/{pod_name}/tmp"},
            env_overrides={"SPARK_HOME": str(SPARK_HOME)},
        )

    def grace_seconds(self, component: str) -> int:
        return int(deployment(self.capture, component)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])

    def _start(self, component: str, pod_name: str, pod_ip: str) -> None:
        self.processes[pod_name] = self.container(component, pod_name, pod_ip).start(self.root / f"{pod_name}.log")

    def master_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://{MASTER_IP}:{spark.MASTER_UI_PORT}/json/", timeout=5) as answer:
            return dict(json.load(answer))

    def alive_workers(self) -> int:
        try:
            return sum(worker["state"] == "ALIVE" for worker in self.master_state()["workers"])
        except OSError:
            return 0

    def start(self, workers: int) -> None:
        """The master, ``workers`` workers, then the Connect server; back once each is serving."""
        self._start("spark-master", "spark-master-0", MASTER_IP)
        if not wait_for(lambda: port_open(MASTER_IP, spark.MASTER_PORT), timeout=120):
            raise RuntimeError(f"the master did not listen:\n{self.logs()}")
        for index in range(workers):
            self.start_worker(index)
        if not wait_for(lambda: self.alive_workers() == workers, timeout=180):
            raise RuntimeError(f"{workers} workers did not register:\n{self.logs()}")
        self._start("spark-connect", "spark-connect-0", CONNECT_IP)
        if not wait_for(lambda: port_open(CONNECT_IP, spark.CONNECT_PORT), timeout=240):
            raise RuntimeError(f"the Connect server did not listen:\n{self.logs()}")

    def start_worker(self, index: int) -> None:
        self._start("spark-worker", f"spark-worker-{index}", worker_ip(index))

    def kill(self, pod_name: str) -> None:
        """The pod gone at once, as a node lost to Spot: the worker and its executor, no SIGTERM."""
        process = self.processes.pop(pod_name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def terminate(self, pod_name: str) -> tuple[int, float]:
        """SIGTERM to the JVM alone, as the kubelet sends it to PID 1: (exit code, seconds to exit)."""
        process = self.processes.pop(pod_name)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=120)
        finally:
            # Whatever it left behind (an executor) goes with the pod.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        return code, time.monotonic() - started

    def session_env(self, component: str) -> dict[str, str]:
        """The session's rendered Spark variables, its Services' names resolved here."""
        container = LocalContainer(self.capture, component, self.root, substitutions=self.substitutions)
        return {key: value for key, value in container.env.items() if key.startswith("KUBEPAR_SPARK")}

    def client(self, code: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``code`` in the client virtualenv, with ``import kubepar`` from the rendered scripts."""
        scripts = self.root / "scripts"
        scripts.mkdir(exist_ok=True)
        for config_map in self.capture.kubernetes("ConfigMap"):
            if "kubepar.py" in config_map.get("data", {}):
                (scripts / "kubepar.py").write_text(config_map["data"]["kubepar.py"])
        return subprocess.run(
            [str(CLIENT_VENV / "bin" / "python"), "-c", code],
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(scripts), "HOME": str(self.root), **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop_all(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self.processes.clear()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.root.glob("*.log"))
