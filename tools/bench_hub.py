"""The hub's benchmarks for BENCHMARKS.md: spawn latency and the hub's memory, in one run.

On a local control plane of its own (engine/cluster.sh) with the kwok-hub
stack deployed by the real engine, the hub and proxy run as local processes
(tools/harness/hub.py). For each of N users: from the spawn request to the
session answering through the proxy (``/user/<name>/api``), with the
session's single-user server started the moment its pod exists (simulated
pods run nothing). Then the resident memory of the hub, the proxy and the
idle culler together, with the N sessions running.

Usage (from the project root, after `make engine venv`):
    python -m tools.bench_hub [--users 4] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import yaml
from pulumi import automation as auto

from components.ground.project import PROJECT_ROOT as ROOT
from tools import stack as engine_stack
from tools.bench import machine
from tools.harness.hub import LocalHub

SECTION = "## 8. The hub: spawn to a session answering, and the hub's memory"
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "workloads", "examples")
PASSWORD = "a-long-enough-password"


def measure(users: int, folder: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "KUBEPAR_CLUSTER": f"kubepar-bench-{os.getpid()}",
        "KUBEPAR_CLUSTER_DIR": str(folder / "cluster"),
        "STACK": "kwok",
    }
    (folder / "cluster").mkdir()
    subprocess.run(["bash", str(ROOT / "engine" / "cluster.sh"), "up"], env=env, check=True, capture_output=True)
    kubeconfig = folder / "cluster" / "kubeconfig"
    os.environ.setdefault("PULUMI_CONFIG_PASSPHRASE", secrets.token_hex(16))
    project = folder / "project"
    project.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        shutil.copytree(source, project / name) if source.is_dir() else shutil.copy(source, project / name)
    document = yaml.safe_load((ROOT / "Pulumi.kwok-hub.yaml").read_text())
    document["config"]["kubepar:hubMaxSessions"] = max(users, 4)
    (project / "Pulumi.kwok-hub.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    selected = engine_stack.Isolated("kwok-hub", work_dir=project, state=folder / "state", kubeconfig=kubeconfig)
    selected.set_config("kubepar:hubSecretSeed", auto.ConfigValue(value=secrets.token_hex(32), secret=True))

    def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        binary = engine_stack.ENGINE_BIN / "kubectl"
        return subprocess.run(
            [str(binary), "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, check=check
        )

    hub = None
    try:
        selected.up(color="never")
        hub = LocalHub(kubectl, kubeconfig, "kubepar-hub", folder / "hub")
        (folder / "hub").mkdir()
        hub.start()
        assert hub.sign_up("admin", PASSWORD).status_code == 200
        admin = hub.log_in("admin", PASSWORD)
        seconds = []
        for index in range(users):
            user = f"user{index}"
            hub.sign_up(user, PASSWORD)
            hub.approve(admin, user)
            hub.log_in(user, PASSWORD)
            began = time.monotonic()
            answer, _ = hub.spawn(user, "rstudio")
            assert answer.status_code in (201, 202), answer.text
            while (
                requests.get(f"{hub.url}/user/{user}/api", timeout=10)
                .headers.get("content-type", "")
                .startswith("text/html")
            ):
                time.sleep(0.05)
            seconds.append(time.monotonic() - began)
        memory = hub.memory_bytes()
    finally:
        if hub is not None:
            hub.stop()
        subprocess.run(["bash", str(ROOT / "engine" / "cluster.sh"), "down"], env=env, capture_output=True, check=False)
    return {
        "median": statistics.median(seconds),
        "max": max(seconds),
        "users": users,
        "memory_mib": memory / 1024**2,
    }


def section(results: dict[str, float]) -> str:
    today = datetime.date.today().isoformat()
    return (
        f"{SECTION}\n\n"
        f"Command: `.venv/bin/python -m tools.bench_hub --users {int(results['users'])} --write BENCHMARKS.md`, "
        f"{today}, on {machine()}.\n\n"
        "The kwok-hub stack deployed by the real engine on a local control plane; the hub, proxy and culler as "
        "local processes (the hub image's pinned JupyterHub 5.5.0, KubeSpawner 7.0.0, idle culler 1.4.0; "
        "configurable-http-proxy 5.2.0). Spawn: from `POST /hub/api/users/<name>/server` (RStudio profile: "
        "home claim, session pod, two workers, their Service and NetworkPolicy) to `/user/<name>/api` answering "
        "through the proxy; simulated pods run nothing, so each session's single-user server starts locally "
        "the moment its pod exists. Image pulls and package installs on a real cluster add to this.\n\n"
        "| measure | result | target |\n|---|---|---|\n"
        f"| spawn to answering, median of {int(results['users'])} users | {results['median']:.1f} s | under 10 s |\n"
        f"| spawn to answering, slowest | {results['max']:.1f} s | under 10 s |\n"
        f"| hub + proxy + culler resident memory, {int(results['users'])} sessions running | "
        f"{results['memory_mib']:.0f} MiB | under 400 MiB |\n"
    )


def write(path: Path, text: str, section: str = SECTION) -> None:
    """Replace ``section`` (its heading to the next) in ``path`` with ``text``, or append it."""
    current = path.read_text()
    pattern = re.compile(re.escape(section) + r".*?(?=\n## |\Z)", re.S)
    updated = (
        pattern.sub(lambda _: text.rstrip("\n"), current)
        if section in current
        else current.rstrip("\n") + "\n\n" + text
    )
    path.write_text(updated.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubepar-bench-hub-") as folder:
        results = measure(args.users, Path(folder))
    text = section(results)
    print(text)
    if args.write:
        write(args.write, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
