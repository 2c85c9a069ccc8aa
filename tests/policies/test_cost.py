"""Cost rules (advisory): the worker pool's vCPU ceiling and Spot outside production."""

from __future__ import annotations

from typing import Any

from tests.policies.helpers import CLUSTER, POOL, check

WORKERS = {"kubepar.dev/pool": "workers"}


def _pool(max_nodes: int = 10, machine: str = "n2-standard-8", spot: bool = True) -> dict[str, Any]:
    return {
        "name": "workers",
        "autoscaling": {"totalMaxNodeCount": max_nodes},
        "nodeConfig": {"machineType": machine, "labels": WORKERS, "spot": spot},
    }


def test_worker_pool_vcpu_cap_is_a_configurable_threshold() -> None:
    assert check("cost-worker-pool-vcpu-cap", POOL, _pool()) == []
    found = check("cost-worker-pool-vcpu-cap", POOL, _pool(), config={"maxWorkerVcpus": 64})
    assert "can grow to 10 x 8 = 80 vCPUs, over the cap of 64" in found[0]
    inline = check("cost-worker-pool-vcpu-cap", CLUSTER, {"nodePools": [_pool()]}, config={"maxWorkerVcpus": 64})
    assert "inline node pool 'workers' can grow to 10 x 8 = 80 vCPUs" in inline[0]


def test_on_demand_workers_outside_prod_get_advice() -> None:
    assert check("cost-spot-workers-outside-prod", POOL, _pool()) == []
    found = check("cost-spot-workers-outside-prod", POOL, _pool(spot=False))
    assert "runs on-demand workers outside production" in found[0]
    assert check("cost-spot-workers-outside-prod", POOL, _pool(spot=False), stack="prod") == []
