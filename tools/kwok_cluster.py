"""The nodes and storage of the local control plane `make cluster` starts, shaped like a stack's GKE pools.

Owns: Node objects for kwok to simulate (one system node and
``workerPoolMaxNodes`` worker nodes of the stack's machine types, with the
labels and taint kubepar's GKE pools carry and the allocatable CPU, memory
and disk GKE leaves on those machine types and boot disks), and a default StorageClass with
pre-made volumes, so claims bind as a cloud's provisioner would bind them.
Does not: start anything (engine/cluster.sh does) or touch a real cluster.

Usage: python tools/kwok_cluster.py STACK > manifests.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from components.ground import quantities
from components.ground.disk import EXISTING_NODE_DISK_GB, allocatable_bytes
from components.ground.pools import POOL_LABEL, SYSTEM_POOL_MAX_NODES, WORKER_TAINT_KEY, WORKER_TAINT_VALUE
from components.ground.project import PROJECT_ROOT as ROOT
from tools import harness

# Volumes the storage class offers (each claim binds one for good: a released one is kept,
# as a cloud disk would be): enough for a few dozen stacks of home, results and queue claims.
VOLUMES = 64
VOLUME_SIZE = "200Gi"
PODS_PER_NODE = 110


def node(name: str, pool: str, machine_type: str, spot: bool, disk_gb: int = EXISTING_NODE_DISK_GB) -> dict[str, Any]:
    shape = quantities.machine_shape(machine_type)
    assert shape is not None, machine_type
    # What GKE leaves for pods (its reservations), not counting its own DaemonSets: kwok runs none.
    cpu = shape.vcpus * 1000 - quantities.gke_reserved_cpu_millis(shape.vcpus)
    memory = shape.memory_bytes - quantities.gke_reserved_memory_bytes(shape.memory_bytes)
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": machine_type,
        "cloud.google.com/gke-nodepool": pool,
        POOL_LABEL: pool,
        "type": "kwok",
    }
    if spot:
        labels["cloud.google.com/gke-spot"] = "true"
    taints = (
        [{"key": WORKER_TAINT_KEY, "value": WORKER_TAINT_VALUE, "effect": "NoSchedule"}] if pool == "workers" else []
    )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        # kwok simulates the nodes with this annotation (its pods become Running and Ready).
        "metadata": {"name": name, "labels": labels, "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "spec": {"taints": taints},
        "status": {
            "capacity": {
                "cpu": str(shape.vcpus),
                "memory": str(shape.memory_bytes),
                "ephemeral-storage": f"{disk_gb}Gi",
                "pods": str(PODS_PER_NODE),
            },
            # The disk GKE leaves pods of the boot disk config checks the pods against.
            "allocatable": {
                "cpu": f"{cpu}m",
                "memory": str(memory),
                "ephemeral-storage": str(allocatable_bytes(disk_gb)),
                "pods": str(PODS_PER_NODE),
            },
        },
    }


def storage(volume_dir: Path) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
            "reclaimPolicy": "Delete",
        }
    ]
    for index in range(VOLUMES):
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"kwok-volume-{index}"},
                "spec": {
                    "storageClassName": "standard",
                    "capacity": {"storage": VOLUME_SIZE},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    # Never mounted: kwok's pods run no containers.
                    "hostPath": {"path": str(volume_dir / str(index))},
                },
            }
        )
    return documents


def manifests(stack: str, volume_dir: Path) -> list[dict[str, Any]]:
    config, _ = harness.stack_config(stack)
    workers = int(config.get("kubepar:workerPoolMaxNodes", "0")) or 1
    spot = config.get("kubepar:spot", "true") == "true"
    disk_gb = int(config.get("kubepar:nodeDiskGb", "0")) or EXISTING_NODE_DISK_GB
    # The pools at their ceilings: what config checks against is what the scheduler finds.
    documents = [
        node(f"kwok-system-{i}", "system", config["kubepar:systemMachineType"], spot=False, disk_gb=disk_gb)
        for i in range(SYSTEM_POOL_MAX_NODES)
    ]
    documents += [
        node(f"kwok-workers-{i}", "workers", config["kubepar:workerMachineType"], spot=spot, disk_gb=disk_gb)
        for i in range(workers)
    ]
    return documents + storage(volume_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", default="kwok")
    parser.add_argument("--volumes", type=Path, default=ROOT / "build" / "cluster" / "volumes")
    args = parser.parse_args(argv)
    sys.stdout.write(yaml.safe_dump_all(manifests(args.stack, args.volumes), sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
