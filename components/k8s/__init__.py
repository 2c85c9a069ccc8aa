"""The Kubernetes wing: everything that imports only ``pulumi_kubernetes``.

Owns: the namespace and its accounts, the home volume, the engine's files,
each role as a workload with its doors, sweeps as Indexed Jobs, the queue's
Secret and claim, the results claim and volume, labels and the existing
cluster's provider. Does not: import the GCP wing.
"""
