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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.engines import sweeps
from components.ground import quantities
from components.ground.rocker import ROCKER_LIBS
from tools.harness.capture import Capture

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


def deployment(capture: Capture, component: str) -> dict[str, Any]:
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
        capture: Capture,
        component: str,
        root: Path,
        container: str | None = None,
        env_overrides: Mapping[str, str] | None = None,
        init: bool = False,
        pod_name: str = "pod-0",
        substitutions: Mapping[str, str] | None = None,
        document: dict[str, Any] | None = None,
        completion_index: int | None = None,
        pod_ip: str = "127.0.0.1",
    ) -> None:
        """``substitutions`` rewrite text in the command and env values: the pods
        of a cluster have their own addresses, here they share 127.0.0.1.
        ``document`` is the workload to run (default: the component's Deployment);
        ``completion_index`` is the index the Job controller gives an Indexed Job's pod;
        ``pod_ip`` the pod's own address (``status.podIP``): a loopback address of its own."""
        self.pod_name = pod_name
        self.pod_ip = pod_ip
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
            if path == sweeps.COMPLETION_INDEX_FIELD:
                assert self.completion_index is not None, "an Indexed Job's pod needs its completion index"
                return str(self.completion_index)
            if path == "status.podIP":
                return self.pod_ip
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
        # The image's own environment: a PATH to find sh and Rscript, nothing else of ours;
        # and the pod's own /tmp (its emptyDir), where R and Python put their temporary
        # files, so nothing of a pod lands in this machine's /tmp.
        tmp = self.mounts.get("/tmp") or self.root / "pods" / self.pod_name / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TMPDIR": str(tmp)}
        if not self.spec["image"].startswith("rocker/"):
            return {**base, **self.env}
        return without_machine_libraries({**base, **rocker_library_env(self.root), **self.env}, self.root)

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
    """What a rocker image's R sees beyond base R: nothing (Debian's site libraries hidden).

    Debian's own Renviron.site puts /usr/local/lib/R/site-library before
    R_LIBS_SITE whatever it says, so the site file (R_ENVIRON names it) is an
    empty one too: rocker's holds only the container's environment, which the
    env here already is.
    """
    empty = root / "image-site-library"
    empty.mkdir(exist_ok=True)
    site_file = root / "image-Renviron.site"
    site_file.touch()
    return {"R_LIBS_SITE": str(empty), "R_LIBS_USER": str(empty), "R_ENVIRON": str(site_file)}


def without_machine_libraries(env: dict[str, str], root: Path) -> dict[str, str]:
    """``env`` with rocker's own library folders in R_LIBS pointed at the empty one.

    In the image they hold littler and docopt (base R is R's own library on
    both sides); on this machine the same paths are this machine's site
    libraries, which no pod has.
    """
    if "R_LIBS" not in env:
        return env
    empty = rocker_library_env(root)["R_LIBS_SITE"]
    rocker = set(ROCKER_LIBS.split(":"))
    paths = [empty if path in rocker else path for path in env["R_LIBS"].split(":")]
    return {**env, "R_LIBS": ":".join(dict.fromkeys(paths))}


def run_init(
    capture: Capture,
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
    folder = folders.pop()
    # The overlay's upper and work folders live on a tmpfs mounted inside the
    # private namespace (over /mnt, there only): they vanish with it, and
    # nothing is left in the system's temp folder.
    script = (
        'set -e; folder="$1"; shift; mount -t tmpfs kubepar-hide /mnt; mkdir /mnt/upper /mnt/work; '
        'while [ "$1" != -- ]; do mknod "/mnt/upper/$1" c 0 0; shift; done; shift; '
        'mount -t overlay overlay -o "lowerdir=$folder,upperdir=/mnt/upper,workdir=/mnt/work" "$folder"; exec "$@"'
    )
    return [
        "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
        str(folder), *(path.name for path in found), "--", *argv,
    ]  # fmt: skip


def write_secret(root: Path, secret_name: str, files: Mapping[str, str]) -> None:
    """The files of a mounted Secret (the render masks their values)."""
    folder = root / "secrets" / secret_name
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def start_r_pod(
    capture: Capture,
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
