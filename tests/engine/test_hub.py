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
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from pulumi import automation as auto

from components.config.hub import RSTUDIO_FRONT
from components.ground.hub_rights import HUB_ROLE_NAME, same_rules
from components.ground.quantities import cpu_millis, memory_bytes
from components.k8s.hub_pods import USER_ACCOUNT
from tests.conftest import ROOT, program
from tests.engine.conftest import Cluster
from tests.engine.test_kwok import wait
from tools import stack as engine_stack
from tools.harness import clusters, pods, repository
from tools.harness.hub import LocalHub
from tools.harness.network import Pod, connects
from tools.harness.pods import free_port

NAME = "kwhub"
NAMESPACE = f"kp-{NAME}"
USERS = f"{NAMESPACE}-users"
PASSWORD = "a-long-enough-password"
# A profile two of which the users' quota cannot hold: each session's workers take a worker node.
BIG = {
    "name": "big",
    "session": "rstudio",
    "cpu": "1",
    "memory": "2Gi",
    "workers": 2,
    "workerCpu": "3",
    "workerMemory": "4Gi",
}


@pytest.fixture(scope="module")
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


def _pod(cluster: Cluster, name: str) -> dict[str, Any] | None:
    found = cluster.kubectl("get", "pod", name, "-n", USERS, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def _owned(cluster: Cluster, uid: str) -> dict[str, str]:
    """Kind -> name of every object in the users' namespace owned by the pod ``uid``."""
    items = cluster.get("deployments,services,networkpolicies", "-n", USERS)["items"]
    return {
        item["kind"]: item["metadata"]["name"]
        for item in items
        if any(ref["uid"] == uid for ref in item["metadata"].get("ownerReferences") or [])
    }


def admin_session(hub: LocalHub) -> requests.Session:
    assert hub.sign_up("admin", PASSWORD).status_code == 200
    return hub.log_in("admin", PASSWORD)


def add_user(hub: LocalHub, admin: requests.Session, user: str) -> requests.Session:
    """Sign up, refused until approved, approved by the admin, then logged in."""
    assert hub.sign_up(user, PASSWORD).status_code == 200
    with pytest.raises(AssertionError, match="could not log in"):
        hub.log_in(user, PASSWORD)
    assert hub.approve(admin, user).status_code == 200
    return hub.log_in(user, PASSWORD)


def start(
    hub: LocalHub, cluster: Cluster, user: str, profile: str, serve: bool = True
) -> tuple[requests.Response, dict[str, Any] | None]:
    """``user``'s session of ``profile`` (tools/harness/hub.py: served locally once its pod exists)."""
    return hub.spawn(user, profile, serve=serve)


def ready(hub: LocalHub, user: str) -> bool:
    return bool(hub.api("GET", f"/users/{user}").json()["servers"].get("", {}).get("ready"))


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
    assert pod["spec"]["nodeName"].startswith("kwok-system")
    home = next(v for v in spec["volumes"] if v["name"] == "home")["persistentVolumeClaim"]["claimName"]
    assert home == "home-alice"

    owned = _owned(cluster, pod["metadata"]["uid"])
    assert owned == {
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
    assert wait(lambda: _pod(cluster, "session-alice") is None, 60, "the session pod gone")
    assert wait(lambda: not _owned(cluster, pod["metadata"]["uid"]), 60, "the workers collected")
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
    assert _pod(cluster, "session-bob") is None
    spawned, pod = start(hub, cluster, "ada", "dask-lab")
    assert spawned.status_code in (201, 202), hub.logs()
    assert pod is not None
    assert set(_owned(cluster, pod["metadata"]["uid"])) == {"Deployment", "Service", "NetworkPolicy"}
    scheduler = cluster.get("deployment", "session-ada-sc", "-n", USERS)
    assert scheduler["spec"]["template"]["spec"]["containers"][0]["image"].startswith("ghcr.io/dask/dask:")


def test_a_session_the_quota_cannot_hold_fails_at_once_naming_the_limit(hub: LocalHub, cluster: Cluster) -> None:
    admin = admin_session(hub)
    for user in ("carol", "dave"):
        add_user(hub, admin, user)
    first, _ = start(hub, cluster, "carol", "big")
    assert first.status_code in (201, 202), hub.logs()
    assert wait(lambda: ready(hub, "carol"), 60, "carol's session ready")
    second, _ = start(hub, cluster, "dave", "big", serve=False)
    # The spawn request itself, or the server's progress, ends with the quota named.
    message = second.text if second.status_code >= 400 else _last_progress(hub, "dave")
    assert "kubepar-users" in message and "quota" in message, message
    assert wait(lambda: _pod(cluster, "session-dave") is None, 60, "the refused session's pod removed")


def _last_progress(hub: LocalHub, user: str) -> str:
    """The last event of a user's spawn, once it ended (as the hub's progress page shows it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        server = hub.api("GET", f"/users/{user}").json()["servers"].get("")
        if server is None or not server.get("pending"):
            break
        time.sleep(0.5)
    events = hub.api("GET", f"/users/{user}/server/progress", stream=True, timeout=10)
    return events.text


@pytest.mark.parametrize("hub", [{"idleSeconds": 10}], indirect=True)
def test_the_culler_stops_an_idle_session_and_its_workers_while_the_home_stays(hub: LocalHub, cluster: Cluster) -> None:
    admin = admin_session(hub)
    add_user(hub, admin, "erin")
    spawned, pod = start(hub, cluster, "erin", "rstudio")
    assert spawned.status_code in (201, 202), hub.logs()
    assert pod is not None
    assert wait(lambda: _owned(cluster, pod["metadata"]["uid"]), 30, "erin's workers")
    # Nobody uses it: the culler (a hub service, every few seconds here) stops it.
    assert wait(lambda: _pod(cluster, "session-erin") is None, 120, "the idle session culled")
    assert wait(lambda: not _owned(cluster, pod["metadata"]["uid"]), 60, "its workers collected")
    assert not cluster.get("pods", "-n", USERS, "-l", "hub.jupyter.org/username=erin")["items"]
    assert cluster.get("pvc", "home-erin", "-n", USERS)["status"]["phase"] == "Bound"
    assert "idle-culler" in hub.logs()


@pytest.mark.parametrize(
    ("resource", "verb"),
    [("pods", "create"), ("persistentvolumeclaims", "create"), ("deployments", "create"), ("services", "create"),
     ("networkpolicies", "create"), ("resourcequotas", "get")],
)  # fmt: skip
def test_a_role_without_one_of_its_verbs_makes_the_spawn_fail(
    hub_stack: engine_stack.Isolated, cluster: Cluster, tmp_path: Path, resource: str, verb: str
) -> None:
    role = cluster.get("role", HUB_ROLE_NAME, "-n", USERS)
    narrowed = [
        {**rule, "verbs": [v for v in rule["verbs"] if not (rule["resources"] == [resource] and v == verb)]}
        for rule in role["rules"]
    ]
    narrowed = [rule for rule in narrowed if rule["verbs"]]
    patch = json.dumps({"rules": narrowed})
    cluster.kubectl("patch", "role", HUB_ROLE_NAME, "-n", USERS, "--type=merge", "-p", patch)
    local = LocalHub(cluster.kubectl, cluster.kubeconfig, NAMESPACE, tmp_path)
    try:
        local.start()
        admin = admin_session(local)
        # A user of its own: nothing an earlier spawn left (a home claim) stands in for the missing verb.
        user = f"no-{verb}-{resource}"
        add_user(local, admin, user)
        # A BIG profile's workers need the quota check (resourcequotas get); every profile needs the rest.
        spawned, _ = start(local, cluster, user, "big")
        failed = spawned.status_code >= 400 or not wait(lambda: not _pending(local, user), 60)
        assert failed or not ready(local, user), f"the spawn succeeded without {verb} {resource}"
        assert wait(lambda: _pod(cluster, f"session-{user}") is None, 60, "the failed session's pod removed")
    finally:
        local.stop()
        cluster.kubectl(
            "patch", "role", HUB_ROLE_NAME, "-n", USERS, "--type=merge", "-p", json.dumps({"rules": role["rules"]})
        )
        cluster.kubectl("delete", "pods", "-n", USERS, "-l", "hub.jupyter.org/username", check=False)


def _pending(hub: LocalHub, user: str) -> bool:
    server = hub.api("GET", f"/users/{user}").json()["servers"].get("")
    return bool(server and server.get("pending"))


def test_one_users_workers_reach_their_own_session_and_no_one_elses(hub: LocalHub, cluster: Cluster) -> None:
    admin = admin_session(hub)
    for user in ("gina", "hal"):
        add_user(hub, admin, user)
        spawned, _ = start(hub, cluster, user, "rstudio")
        assert spawned.status_code in (201, 202), hub.logs()
    policies = [
        *cluster.get("networkpolicies", "-n", USERS)["items"],
        *cluster.get("networkpolicies", "-n", NAMESPACE)["items"],
    ]

    def pod_of(user: str, component: str) -> Pod:
        selector = f"hub.jupyter.org/username={user},app.kubernetes.io/component={component}"
        items = wait(lambda: cluster.get("pods", "-n", USERS, "-l", selector)["items"], 60, f"{selector}\n{hub.logs()}")
        return Pod(items[0]["metadata"]["labels"], USERS)

    gina_worker, gina_session = pod_of("gina", "worker"), pod_of("gina", "session")
    hal_worker, hal_session = pod_of("hal", "worker"), pod_of("hal", "session")
    port = int(json.loads(hub.files["hub.json"])["profiles"][0]["objects"][-1]["spec"]["ports"][0]["port"])
    assert connects(policies, gina_worker, gina_session, port)
    assert connects(policies, hal_worker, hal_session, port)
    for source, target in (
        (gina_worker, hal_session),
        (hal_worker, gina_session),
        (gina_session, hal_session),
        (gina_worker, hal_worker),
    ):
        for target_port in (port, 8888, 8787):
            assert not connects(policies, source, target, target_port), (source.labels, target.labels, target_port)
    proxy = Pod(
        cluster.get("pods", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=proxy")["items"][0]["metadata"][
            "labels"
        ],
        NAMESPACE,
    )
    assert connects(policies, proxy, gina_session, 8888)
    assert not connects(policies, proxy, gina_worker, port)


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
    hub.restart_hub()
    # The database on the hub's claim: the users, the approval, the stack's groups and the session.
    assert hub.api("GET", "/groups/lab").json()["users"] == ["ada", "grace"]
    assert hub.log_in("jo", PASSWORD)
    assert ready(hub, "jo"), hub.logs()
    assert (_pod(cluster, "session-jo") or {}).get("metadata", {}).get("uid") == pod["metadata"]["uid"]
    assert requests.get(f"{hub.url}/user/jo/api", timeout=30).json()["version"]


@pytest.mark.parametrize("hub", [{"maxSessions": 1}], indirect=True)
def test_a_start_past_hub_max_sessions_is_refused(hub: LocalHub, cluster: Cluster) -> None:
    admin = admin_session(hub)
    for user in ("kim", "lee"):
        add_user(hub, admin, user)
    first, _ = start(hub, cluster, "kim", "rstudio")
    assert first.status_code in (201, 202), hub.logs()
    assert wait(lambda: ready(hub, "kim"), 60, "kim's session ready")
    second = hub.api("POST", "/users/lee/server", json={"profile": "rstudio"})
    assert second.status_code == 429, second.text
    assert "limit" in second.json()["message"].lower()
    assert _pod(cluster, "session-lee") is None


@pytest.mark.parametrize(
    "hub",
    [{"authenticator": "github", "users": ["octo"], "oauthCallbackUrl": "http://localhost:8000/hub/oauth_callback"}],
    indirect=True,
)
def test_with_github_the_hub_sends_people_to_github_with_the_stacks_client_and_callback(hub: LocalHub) -> None:
    """oauthenticator 17.4 as the stack configures it; nothing here reaches GitHub."""
    answer = requests.get(f"{hub.url}/hub/oauth_login", timeout=30, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith("https://github.com/login/oauth/authorize?")
    assert "client_id=kubepar-test-client" in location
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Fhub%2Foauth_callback" in location
    # No sign-up page: accounts are GitHub's; only hubUsers, group members and admins get in.
    assert requests.get(f"{hub.url}/hub/signup", timeout=30).status_code == 404
