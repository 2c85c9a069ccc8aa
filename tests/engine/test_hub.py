"""engine hub for real: the stack on the local control plane, then the hub's own processes against it.

`pulumi up` of the kwok-hub stack (the real CLI and provider) creates every
object, and Pod Security admits the hub's pods. Then the hub runs as a local
process (tools/harness/hub.py): the image's JupyterHub, KubeSpawner and idle
culler, the stack's own jupyterhub_config.py and hub.json read from the
cluster, and a token of the hub's ServiceAccount, so the real API server
enforces the declared Role; configurable-http-proxy with the proxy's own
command. Users sign up, are approved and log in through the hub's forms; the
rest goes through the hub's REST API as an admin would. Only addresses differ
(everything is 127.0.0.1), and the culler's timeout where a test shortens it.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from components.engines.hub_users import USER_ACCOUNT
from components.ground.hub_rights import HUB_ROLE_NAME, same_rules
from components.ground.hub_sizes import RSTUDIO_FRONT
from components.ground.quantities import cpu_millis, memory_bytes
from tests.conftest import ROOT, program
from tests.engine.conftest import Cluster, record
from tests.engine.hub_steps import BIG, NAMESPACE, PASSWORD, USERS, add_user, admin_session, owned, pod_of, ready, start
from tests.engine.test_kwok import wait
from tools import stack as engine_stack
from tools.harness import clusters, pods, repository
from tools.harness.hub import LocalHub
from tools.harness.pods import free_port


def test_up_creates_every_hub_object_and_pod_security_admits_the_hubs_pods(
    hub_stack: engine_stack.Isolated, cluster: Cluster
) -> None:
    deployment = hub_stack.export_stack().deployment or {}
    declared = {
        (resource["type"], resource["urn"].rsplit("::", 1)[-1])
        for resource in deployment.get("resources") or []
        if resource["type"].startswith("kubernetes:") and not resource["type"].startswith("pulumi:providers")
    }
    profiles = [*yaml.safe_load((ROOT / "Pulumi.kwok-hub.yaml").read_text())["config"]["kubepar:hubProfiles"], BIG]
    rendered = program(
        "kwok-hub", namespace=NAMESPACE, hubProfiles=json.dumps(profiles), hubSecretSeed={"secret": "placeholder"}
    )
    assert declared == {(r.type, r.name) for r in rendered.resources if r.type.startswith("kubernetes:")}
    for component in ("hub", "proxy"):
        pods = cluster.get("pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/component={component}")["items"]
        assert [pod["status"]["phase"] for pod in pods] == ["Running"], component
    users = cluster.get("namespace", USERS)["metadata"]["labels"]
    assert users["pod-security.kubernetes.io/enforce"] == "baseline"
    role = cluster.get("role", HUB_ROLE_NAME, "-n", USERS)
    assert same_rules(role["rules"])


def test_a_user_signs_up_is_approved_logs_in_and_gets_a_session_with_its_own_workers_and_home(
    hub: LocalHub, cluster: Cluster
) -> None:
    admin = admin_session(hub)
    alice = add_user(hub, admin, "alice")
    spawned, pod = start(hub, cluster, "alice", "rstudio")
    assert spawned.status_code in (201, 202), hub.logs()
    assert pod is not None
    assert wait(lambda: ready(hub, "alice"), 60, "alice's session ready")

    spec = pod["spec"]
    settings = json.loads(hub.files["hub.json"])
    promised = next(p for p in settings["profiles"] if p["slug"] == "rstudio")["override"]
    notebook, rstudio = spec["containers"]
    assert notebook["image"] == promised["image"]
    assert notebook["securityContext"] == promised["container_security_context"]
    # The single-user server only forwards to RStudio: the profile's size is RStudio's.
    for container, (cpu, memory) in ((notebook, RSTUDIO_FRONT), (rstudio, ("1", "2Gi"))):
        for amounts in (container["resources"]["limits"], container["resources"]["requests"]):
            assert cpu_millis(str(amounts["cpu"])) == cpu_millis(cpu), container["name"]
            assert memory_bytes(str(amounts["memory"])) == memory_bytes(memory), container["name"]
    assert [c["name"] for c in spec["containers"]] == ["notebook", "rstudio"]
    assert [c["image"].split(":")[0] for c in spec["containers"]] == ["ghcr.io/dask/dask-notebook", "rocker/rstudio"]
    assert [c["name"] for c in spec["initContainers"]] == ["install-packages", "install-r-packages"]
    assert spec["serviceAccountName"] == USER_ACCOUNT and spec["automountServiceAccountToken"] is False
    assert not any("projected" in volume for volume in spec["volumes"])
    assert spec["nodeSelector"] == {"kubepar.dev/pool": "system"}
    # Read again: the first sight of the pod may precede the scheduler's binding.
    assert (pod_of(cluster, "session-alice") or {})["spec"]["nodeName"].startswith("kwok-system")
    home = next(v for v in spec["volumes"] if v["name"] == "home")["persistentVolumeClaim"]["claimName"]
    assert home == "home-alice"

    made = owned(cluster, pod["metadata"]["uid"])
    assert made == {
        "Deployment": "session-alice-wk",
        "Service": "session-alice-ep",
        "NetworkPolicy": "session-alice-np",
    }
    workers = cluster.get("deployment", "session-alice-wk", "-n", USERS)
    template = workers["spec"]["template"]["spec"]
    assert workers["spec"]["replicas"] == 2
    assert template["nodeSelector"] == {"kubepar.dev/pool": "workers"}
    assert template["automountServiceAccountToken"] is False
    assert template["containers"][0]["image"].startswith("rocker/r-ver:")
    assert wait(lambda: len(cluster.get("pods", "-n", USERS, "-l", "app.kubernetes.io/component=worker")["items"]) == 2)

    # Through the proxy: the server answers; its API wants alice's login, which her browser has.
    assert requests.get(f"{hub.url}/user/alice/api", timeout=30).json()["version"]
    status = requests.get(f"{hub.url}/user/alice/api/status", timeout=30, allow_redirects=False)
    assert status.status_code in (302, 401, 403)
    assert alice.get(f"{hub.url}/hub/api/user", timeout=30).json()["name"] == "alice"

    # Stopping the session removes the pod; the collector removes its workers; the home stays.
    assert hub.api("DELETE", "/users/alice/server").status_code in (202, 204)
    assert wait(lambda: pod_of(cluster, "session-alice") is None, 60, "the session pod gone")
    assert wait(lambda: not owned(cluster, pod["metadata"]["uid"]), 60, "the workers collected")
    assert cluster.get("pvc", "home-alice", "-n", USERS)["status"]["phase"] == "Bound"


def test_a_profile_outside_the_users_groups_is_refused_by_the_hub_and_open_to_the_group(
    hub: LocalHub, cluster: Cluster
) -> None:
    admin = admin_session(hub)
    add_user(hub, admin, "bob")
    add_user(hub, admin, "ada")  # in the stack's group lab
    refused = hub.api("POST", "/users/bob/server", json={"profile": "dask-lab"})
    assert refused.status_code == 403, refused.text
    assert "not open to bob" in refused.json()["message"]
    assert pod_of(cluster, "session-bob") is None
    spawned, pod = start(hub, cluster, "ada", "dask-lab")
    assert spawned.status_code in (201, 202), hub.logs()
    assert pod is not None
    assert set(owned(cluster, pod["metadata"]["uid"])) == {"Deployment", "Service", "NetworkPolicy"}
    scheduler = cluster.get("deployment", "session-ada-sc", "-n", USERS)
    assert scheduler["spec"]["template"]["spec"]["containers"][0]["image"].startswith("ghcr.io/dask/dask:")


@pytest.mark.parametrize("hub", [{"idleSeconds": 10}], indirect=True)
def test_the_culler_stops_an_idle_session_and_its_workers_while_the_home_stays(hub: LocalHub, cluster: Cluster) -> None:
    admin = admin_session(hub)
    add_user(hub, admin, "erin")
    spawned, pod = start(hub, cluster, "erin", "rstudio")
    assert spawned.status_code in (201, 202), hub.logs()
    assert pod is not None
    assert wait(lambda: owned(cluster, pod["metadata"]["uid"]), 30, "erin's workers")
    # Nobody uses it: the culler (a hub service, every few seconds here) stops it.
    assert wait(lambda: pod_of(cluster, "session-erin") is None, 120, "the idle session culled")
    assert wait(lambda: not owned(cluster, pod["metadata"]["uid"]), 60, "its workers collected")
    assert not cluster.get("pods", "-n", USERS, "-l", "hub.jupyter.org/username=erin")["items"]
    assert cluster.get("pvc", "home-erin", "-n", USERS)["status"]["phase"] == "Bound"
    assert "idle-culler" in hub.logs()


def test_the_r_workers_the_hook_creates_join_the_users_rstudio_session(
    hub: LocalHub, cluster: Cluster, tmp_path: Path
) -> None:
    """The objects the hub created, run as the pods' own processes (as tests/e2e runs the r engine's).

    The worker Deployment and the session pod are read back from the API server; their init
    containers fill each pod's library from a local repository (the snapshot cannot be reached here),
    then the session's RStudio container's R, with its env, waits for workers that dial it.
    """
    clusters.require_r()
    admin = admin_session(hub)
    add_user(hub, admin, "ivy")
    spawned, pod = start(hub, cluster, "ivy", "rstudio")
    assert spawned.status_code in (201, 202), hub.logs()
    assert pod is not None
    workers = cluster.get("deployment", "session-ivy-wk", "-n", USERS)
    capture = program("kwok-hub", namespace=NAMESPACE, hubSecretSeed={"secret": "placeholder"})
    cran = repository.build(tmp_path / "cran")
    root = tmp_path / "pods"
    root.mkdir()
    port = free_port()
    # The session: the rstudio container and its own init container (the R library), of the created pod.
    r_only = {
        **pod["spec"],
        "initContainers": [c for c in pod["spec"]["initContainers"] if c["name"] == "install-r-packages"],
    }
    session_document = {"spec": {"template": {"spec": r_only}}}
    pods.start_r_pod(capture, "session", root, cran, "session-ivy", document=session_document)
    session = pods.LocalContainer(
        capture, "session", root, container="rstudio", pod_name="session-ivy", document=session_document,
        env_overrides={"KUBEPAR_WORKER_PORT": str(port)},
    )  # fmt: skip
    started: list[Any] = []
    try:
        for index in range(workers["spec"]["replicas"]):
            name = f"session-ivy-wk-{index}"
            pods.start_r_pod(capture, "worker", root, cran, name, document=workers)
            worker = pods.LocalContainer(
                capture, "worker", root, pod_name=name, document=workers,
                env_overrides={"KUBEPAR_SCHEDULER_HOST": "127.0.0.1", "KUBEPAR_SCHEDULER_PORT": str(port)},
            )  # fmt: skip
            started.append(worker.start(root / f"{name}.log"))
        result = subprocess.run(
            ["Rscript", "-e", "kubepar_plan(timeout = 60); cat('workers:', future::nbrOfWorkers(), '\\n')"],
            env=session.process_env(), cwd=root, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    finally:
        for process in started:
            pods.stop(process)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "workers: 2" in result.stdout


def test_a_hub_restart_keeps_its_users_their_groups_and_their_running_sessions(hub: LocalHub, cluster: Cluster) -> None:
    admin = admin_session(hub)
    add_user(hub, admin, "jo")
    spawned, pod = start(hub, cluster, "jo", "rstudio")
    assert spawned.status_code in (201, 202), hub.logs()
    assert pod is not None
    assert wait(lambda: ready(hub, "jo"), 60, "jo's session ready")
    started = time.monotonic()
    hub.restart_hub()
    # The database on the hub's claim: the users, the approval, the stack's groups and the session.
    assert hub.api("GET", "/groups/lab").json()["users"] == ["ada", "grace"]
    assert hub.log_in("jo", PASSWORD)
    assert wait(lambda: ready(hub, "jo"), 60, "jo's session, after the restart")
    record("hub restarted", time.monotonic() - started)
    assert (pod_of(cluster, "session-jo") or {}).get("metadata", {}).get("uid") == pod["metadata"]["uid"]
    assert requests.get(f"{hub.url}/user/jo/api", timeout=30).json()["version"]
