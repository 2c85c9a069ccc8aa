"""The hub engine: JupyterHub, so that every member of a group starts a session of their own.

Owns: the ``hub`` engine's roles (the hub, on the zero-to-jupyterhub hub
image with kubepar's own ``jupyterhub_config.py``, and configurable-http-proxy),
their traffic and outputs. Does not: describe the users' pods (k8s/hub_pods.py
renders them, with the settings file the config reads), or create the users'
namespace, its Role or quota (k8s/hub.py).
Invariant: the hub is the only role with a ServiceAccount token and API egress.
"""

from __future__ import annotations

from components.engines.model import (
    NON_ROOT_UID,
    SCRIPTS_DIR,
    SECRET_ENV_REASON,
    Access,
    Claim,
    Disruption,
    Edge,
    Engine,
    EnginePlugin,
    Exposure,
    PodRole,
    Probe,
    Security,
    Storage,
    files,
)
from components.engines.r_language import check_packages
from components.ground.hub_sizes import HUB_SIZE, PROXY_SIZE
from components.ground.settings import WorkloadSettings

HUB_CHART = "4.4.0"
"""zero-to-jupyterhub's release whose hub image runs the hub: JupyterHub 5.5.0, KubeSpawner 7.0.0,
jupyterhub-idle-culler 1.4.0, jupyterhub-nativeauthenticator 1.3.0, oauthenticator 17.4.0."""
HUB_IMAGE = f"quay.io/jupyterhub/k8s-hub:{HUB_CHART}"
PROXY_VERSION = "5.2.0"
"""configurable-http-proxy of that chart release."""
PROXY_IMAGE = f"quay.io/jupyterhub/configurable-http-proxy:{PROXY_VERSION}"
HUB_PORT = 8081
PROXY_PORT = 8000
PROXY_API_PORT = 8001
HUB_SERVICE = "kubepar-hub"
PROXY_SERVICE = "kubepar-proxy"
"""The proxy's fixed-name Service: its API (the hub) and, behind the HTTPS front, its public port."""

# The database lives on the hub's claim, there (the image's working directory); the hub runs as
# kubepar's non-root UID, which owns the claim through fsGroup.
HUB_DB_DIR = "/srv/jupyterhub"
HUB_SETTINGS = "hub.json"
HUB_DB_SIZE = "1Gi"
# OAuthenticator reads the client's id and secret from these (from the Secret's OAuth keys).
OAUTH_ENV = (("OAUTH_CLIENT_ID", "oauth-client-id"), ("OAUTH_CLIENT_SECRET", "oauth-client-secret"))


def hub_url(settings: WorkloadSettings) -> str:
    return f"http://{HUB_SERVICE}.{settings.namespace}.svc.cluster.local:{HUB_PORT}"


def hub_role(settings: WorkloadSettings) -> PodRole:
    return PodRole(
        component="hub",
        image=HUB_IMAGE,
        command=("tini", "--", "jupyterhub", "--config", f"{SCRIPTS_DIR}/jupyterhub_config.py"),
        env=(("KUBEPAR_HUB_SETTINGS", f"{SCRIPTS_DIR}/{HUB_SETTINGS}"),),
        secret_env=(
            ("JPY_COOKIE_SECRET", "cookie-secret"),
            ("JUPYTERHUB_CRYPT_KEY", "crypt-key"),
            ("CONFIGPROXY_AUTH_TOKEN", "proxy-token"),
            *(OAUTH_ENV if settings.hub is not None and settings.hub.authenticator != "native" else ()),
        ),
        cpu=HUB_SIZE[0],
        memory=HUB_SIZE[1],
        probe=Probe(
            port=HUB_PORT,
            path="/hub/health",
            liveness=True,
            why=(
                "a restart keeps everything (the database on its claim; sessions run on) and cures a hub whose "
                "event loop is stuck, which nothing else notices"
            ),
        ),
        security=Security(fs_group=NON_ROOT_UID, api_access=True),
        # The database: users, their groups, their servers. A restart keeps them.
        storage=Storage(claim=Claim(name="hub-db", path=HUB_DB_DIR)),
        disruption=Disruption(
            why=(
                "while the hub restarts nobody can log in or start a session (running ones go on): the autoscaler "
                "leaves it put; no budget, so a drain moves it at once"
            ),
            safe_to_evict=False,
        ),
        exposure=Exposure(
            ports=(("http", HUB_PORT),),
            endpoint_port=HUB_PORT,
            endpoint_service=HUB_SERVICE,
            # OAuth providers (GitHub, Google, the OIDC issuer).
            internet="https",
            api_server=True,
        ),
        checkov_skips=(
            ("CKV_K8S_38", "the hub starts and stops the users' pods through its namespaced Role (docs/hub.md)"),
            ("CKV_K8S_35", SECRET_ENV_REASON + " (JupyterHub's cookie secret, crypt key and proxy token)"),
        ),
    )


def proxy_role(settings: WorkloadSettings) -> PodRole:
    return PodRole(
        component="proxy",
        image=PROXY_IMAGE,
        command=(
            "configurable-http-proxy",
            "--ip=",
            f"--port={PROXY_PORT}",
            "--api-ip=",
            f"--api-port={PROXY_API_PORT}",
            f"--default-target={hub_url(settings)}",
            f"--error-target={hub_url(settings)}/hub/error",
        ),
        secret_env=(("CONFIGPROXY_AUTH_TOKEN", "proxy-token"),),
        cpu=PROXY_SIZE[0],
        memory=PROXY_SIZE[1],
        probe=Probe(
            port=PROXY_PORT,
            path="/_chp_healthz",
            liveness=True,
            why=(
                "a hung proxy cuts every user off; a restart loses only its routes, which the hub adds back "
                "at its next activity check (every five minutes)"
            ),
        ),
        security=Security(run_as_user=65534),
        disruption=Disruption(
            why=(
                "a moved proxy cuts open connections for a moment and the hub restores its routes: the autoscaler "
                "may move it, and no budget holds a drain"
            ),
        ),
        exposure=Exposure(
            ports=(("http", PROXY_PORT), ("api", PROXY_API_PORT)),
            user_port=PROXY_PORT,
            endpoint_port=PROXY_API_PORT,
            endpoint_service=PROXY_SERVICE,
            internet="none",
        ),
        checkov_skips=(("CKV_K8S_35", SECRET_ENV_REASON + " (CONFIGPROXY_AUTH_TOKEN)"),),
    )


def first_login(settings: WorkloadSettings) -> str:
    """The admin's first step, as the ``firstLogin`` output."""
    hub = settings.hub
    assert hub is not None
    admin = hub.admins[0] if hub.admins else "<admin>"
    if hub.authenticator == "native":
        return (
            f"Open the url output (after the portForward command, if there is no hubDomain), go to /hub/signup "
            f"and sign up as {admin} with a password of 12 or more characters: an admin's sign-up is approved at "
            "once, before anyone else can claim the name. Then log in; approve the others' sign-ups at "
            "/hub/authorize and add them to groups at /hub/admin"
        )
    return f"Open the url output and log in as {admin} with {hub.authenticator}; manage groups at /hub/admin"


def build(settings: WorkloadSettings) -> Engine:
    return Engine(
        name="hub",
        roles=(hub_role(settings), proxy_role(settings)),
        # hub.json, the settings the config reads, is rendered beside it by components/k8s/hub.py.
        files=files("hub", ("jupyterhub_config.py",)),
        edges=(
            Edge(client="proxy", server="hub", port=HUB_PORT),
            # The hub adds and removes the users' routes.
            Edge(client="hub", server="proxy", port=PROXY_API_PORT),
        ),
        # With hubDomain, the HTTPS front takes this door (engines/https_front.py).
        access=(Access(component="proxy", port=PROXY_PORT),),
        claim_sizes=(("hub-db", HUB_DB_SIZE),),
        sessions_spawned=True,
        outputs=(
            ("hubVersion", HUB_CHART),
            ("rVersion", settings.r_version),
            ("daskVersion", settings.dask_version),
            ("firstLogin", first_login(settings)),
        ),
    )


# Keys only this engine reads; the others refuse them at a non-default value.
HUB_KEYS = (
    "hubAuthenticator",
    "hubAdmins",
    "hubUsers",
    "hubGroups",
    "hubProfiles",
    "hubIdleMinutes",
    "hubMaxSessions",
    "hubDomain",
    "hubDnsZone",
    "hubOidcIssuer",
)

PLUGIN = EnginePlugin(
    name="hub",
    build=build,
    # Each profile says how many workers its sessions get; ``workers`` is not read.
    max_workers=1000,
    workers_fix="engine hub reads each profile's workers instead",
    packages=check_packages,
    own_keys=HUB_KEYS,
)
