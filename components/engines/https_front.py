"""The HTTPS front: any engine's one public door, served over TLS for the stack's domain.

Owns: turning an engine whose first ``Access`` is its user-facing door
(RStudio, JupyterLab, the hub's proxy) into one whose public door is Traefik
(the release zero-to-jupyterhub 4.4.0 runs) on 8443, behind a LoadBalancer on
443: the door's role keeps the port on its fixed-name ClusterIP Service for
the front alone, other user-facing ports (the Dask dashboard) close, and the
front gets its certificate from Let's Encrypt by the DNS challenge in Cloud
DNS, as a Google service account through Workload Identity. Does not: create
the address, the record or the grant (gcp/https_door.py).
Invariant: with a door, the LoadBalancer fronts only the front, and the front
reaches only the door's role on the door's port.
"""

from __future__ import annotations

import dataclasses

import yaml

from components.engines.model import (
    SCRIPTS_DIR,
    Access,
    Claim,
    Disruption,
    Edge,
    Engine,
    Exposure,
    PodRole,
    Probe,
    Security,
    Storage,
)
from components.ground.hub_rights import acme_account_email
from components.ground.settings import Door, WorkloadSettings

TRAEFIK_VERSION = "v3.6.12"
HTTPS_PORT = 8443
PING_PORT = 8082
ACME_DIR = "/etc/acme"
ACME_SIZE = "1Gi"
COMPONENT = "https"
ACCOUNT = f"kubepar-{COMPONENT}"
"""The front's Kubernetes ServiceAccount: a fixed name, which its Workload Identity binding names."""


def front_role(settings: WorkloadSettings, door: Door) -> PodRole:
    return PodRole(
        component=COMPONENT,
        image=f"traefik:{TRAEFIK_VERSION}",
        command=("traefik", f"--configFile={SCRIPTS_DIR}/traefik.yaml"),
        # lego's Cloud DNS provider: the project and zone; its token comes from Workload Identity.
        env=(("GCE_PROJECT", door.project), ("GCE_ZONE_ID", door.dns_zone)),
        cpu="200m",
        memory="256Mi",
        probe=Probe(
            port=PING_PORT,
            path="/ping",
            liveness=True,
            why="Traefik holds nothing a restart loses (its certificates are on its claim); a hung one closes the door",
        ),
        disruption=Disruption(
            why=(
                "a moved front cuts open connections for a moment and comes back with its certificates: the "
                "autoscaler may move it, and no budget holds a drain"
            ),
        ),
        security=Security(
            run_as_user=65534, fs_group=65534, gcp_account=acme_account_email(settings.stack, door.project)
        ),
        # The ACME account and certificates: kept, so a restart does not ask Let's Encrypt again.
        storage=Storage(claim=Claim(name="acme", path=ACME_DIR, size=ACME_SIZE)),
        exposure=Exposure(
            ports=(("https", HTTPS_PORT), ("ping", PING_PORT)),
            user_port=HTTPS_PORT,
            service_port=443,
            # Let's Encrypt's API and Cloud DNS's, over HTTPS; the metadata server for the token.
            internet="https",
            metadata_server=True,
            static_address=True,
        ),
    )


def traefik_files(door: Door, target: str) -> dict[str, str]:
    """Traefik's static configuration and its one route: the domain to ``target``."""
    static = {
        "entryPoints": {
            "websecure": {"address": f":{HTTPS_PORT}", "http": {"tls": {"certResolver": "letsencrypt"}}},
            "ping": {"address": f":{PING_PORT}"},
        },
        "ping": {"entryPoint": "ping"},
        "certificatesResolvers": {
            "letsencrypt": {"acme": {"storage": f"{ACME_DIR}/acme.json", "dnsChallenge": {"provider": "gcloud"}}}
        },
        "providers": {"file": {"filename": f"{SCRIPTS_DIR}/traefik-routes.yaml"}},
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": "INFO"},
    }
    routes = {
        "http": {
            "routers": {
                "door": {
                    "rule": f"Host(`{door.domain}`)",
                    "entryPoints": ["websecure"],
                    "service": "door",
                    "middlewares": ["hsts"],
                    "tls": {"certResolver": "letsencrypt", "domains": [{"main": door.domain}]},
                }
            },
            "middlewares": {"hsts": {"headers": {"stsSeconds": 15724800}}},
            # Sessions use websockets (RStudio, JupyterLab kernels): Traefik passes them through.
            "services": {"door": {"loadBalancer": {"servers": [{"url": target}]}}},
        }
    }
    return {
        "traefik.yaml": yaml.safe_dump(static, sort_keys=False),
        "traefik-routes.yaml": yaml.safe_dump(routes, sort_keys=False),
    }


def with_https_front(engine: Engine, settings: WorkloadSettings) -> Engine:
    """``engine`` with its first door behind the HTTPS front; unchanged without a door."""
    door = settings.door
    if door is None or not engine.access:
        return engine
    public = engine.access[0]
    roles = []
    target = ""
    for role in engine.roles:
        exposure = role.exposure
        if role.component == public.component:
            if exposure.endpoint_port is None:
                # Its own fixed-name Service, which only the front may use (the edge below).
                exposure = dataclasses.replace(
                    exposure, endpoint_port=public.port, endpoint_service=f"kubepar-{role.component}"
                )
            else:
                exposure = dataclasses.replace(
                    exposure, endpoint_extra_ports=(*exposure.endpoint_extra_ports, public.port)
                )
            target = f"http://{exposure.endpoint_service}.{settings.namespace}.svc.cluster.local:{public.port}"
        # No other public port: the dashboard is reached through the session (JupyterLab's Dask panel).
        roles.append(dataclasses.replace(role, exposure=dataclasses.replace(exposure, user_port=None)))
    return dataclasses.replace(
        engine,
        roles=(*roles, front_role(settings, door)),
        files={**engine.files, **traefik_files(door, target)},
        edges=(*engine.edges, Edge(client=COMPONENT, server=public.component, port=public.port)),
        access=(
            Access(component=COMPONENT, port=HTTPS_PORT, url=f"https://{door.domain}"),
            # Port-forward-only doors (Spark's UIs) stay as they are.
            *(access for access in engine.access if access.forward_only),
        ),
    )
