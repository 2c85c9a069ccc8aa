"""The real engine against a real control plane: fixtures for tests/engine.

A session starts one local control plane (engine/cluster.sh: etcd,
kube-apiserver with its default admission plugins, controller-manager,
scheduler, kwok nodes shaped like the kwok stack's pools) in a folder of its
own, and stops it at the end. Each test deploys its own stack (its own
namespace) of a copy of the project with the real Pulumi CLI and Kubernetes
provider (tools/stack.py), each run of the program in a process of its own,
so tests do not depend on each other's order or leftovers.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from tests.conftest import ROOT
from tests.engine.hub_steps import BIG, NAME, NAMESPACE, USERS
from tools import stack as engine_stack
from tools.harness.hub import LocalHub

BIN = engine_stack.ENGINE_BIN
# What a stack of the project needs in its folder; nothing else is copied.
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components", "workloads", "examples")


@dataclass
class Cluster:
    kubeconfig: Path

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
            input=input,
        )

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = [b for b in ("pulumi", "pulumi-resource-kubernetes", "kwokctl", "kubectl") if not (BIN / b).exists()]
    if missing:
        raise RuntimeError(f"the real engine is not built ({missing} missing in {BIN}): run `make engine`")
    folder = tmp_path_factory.mktemp("cluster")
    env = {
        **os.environ,
        "KUBEPAR_CLUSTER": f"kubepar-test-{os.getpid()}",
        "KUBEPAR_CLUSTER_DIR": str(folder),
        "STACK": "kwok",
    }
    started = subprocess.run(
        ["bash", str(ROOT / "engine" / "cluster.sh"), "up"], env=env, capture_output=True, text=True, check=False
    )
    if started.returncode != 0:
        raise RuntimeError(f"the control plane did not start:\n{started.stdout}\n{started.stderr}")
    try:
        yield Cluster(kubeconfig=folder / "kubeconfig")
    finally:
        subprocess.run(["bash", str(ROOT / "engine" / "cluster.sh"), "down"], env=env, capture_output=True, check=False)


@dataclass
class Deployed:
    """One stack of a copy of the project, deployed or about to be."""

    name: str
    work_dir: Path
    stack: engine_stack.Isolated
    cluster: Cluster
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"kp-{self.name}"

    def configure(self, **values: Any) -> None:
        """Change the stack file, as a user editing Pulumi.<stack>.yaml would."""
        path = self.work_dir / f"Pulumi.{self.name}.yaml"
        document = yaml.safe_load(path.read_text())
        document["config"].update({f"kubepar:{key}": value for key, value in values.items()})
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    @property
    def protected(self) -> bool:
        """Whether the stack file asks for deletion protection (then `destroy` refuses until an `up` lifts it)."""
        document = yaml.safe_load((self.work_dir / f"Pulumi.{self.name}.yaml").read_text())
        return document["config"].get("kubepar:deletionProtection") is True

    def up(self) -> auto.UpResult:
        self.events = []
        return self.stack.up(on_event=lambda event: self.events.append(_event(event)), color="never")

    def changed(self) -> dict[str, list[str]]:
        """Logical name -> the operations, in order, of each resource the last `up` changed."""
        ops: dict[str, list[str]] = {}
        for event in self.events:
            metadata = (event.get("resOutputsEvent") or {}).get("metadata") or {}
            if metadata.get("op") not in (None, "same", "read"):
                ops.setdefault(metadata["urn"].rsplit("::", 1)[-1], []).append(metadata["op"])
        return ops

    def pods(self, component: str) -> list[dict[str, Any]]:
        selector = f"app.kubernetes.io/component={component}"
        return list(self.cluster.get("pods", "-n", self.namespace, "-l", selector)["items"])


def _event(event: auto.EngineEvent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if event.res_outputs_event is not None:
        metadata = event.res_outputs_event.metadata
        out["resOutputsEvent"] = {"metadata": {"op": str(metadata.op.value), "urn": metadata.urn}}
    if event.diagnostic_event is not None:
        out["diagnostic"] = event.diagnostic_event.message
    return out


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project: stacks the tests write never touch the clone."""
    folder = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, folder / name)
    return folder


@pytest.fixture(scope="session")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ.setdefault("PULUMI_CONFIG_PASSPHRASE", secrets.token_hex(16))
    return tmp_path_factory.mktemp("state")


def record(fault: str, seconds: float) -> None:
    """Keep the time a fault took to recover, for tools/bench_faults.py (when it runs the fault tests)."""
    if path := os.environ.get("KUBEPAR_FAULT_TIMES"):
        with open(path, "a") as out:
            out.write(json.dumps({"fault": fault, "seconds": round(seconds, 1)}) + "\n")


def new_stack(cluster: Cluster, project: Path, state: Path, name: str, **values: Any) -> Deployed:
    """A stack ``name`` of the project copy with the kwok stack's config plus ``values``; not yet deployed."""
    document = yaml.safe_load((ROOT / "Pulumi.kwok.yaml").read_text())
    document["config"]["kubepar:namespace"] = f"kp-{name}"
    document["config"].update({f"kubepar:{key}": value for key, value in values.items()})
    (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    selected = engine_stack.Isolated(name, work_dir=project, state=state, kubeconfig=cluster.kubeconfig)
    # The secrets: set as `make config-secret` (or `make up` of a kwok stack) would, encrypted with the passphrase.
    selected.set_config("kubepar:password", auto.ConfigValue(value=secrets.token_urlsafe(18), secret=True))
    if values.get("rBackend") == "redis":
        selected.set_config("kubepar:queuePassword", auto.ConfigValue(value=secrets.token_hex(16), secret=True))
    return Deployed(name=name, work_dir=project, stack=selected, cluster=cluster)


def remove(deployed: Deployed) -> None:
    """Destroy a stack a test made (lifting its deletion protection first); best effort."""
    try:
        if deployed.protected:
            deployed.configure(deletionProtection=False)
            deployed.stack.up()
        deployed.stack.destroy()
    except auto.CommandError:
        pass


@pytest.fixture
def deploy(cluster: Cluster, project: Path, state: Path) -> Iterator[Any]:
    """deploy(name, **config): a stack ``name`` with the kwok stack's config plus ``config``; destroyed after."""
    made: list[Deployed] = []

    def make(name: str, **values: Any) -> Deployed:
        made.append(new_stack(cluster, project, state, name, **values))
        return made[-1]

    yield make
    for deployed in made:
        remove(deployed)


# engine hub: the stack its tests share (deployed once), and a fresh hub per test.
@pytest.fixture(scope="session")
def hub_stack(cluster: Cluster, project: Path, state: Path) -> Iterator[engine_stack.Isolated]:
    document = yaml.safe_load((ROOT / "Pulumi.kwok-hub.yaml").read_text())
    document["config"]["kubepar:namespace"] = NAMESPACE
    document["config"]["kubepar:hubProfiles"].append(BIG)
    (project / f"Pulumi.{NAME}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    selected = engine_stack.Isolated(NAME, work_dir=project, state=state, kubeconfig=cluster.kubeconfig)
    selected.set_config("kubepar:hubSecretSeed", auto.ConfigValue(value=secrets.token_hex(32), secret=True))
    selected.up(color="never")
    yield selected
    selected.destroy(color="never")


@pytest.fixture
def hub(hub_stack: engine_stack.Isolated, cluster: Cluster, tmp_path: Path, request: Any) -> Iterator[LocalHub]:
    """A fresh hub (its own database) on the deployed stack; every user pod is gone after the test."""
    settings = getattr(request, "param", None) or {}
    # Another stack's Secret would hold an OAuth client: the github case gets one.
    oauth = {"OAUTH_CLIENT_ID": "kubepar-test-client", "OAUTH_CLIENT_SECRET": "not-a-secret"}
    env = oauth if settings.get("authenticator") == "github" else {}
    local = LocalHub(cluster.kubectl, cluster.kubeconfig, NAMESPACE, tmp_path, settings=settings, env=env)
    local.start()
    try:
        yield local
    finally:
        local.stop()
        # The next test's hub has a database of its own: no session of this one is left behind.
        cluster.kubectl("delete", "pods", "-n", USERS, "-l", "hub.jupyter.org/username", check=False)
