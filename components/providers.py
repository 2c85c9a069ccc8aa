"""Kubernetes providers: one from a GKE cluster's outputs, one from kubectl's context.

Owns: the kubeconfig text for GKE (a pure function) and provider options.
Does not: hold credentials. The GKE kubeconfig names the
``gke-gcloud-auth-plugin`` exec plugin, so tokens are minted at use and never
stored in state.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s
import yaml


def gke_kubeconfig(cluster_name: str, endpoint: str, ca_certificate: str | None = None) -> str:
    """kubeconfig text for a GKE cluster that authenticates through gcloud.

    ``endpoint`` is the DNS-based endpoint (``gke-….<region>.gke.goog``),
    which presents a publicly trusted certificate, so ``ca_certificate`` is
    only for the IP endpoint, whose certificate the cluster's own CA signs.
    """
    context = f"kubepar-{cluster_name}"
    cluster: dict[str, str] = {"server": f"https://{endpoint}"}
    if ca_certificate:
        cluster["certificate-authority-data"] = ca_certificate
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
        "users": [
            {
                "name": context,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "gke-gcloud-auth-plugin",
                        # The same identity as the GCP provider (Application
                        # Default Credentials), not gcloud's own login.
                        "args": ["--use_application_default_credentials"],
                        "installHint": "Install gke-gcloud-auth-plugin: "
                        "gcloud components install gke-gcloud-auth-plugin",
                        "provideClusterInfo": True,
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)


def existing_cluster_provider(name: str, context: str | None) -> k8s.Provider:
    """Provider for the cluster kubectl already points at (``platform: existing``)."""
    return k8s.Provider(
        name,
        context=context,
        # A stack must never adopt objects it did not create.
        upsert_existing_objects=False,
        # ConfigMaps not marked immutable update in place (the worker count); see engine_files.py.
        enable_config_map_mutable=True,
    )
