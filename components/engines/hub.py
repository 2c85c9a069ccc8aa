"""The hub engine: JupyterHub, so that every member of a group starts a session of their own.

Owns: the ``hub`` engine's roles (the hub, on the zero-to-jupyterhub hub
image with kubepar's own ``jupyterhub_config.py``, and configurable-http-proxy),
their traffic and outputs. Does not: describe the users' pods (k8s/hub_pods.py
renders them, with the settings file the config reads), or create the users'
namespace, its Role or quota (k8s/hub.py).
Invariant: the hub is the only role with a ServiceAccount token and API egress.
"""

from __future__ import annotations

import yaml

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
from components.ground.hub_rights import acme_account_email
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
TRAEFIK_VERSION = "v3.6.12"
"""The HTTPS front: Traefik, the release zero-to-jupyterhub 4.4.0 runs for its automatic HTTPS."""
HTTPS_PORT = 8443
ACME_DIR = "/etc/acme"
# The database lives on the hub's claim, there (the image's working directory); the hub runs as
# kubepar's non-root UID, which owns the claim through fsGroup.
HUB_DB_DIR = "/srv/jupyterhub"
HUB_SETTINGS = "hub.json"
HUB_DB_SIZE = "1Gi"
ACME_SIZE = "1Gi"
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
        cpu="500m",
        memory="1Gi",
        probe=Probe(port=HUB_PORT, path="/hub/health"),
        security=Security(fs_group=NON_ROOT_UID, api_access=True),
        # The database: users, their groups, their servers. A restart keeps them.
        storage=Storage(claim=Claim(name="hub-db", path=HUB_DB_DIR)),
        disruption=Disruption(safe_to_evict=False),
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
    # With hubDomain, the HTTPS front is the public door and reaches the proxy on the endpoint Service.
    front = settings.hub is not None and settings.hub.domain is not None
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
        cpu="200m",
        memory="256Mi",
        probe=Probe(port=PROXY_PORT, path="/_chp_healthz"),
        security=Security(run_as_user=65534),
        exposure=Exposure(
            ports=(("http", PROXY_PORT), ("api", PROXY_API_PORT)),
            user_port=None if front else PROXY_PORT,
            endpoint_port=PROXY_API_PORT,
            endpoint_extra_ports=(PROXY_PORT,) if front else (),
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


def https_role(settings: WorkloadSettings) -> PodRole:
    """Traefik in front of the proxy: TLS for hubDomain, its certificate from Let's Encrypt by the DNS
    challenge in Cloud DNS (no inbound connection, so the LoadBalancer keeps its source ranges)."""
    hub = settings.hub
    assert hub is not None and hub.domain is not None
    return PodRole(
        component="https",
        image=f"traefik:{TRAEFIK_VERSION}",
        command=("traefik", f"--configFile={SCRIPTS_DIR}/traefik.yaml"),
        # lego's Cloud DNS provider: the project and zone; its token comes from Workload Identity.
        env=(("GCE_PROJECT", hub.project or ""), ("GCE_ZONE_ID", hub.dns_zone or "")),
        cpu="200m",
        memory="256Mi",
        probe=Probe(port=TRAEFIK_PING_PORT, path="/ping"),
        security=Security(
            run_as_user=65534, fs_group=65534, gcp_account=acme_account_email(settings.stack, hub.project or "")
        ),
        # The ACME account and certificates: kept, so a restart does not ask Let's Encrypt again.
        storage=Storage(claim=Claim(name="acme", path=ACME_DIR)),
        exposure=Exposure(
            ports=(("https", HTTPS_PORT), ("ping", TRAEFIK_PING_PORT)),
            user_port=HTTPS_PORT,
            service_port=443,
            # Let's Encrypt's API and Cloud DNS's, over HTTPS; the metadata server for the token.
            internet="https",
            metadata_server=True,
            static_address=True,
        ),
    )


TRAEFIK_PING_PORT = 8082


def traefik_files(settings: WorkloadSettings) -> dict[str, str]:
    """Traefik's static configuration and its one route, hubDomain to the proxy."""
    hub = settings.hub
    assert hub is not None and hub.domain is not None
    static = {
        "entryPoints": {
            "websecure": {"address": f":{HTTPS_PORT}", "http": {"tls": {"certResolver": "letsencrypt"}}},
            "ping": {"address": f":{TRAEFIK_PING_PORT}"},
        },
        "ping": {"entryPoint": "ping"},
        "certificatesResolvers": {
            "letsencrypt": {
                "acme": {"storage": f"{ACME_DIR}/acme.json", "dnsChallenge": {"provider": "gcloud"}},
            }
        },
        "providers": {"file": {"filename": f"{SCRIPTS_DIR}/traefik-routes.yaml"}},
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": "INFO"},
    }
    proxy = f"http://{PROXY_SERVICE}.{settings.namespace}.svc.cluster.local:{PROXY_PORT}"
    routes = {
        "http": {
            "routers": {
                "hub": {
                    "rule": f"Host(`{hub.domain}`)",
                    "entryPoints": ["websecure"],
                    "service": "hub",
                    "middlewares": ["hsts"],
                    "tls": {"certResolver": "letsencrypt", "domains": [{"main": hub.domain}]},
                }
            },
            "middlewares": {"hsts": {"headers": {"stsSeconds": 15724800}}},
            "services": {"hub": {"loadBalancer": {"servers": [{"url": proxy}]}}},
        }
    }
    return {
        "traefik.yaml": yaml.safe_dump(static, sort_keys=False),
        "traefik-routes.yaml": yaml.safe_dump(routes, sort_keys=False),
    }


def build(settings: WorkloadSettings) -> Engine:
    hub = settings.hub
    domain = hub.domain if hub is not None else None
    front = domain is not None
    return Engine(
        name="hub",
        roles=(hub_role(settings), proxy_role(settings), *((https_role(settings),) if front else ())),
        # hub.json, the settings the config reads, is rendered beside it by components/k8s/hub.py.
        files={**files("hub", ("jupyterhub_config.py",)), **(traefik_files(settings) if front else {})},
        edges=(
            Edge(client="proxy", server="hub", port=HUB_PORT),
            # The hub adds and removes the users' routes.
            Edge(client="hub", server="proxy", port=PROXY_API_PORT),
            *((Edge(client="https", server="proxy", port=PROXY_PORT),) if front else ()),
        ),
        access=(
            Access(component="https", port=HTTPS_PORT, url=f"https://{domain}")
            if front
            else Access(component="proxy", port=PROXY_PORT),
        ),
        claim_sizes=(("hub-db", HUB_DB_SIZE), *((("acme", ACME_SIZE),) if front else ())),
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
