"""Run rendered containers as local processes, exactly as their Deployments declare them.

A container's command, args and env are taken from the render; its mounted
ConfigMaps are written out as files and each mount path is mapped to that
folder; emptyDir volumes are folders of their own per pod, shared by that
pod's init and main containers, as in Kubernetes; claims and CSI volumes
(the home, the results store) are one folder shared by every pod. The only changes
are the ones a test names (the scheduler host and port, the package
repository), so what runs here is what the cluster would run.

R runs as the pod has it: the rocker images hold base R with the
recommended packages, littler and docopt, nothing else (rocker-versioned2
``scripts/setup_R.sh``). This machine's Debian R packages are hidden
(``R_LIBS_SITE`` and ``R_LIBS_USER`` point at an empty folder), so R finds
only base R and what the rendered init container installed.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import render

from components import engines, quantities, queue

TEST_PASSWORD = "e2e-not-a-real-password"


def free_port() -> int:
    """A free port below the ephemeral range.

    A worker dialing a port in the ephemeral range on loopback can connect to
    itself (TCP simultaneous open, when its source port equals the target),
    which a real cluster never sees: the scheduler is another address.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randint(20000, min(low, 32768) - 1)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and the ephemeral range")


def deployment(capture: render.Capture, component: str) -> dict[str, Any]:
    found = [
        d
        for d in capture.kubernetes("Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    assert len(found) == 1
    return found[0]


class LocalContainer:
    """One container of a rendered Deployment, with its volumes on local disk."""

    def __init__(
        self,
        capture: render.Capture,
        component: str,
        root: Path,
        container: str | None = None,
        env_overrides: Mapping[str, str] | None = None,
        init: bool = False,
        pod_name: str = "pod-0",
        substitutions: Mapping[str, str] | None = None,
        document: dict[str, Any] | None = None,
        completion_index: int | None = None,
    ) -> None:
        """``substitutions`` rewrite text in the command and env values: the pods
        of a cluster have their own addresses, here they share 127.0.0.1.
        ``document`` is the workload to run (default: the component's Deployment);
        ``completion_index`` is the index the Job controller gives an Indexed Job's pod."""
        self.pod_name = pod_name
        self.completion_index = completion_index
        self.substitutions = dict(substitutions or {})
        document = document if document is not None else deployment(capture, component)
        spec = document["spec"]["template"]["spec"]
        pool = spec.get("initContainers", []) if init else spec["containers"]
        self.spec = next(c for c in pool if container is None or c["name"] == container)
        self.root = root
        config_maps = {m["metadata"]["name"]: m for m in capture.kubernetes("ConfigMap")}
        self.mounts: dict[str, Path] = {}
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for mount in self.spec.get("volumeMounts", []):
            volume = volumes[mount["name"]]
            # ConfigMaps are the same for every pod; anything else is the pod's own.
            if "configMap" in volume:
                local = root / "volumes" / volume["configMap"]["name"]
            elif "secret" in volume:
                # Secrets are masked in the render: a test writes the files (write_secret).
                local = root / "secrets" / volume["secret"]["secretName"]
            elif "emptyDir" in volume:
                local = root / "pods" / pod_name / mount["name"]
            elif "persistentVolumeClaim" in volume:
                # One folder per claim: the home and the queue's data are different disks.
                local = root / "volumes" / volume["persistentVolumeClaim"]["claimName"]
            else:
                local = root / "volumes" / mount["name"]
            if not local.exists():
                local.mkdir(parents=True)
                if "configMap" in volume:
                    for key, text in config_maps[volume["configMap"]["name"]]["data"].items():
                        (local / key).write_text(text)
            self.mounts[mount["mountPath"]] = local
        self.env = {name: self._substitute(self._value(item)) for name, item in self._env_items()}
        self.env.update(env_overrides or {})

    def _env_items(self) -> list[tuple[str, dict[str, Any]]]:
        return [(item["name"], item) for item in self.spec.get("env", [])]

    def _value(self, item: dict[str, Any]) -> str:
        if "value" in item:
            return self.local_path(str(item["value"]))
        source = item["valueFrom"]
        if "secretKeyRef" in source:
            return TEST_PASSWORD
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            if path == engines.COMPLETION_INDEX_FIELD:
                assert self.completion_index is not None, "an Indexed Job's pod needs its completion index"
                return str(self.completion_index)
            assert path == "metadata.name"
            return self.pod_name
        if "resourceFieldRef" in source:
            field = source["resourceFieldRef"]["resource"]
            kind = field.split(".")[1]
            amount = self.spec["resources"][field.split(".")[0]][kind]
            if kind == "cpu":
                return str(math.ceil(quantities.cpu_millis(amount) / 1000))
            return str(quantities.memory_bytes(amount))
        raise AssertionError(f"unsupported env source {source}")

    def local_path(self, text: str) -> str:
        """Map a path under a mount to its local folder (longest mount first)."""
        for mount_path in sorted(self.mounts, key=len, reverse=True):
            if text == mount_path or text.startswith(mount_path + "/") or text.startswith(mount_path + ":"):
                return str(self.mounts[mount_path]) + text[len(mount_path) :]
        return text

    def _substitute(self, text: str) -> str:
        for old, new in self.substitutions.items():
            text = text.replace(old, new)
        return text

    def _expand(self, text: str) -> str:
        """$(NAME) from the container's env, as the kubelet expands command and args."""
        return re.sub(r"\$\((\w+)\)", lambda m: self.env.get(m[1], m[0]), text)

    def argv(self, parts: list[str] | None = None) -> list[str]:
        if parts is None:
            parts = [*self.spec.get("command", []), *self.spec.get("args", [])]
        return [self._expand(self._substitute(self.local_path(part))) for part in parts]

    def pre_stop(self) -> list[str]:
        return self.argv(self.spec["lifecycle"]["preStop"]["exec"]["command"])

    def process_env(self) -> dict[str, str]:
        # The image's own environment: a PATH to find sh and Rscript, nothing else of ours.
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        if self.spec["image"].startswith("rocker/"):
            base.update(rocker_library_env(self.root))
        return {**base, **self.env}

    def start(self, log: Path, argv: list[str] | None = None) -> subprocess.Popen[bytes]:
        handle = log.open("wb")
        return subprocess.Popen(
            argv if argv is not None else self.argv(),
            env=self.process_env(),
            cwd=self.root,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10) -> int:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(timeout=5)


def r_children(process: subprocess.Popen[bytes]) -> list[int]:
    """PIDs of the R processes a worker loop has started."""
    result = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=False)
    pids = [int(p) for p in result.stdout.split()]
    return [p for p in pids if "R" in Path(f"/proc/{p}/comm").read_text(errors="replace")]


def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def rocker_library_env(root: Path) -> dict[str, str]:
    """What a rocker image's R sees beyond base R: nothing (Debian's site library hidden)."""
    empty = root / "image-site-library"
    empty.mkdir(exist_ok=True)
    return {"R_LIBS_SITE": str(empty), "R_LIBS_USER": str(empty)}


def run_init(
    capture: render.Capture,
    component: str,
    root: Path,
    repository: str,
    pod_name: str,
    document: dict[str, Any] | None = None,
    hide_system_libraries: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run every rendered init container of one pod, in order, installing from ``repository`` (a URL).

    Returns the last one's result, or the first that failed.
    """
    pod = document if document is not None else deployment(capture, component)
    result = subprocess.CompletedProcess[str]([], 0, "", "")
    for spec in pod["spec"]["template"]["spec"].get("initContainers", []):
        installer = LocalContainer(
            capture,
            component,
            root,
            container=spec["name"],
            init=True,
            pod_name=pod_name,
            env_overrides={"KUBEPAR_CRAN": repository},
            document=document,
        )
        argv = installer.argv()
        if hide_system_libraries and spec["name"] == "install-packages":
            argv = without_system_libraries(argv)
        result = subprocess.run(
            argv,
            env=installer.process_env(),
            cwd=root,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            return result
    return result


SYSTEM_LIBRARIES = ("libhiredis.so",)


def without_system_libraries(argv: list[str], libraries: tuple[str, ...] = SYSTEM_LIBRARIES) -> list[str]:
    """``argv`` in a private mount namespace where this machine's ``libraries`` do not exist.

    The rocker images have no hiredis; this machine has it (redux was built
    against it here). Inside, the library's files are whited out of their
    folder by an overlay (as if never installed, so the dynamic linker goes on
    searching), and a process finds hiredis only where the pod would: in the
    folder its init container filled, on LD_LIBRARY_PATH.
    """
    if shutil.which("unshare") is None:
        raise RuntimeError("hiding this machine's libraries needs unshare (util-linux), as root")
    found = sorted({path for name in libraries for path in Path("/usr/lib").glob(f"*-linux-gnu/{name}*")})
    if not found:
        raise RuntimeError(f"none of {libraries} on this machine: .ci/run installs libhiredis-dev")
    folders = {path.parent for path in found}
    assert len(folders) == 1, f"{libraries} in several folders: {folders}"
    scratch = Path(tempfile.mkdtemp(prefix="kubepar-hide-"))
    (scratch / "upper").mkdir()
    (scratch / "work").mkdir()
    folder = folders.pop()
    script = (
        'set -e; upper="$1"; work="$2"; folder="$3"; shift 3; '
        'while [ "$1" != -- ]; do mknod "$upper/$1" c 0 0; shift; done; shift; '
        'mount -t overlay overlay -o "lowerdir=$folder,upperdir=$upper,workdir=$work" "$folder"; exec "$@"'
    )
    return [
        "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
        str(scratch / "upper"), str(scratch / "work"), str(folder), *(path.name for path in found), "--", *argv,
    ]  # fmt: skip


def write_secret(root: Path, secret_name: str, files: Mapping[str, str]) -> None:
    """The files of a mounted Secret (the render masks their values)."""
    folder = root / "secrets" / secret_name
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def start_r_pod(
    capture: render.Capture,
    component: str,
    root: Path,
    repository: str,
    pod_name: str,
    document: dict[str, Any] | None = None,
    hide_system_libraries: bool = False,
) -> None:
    """A pod's start up to its main container: every init container must succeed."""
    result = run_init(capture, component, root, repository, pod_name, document, hide_system_libraries)
    if result.returncode != 0:
        raise RuntimeError(f"init containers of {pod_name} failed:\n{result.stdout}{result.stderr}")


def require_r() -> None:
    missing = [tool for tool in ("Rscript", "sh", "pgrep") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"end-to-end tests need {missing}: .ci/run installs r-base-core and friends")


def r_worker(capture: render.Capture, root: Path, port: int, pod_name: str) -> LocalContainer:
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


def r_session_env(capture: render.Capture, root: Path, port: int, pod_name: str = "scheduler-0") -> dict[str, str]:
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

    def __init__(self, capture: render.Capture, root: Path) -> None:
        self.capture = capture
        self.root = root
        self.scheduler_port = free_port()
        self.dashboard_port = free_port()
        self.substitutions = {
            f"{engines.ENDPOINT_SERVICE}.kubepar.svc.cluster.local": "127.0.0.1",
            f":{engines.DASK_SCHEDULER_PORT}": f":{self.scheduler_port}",
            f":{engines.DASK_DASHBOARD_PORT}": f":{self.dashboard_port}",
            # Each worker pod has its own address for its dashboard; here they share one.
            f":{engines.DASK_WORKER_DASHBOARD_PORT}": ":0",
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


def sweep_job(capture: render.Capture, sweep: str) -> dict[str, Any]:
    found = [j for j in capture.kubernetes("Job") if j["metadata"]["labels"].get("kubepar.dev/sweep") == sweep]
    assert len(found) == 1, f"no single Job for sweep {sweep}"
    return found[0]


@dataclass(frozen=True)
class Kill:
    """Kill an index's first pod once ``when`` holds for its results folder (or after ``after`` seconds)."""

    signal: int
    disruption: bool
    """As a Spot preemption or eviction (DisruptionTarget), not as a failure of the script."""
    after: float = 0.0
    when: Any = None


@dataclass
class Attempt:
    index: int
    number: int
    exit_code: int | None = None
    disrupted: bool = False
    """Killed as a preemption or eviction would: the pod gets the DisruptionTarget condition."""


class LocalJob:
    """Plays the Job controller for one rendered Indexed Job.

    What it takes from the render: completions, parallelism,
    backoffLimitPerIndex, maxFailedIndexes and the podFailurePolicy; each pod
    runs its rendered init container, then its main container with the
    completion index the controller would give it. A pod that fails counts
    against its index's retries unless it was disrupted and the policy ignores
    DisruptionTarget.
    """

    def __init__(
        self,
        capture: render.Capture,
        sweep: str,
        root: Path,
        repository: str | None,
        env_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.capture = capture
        self.document = sweep_job(capture, sweep)
        self.spec = self.document["spec"]
        self.root = root
        self.repository = repository
        self.env_overrides = dict(env_overrides or {})
        self.attempts: list[Attempt] = []
        rules = (self.spec.get("podFailurePolicy") or {}).get("rules") or []
        self.ignores_disruptions = any(
            rule["action"] == "Ignore" and any(c["type"] == "DisruptionTarget" for c in rule.get("onPodConditions", []))
            for rule in rules
        )

    @property
    def name(self) -> str:
        return str(self.document["metadata"]["name"])

    def container(self, index: int, number: int) -> LocalContainer:
        return LocalContainer(
            self.capture,
            "sweep",
            self.root,
            pod_name=f"{self.name}-{index}-{number}",
            document=self.document,
            completion_index=index,
            env_overrides=self.env_overrides,
        )

    def start(self, index: int) -> tuple[Attempt, subprocess.Popen[bytes]]:
        """One pod of ``index``: its init container (if any) to completion, then its main container."""
        number = sum(1 for a in self.attempts if a.index == index)
        attempt = Attempt(index, number)
        self.attempts.append(attempt)
        pod = f"{self.name}-{index}-{number}"
        if self.spec["template"]["spec"].get("initContainers"):
            assert self.repository is not None
            start_r_pod(self.capture, "sweep", self.root, self.repository, pod, document=self.document)
        return attempt, self.container(index, number).start(self.root / f"{pod}.log")

    def counted_failures(self, index: int) -> int:
        return sum(
            1
            for a in self.attempts
            if a.index == index and a.exit_code not in (0, None) and not (a.disrupted and self.ignores_disruptions)
        )

    def run(
        self, indices: list[int] | None = None, timeout: float = 600, kills: Mapping[int, Kill] | None = None
    ) -> dict[str, list[int]]:
        """Run every index (or the ones given) to success or to its retry limit, ``parallelism`` at a time.

        ``kills`` stop an index's first pod part-way, as a preemption or an OOM kill would.
        """
        kills = dict(kills or {})
        started_at: dict[int, float] = {}
        pending = list(range(self.spec["completions"]) if indices is None else indices)
        running: list[tuple[Attempt, subprocess.Popen[bytes]]] = []
        succeeded: set[int] = set()
        failed: set[int] = set()
        deadline = time.monotonic() + timeout
        while pending or running:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sweep did not finish in {timeout} s:\n{self.logs()}")
            stop_starting = len(failed) > self.spec["maxFailedIndexes"]
            while pending and len(running) < self.spec["parallelism"] and not stop_starting:
                running.append(self.start(pending.pop(0)))
                started_at[id(running[-1][0])] = time.monotonic()
            for entry in list(running):
                attempt, process = entry
                kill = kills.get(attempt.index) if attempt.number == 0 else None
                if kill is not None and process.poll() is None:
                    due = time.monotonic() - started_at[id(attempt)] >= kill.after
                    if due and (kill.when is None or kill.when()):
                        os.killpg(process.pid, kill.signal)
                        attempt.disrupted = kill.disruption
                        del kills[attempt.index]
                code = process.poll()
                if code is None:
                    continue
                running.remove(entry)
                attempt.exit_code = code
                if code == 0:
                    succeeded.add(attempt.index)
                elif self.counted_failures(attempt.index) > self.spec["backoffLimitPerIndex"]:
                    failed.add(attempt.index)
                else:
                    pending.append(attempt.index)
            if stop_starting and not running:
                break
            time.sleep(0.05)
        return {"succeeded": sorted(succeeded), "failed": sorted(failed)}

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(self.root.glob("*.log"))
        )


class LocalQueueCluster:
    """The rendered queue server, worker pods and session on this machine."""

    def __init__(self, capture: render.Capture, root: Path, cran: str) -> None:
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
