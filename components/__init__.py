"""kubepar's components, in wings that import only the wings below them.

- ``ground``: pure Python (no Pulumi SDK): the settings models, the
  problem-collecting reader, value parsers, the one parser of ``Pulumi.yaml``,
  pool sizing, quantities, address-range rules, the pool vocabulary GCP and
  Kubernetes share, and the cost arithmetic. The policy pack imports it.
- ``engines``: what runs in the pods, as data: the model, one module per
  engine (and per backend), the sweep plans, and a registry that finds engine
  modules by themselves.
- ``config``: the only caller of ``pulumi.Config``; asks each engine to check
  its own keys; GKE and sweep parsing in modules of their own.
- ``gcp``: everything that imports ``pulumi_gcp``, and the GKE platform as a
  plain function.
- ``k8s``: everything that imports only ``pulumi_kubernetes``.

``gcp`` and ``k8s`` sit side by side above ``config`` and never import each
other; tests/test_layout.py holds every module to this.
"""
