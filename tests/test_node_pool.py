"""Node pools: an on-demand system pool and an autoscaled, tainted worker pool."""

from __future__ import annotations

from tests.conftest import program


def pools(stack: str = "dev", **overrides: object) -> dict[str, dict]:
    capture = program(stack, **overrides)
    return {r.name: r.inputs for r in capture.of_type("gcp:container/nodePool:NodePool")}


def test_worker_pool_scales_from_zero_to_the_derived_ceiling() -> None:
    # dev without its sweep: 4 one-CPU workers, three fit per e2-standard-4 node -> 2 nodes.
    autoscaling = pools(sweeps=[])["workers-pool"]["autoscaling"]
    assert autoscaling["totalMinNodeCount"] == 0
    assert autoscaling["totalMaxNodeCount"] == 2
    assert autoscaling["locationPolicy"] == "ANY"


def test_more_workers_raise_the_ceiling() -> None:
    assert pools(workers=30, sweeps=[])["workers-pool"]["autoscaling"]["totalMaxNodeCount"] == 10


def test_sweeps_raise_the_ceiling_so_their_pods_fit_beside_the_workers() -> None:
    # dev's sweep: 10 pods of 1 CPU and 2Gi, each with the 250m storage sidecar: 2 per node -> 5 nodes.
    assert pools()["workers-pool"]["autoscaling"]["totalMaxNodeCount"] == 2 + 5


def test_spot_follows_config_and_system_pool_is_never_spot() -> None:
    assert pools("dev")["workers-pool"]["nodeConfig"]["spot"] is True
    assert pools("prod")["workers-pool"]["nodeConfig"]["spot"] is False
    assert pools("dev")["system-pool"]["nodeConfig"]["spot"] is False


def test_every_node_is_hardened() -> None:
    for inputs in pools().values():
        node = inputs["nodeConfig"]
        assert node["imageType"] == "COS_CONTAINERD"
        assert node["gcfsConfig"] == {"enabled": True}
        assert node["shieldedInstanceConfig"]["enableSecureBoot"] is True
        assert node["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert inputs["management"] == {"autoRepair": True, "autoUpgrade": True}


def test_only_the_worker_pool_is_tainted() -> None:
    by_name = pools()
    assert by_name["workers-pool"]["nodeConfig"]["taints"] == [
        {"key": "kubepar.dev/workers", "value": "true", "effect": "NO_SCHEDULE"}
    ]
    assert by_name["system-pool"]["nodeConfig"]["taints"] == []
    assert by_name["workers-pool"]["nodeConfig"]["labels"] == {"kubepar.dev/pool": "workers"}
