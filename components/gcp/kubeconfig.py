"""The kubeconfig of a GKE cluster, as a pure function.

Owns: the kubeconfig text the cluster's Kubernetes provider and users'
kubectl use. Does not: hold credentials. It names the
``gke-gcloud-auth-plugin`` exec plugin, so tokens are minted at use and never
stored in state.
"""

from __future__ import annotations

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
