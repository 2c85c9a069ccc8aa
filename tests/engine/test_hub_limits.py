"""engine hub for real, its limits: the quota, hubMaxSessions, the Role's exact verbs, users kept apart, OAuth.

Run as tests/engine/test_hub.py runs the hub (its docstring says what is real
and what differs): the stack deployed once on the local control plane, a
fresh hub per test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from components.ground.hub_rights import HUB_ROLE_NAME
from tests.engine.conftest import Cluster
from tests.engine.hub_steps import NAMESPACE, USERS, add_user, admin_session, pod_of, ready, start
from tests.engine.test_kwok import wait
from tools import stack as engine_stack
from tools.harness.hub import LocalHub
from tools.harness.network import Pod, connects


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
    assert wait(lambda: pod_of(cluster, "session-dave") is None, 60, "the refused session's pod removed")


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
        assert wait(lambda: pod_of(cluster, f"session-{user}") is None, 60, "the failed session's pod removed")
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
    assert pod_of(cluster, "session-lee") is None


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
