"""engine hub's tests on the real engine: the stack they share, and the steps a user and an admin take.

The steps go through the hub as people do: the sign-up and login forms, the
approval link an admin follows, then the hub's REST API (tools/harness/hub.py
serves each session's single-user server locally once its pod exists).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tools.harness.hub import LocalHub

if TYPE_CHECKING:
    from tests.engine.conftest import Cluster

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


def pod_of(cluster: Cluster, name: str) -> dict[str, Any] | None:
    found = cluster.kubectl("get", "pod", name, "-n", USERS, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else None


def owned(cluster: Cluster, uid: str) -> dict[str, str]:
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
