"""The GCP wing: everything that imports ``pulumi_gcp``, and the GKE platform that ties it together.

Owns: project APIs, the network, the cluster, its node pools, the IAM wait,
the results bucket, and :func:`~components.gcp.platform.gke_platform`.
Does not: import the Kubernetes wing (the cluster hands out a provider;
Kubernetes objects are built by k8s/).
"""
