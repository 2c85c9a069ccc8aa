"""The hub's and Spark's shared facts, written out: the hub's one Role, its pod sizes, Spark's ports and heaps.

Each table is spelled out here (not read from the module), so a row, a verb, a port or a size changed
in the module fails its case. Sources: the hub's calls (KubeSpawner 7.0 and kubepar's spawn hook:
docs/hub.md), Apache's spark-docker versions.json, Spark's memory overhead rule (max(384 MiB, 10%)).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.ground import hub_rights, hub_sizes, spark
from components.ground.settings import HubProfile

HUB_RULES: list[dict[str, object]] = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create", "delete"]},
    {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list", "watch", "create", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "create", "delete"]},
    {"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "create", "delete"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get", "create", "delete"]},
]


def test_the_hub_role_is_exactly_what_the_hub_calls() -> None:
    assert hub_rights.HUB_ROLE_NAME == "kubepar-hub"
    assert hub_rights.role_rules() == HUB_RULES
    assert hub_rights.same_rules(HUB_RULES)


def _changed(position: int, **fields: Any) -> list[dict[str, object]]:
    rules = [dict(rule) for rule in HUB_RULES]
    rules[position] = {**rules[position], **fields}
    return rules


@pytest.mark.parametrize(
    "rules",
    [
        HUB_RULES[:-1],
        [*HUB_RULES, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
        [*HUB_RULES, HUB_RULES[0]],
        _changed(0, verbs=["get", "list", "watch", "create", "delete", "patch"]),
        _changed(4, verbs=[]),
        _changed(0, resourceNames=["one"]),
        _changed(2, nonResourceURLs=["/metrics"]),
        _changed(5, apiGroups=["apps", "extensions"]),
        _changed(5, apiGroups=["extensions"]),
        _changed(1, resources=["persistentvolumes"]),
    ],
)
def test_any_other_rules_are_not_the_hubs(rules: list[dict[str, object]]) -> None:
    assert not hub_rights.same_rules(rules)


def test_the_hubs_rules_may_be_written_in_another_order_or_with_the_core_group_implied() -> None:
    reordered: list[dict[str, object]] = [
        {**rule, "verbs": list(reversed(rule["verbs"]))}  # type: ignore[call-overload]
        for rule in reversed(HUB_RULES)
    ]
    assert hub_rights.same_rules(reordered)
    implied: list[dict[str, object]] = [
        {k: v for k, v in rule.items() if not (k == "apiGroups" and v == [""])} for rule in HUB_RULES
    ]
    assert hub_rights.same_rules(implied)
    two_in_one: list[dict[str, object]] = [
        {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]}
    ]
    assert not hub_rights.same_rules(two_in_one)


@pytest.mark.parametrize(
    ("stack", "account"),
    [
        ("dev", "kubepar-dev-acme"),
        # 30 characters at most: "kubepar-" and the first 22 of a long name.
        ("a" * 40, "kubepar-" + "a" * 22),
        # A cut that ends on a dash drops it: GCP ids end with a letter or digit.
        ("x" * 21, "kubepar-" + "x" * 21),
    ],
)
def test_the_acme_account_id_is_a_gcp_account_id(stack: str, account: str) -> None:
    assert hub_rights.acme_account_id(stack) == account
    assert hub_rights.acme_account_email(stack, "proj-1") == f"{account}@proj-1.iam.gserviceaccount.com"


def test_the_hubs_own_pods_and_each_sessions_share() -> None:
    assert (hub_sizes.HUB_SIZE, hub_sizes.PROXY_SIZE) == (("500m", "1Gi"), ("200m", "256Mi"))
    assert (hub_sizes.RSTUDIO_FRONT, hub_sizes.DASK_SCHEDULER_SIZE) == (("250m", "512Mi"), ("500m", "1Gi"))
    assert hub_sizes.HUB_PODS == {"hub": (500, 1024**3), "proxy": (200, 256 * 1024**2)}


@pytest.mark.parametrize(
    ("session", "workers", "system"),
    [
        # RStudio: the profile's size and the single-user server in front of it.
        ("rstudio", 2, (1250, 4 * 1024**3 + 512 * 1024**2)),
        ("rstudio", 0, (1250, 4 * 1024**3 + 512 * 1024**2)),
        # JupyterLab: its own Dask scheduler beside it, only when it has workers.
        ("jupyterlab", 2, (1500, 5 * 1024**3)),
        ("jupyterlab", 0, (1000, 4 * 1024**3)),
    ],
)
def test_a_session_asks_the_system_pool_for_its_pods(session: str, workers: int, system: tuple[int, int]) -> None:
    profile = HubProfile(
        name="p", session=session, cpu="1", memory="4Gi", workers=workers, worker_cpu="2", worker_memory="3Gi"
    )
    assert hub_sizes.profile_pods(profile) == (system, (2000, 3 * 1024**3), workers)


def test_spark_versions_and_image_are_apaches() -> None:
    assert spark.SPARK_VERSIONS == ("4.0.0", "4.0.1", "4.0.2", "4.0.3", "4.1.0", "4.1.1", "4.1.2")
    assert spark.image("4.1.1") == "apache/spark:4.1.1-scala2.13-java17-python3-ubuntu"
    assert (spark.SPARK_HOME, spark.SPARK_UID) == ("/opt/spark", 185)
    assert spark.minor("4.1.2") == "4.1" and spark.minor("4.0.0") == "4.0"


def test_every_spark_port_is_fixed_and_the_private_ones_are_listed() -> None:
    ports = {
        "connect": spark.CONNECT_PORT,
        "master": spark.MASTER_PORT,
        "worker": spark.WORKER_PORT,
        "driver": spark.DRIVER_PORT,
        "driver blocks": spark.DRIVER_BLOCK_MANAGER_PORT,
        "blocks": spark.BLOCK_MANAGER_PORT,
        "master ui": spark.MASTER_UI_PORT,
        "worker ui": spark.WORKER_UI_PORT,
        "driver ui": spark.DRIVER_UI_PORT,
    }
    assert ports == {
        "connect": 15002,
        "master": 7077,
        "worker": 7078,
        "driver": 7079,
        "driver blocks": 7080,
        "blocks": 7081,
        "master ui": 8080,
        "worker ui": 8081,
        "driver ui": 4040,
    }
    assert spark.PRIVATE_PORTS == (15002, 7077, 7078, 7079, 7080, 7081)
    assert spark.SERVICES == ("kubepar-spark-connect", "kubepar-spark-master")
    assert spark.COMPONENTS == ("spark-connect", "spark-master", "spark-worker")


def test_spark_sizes_and_floors() -> None:
    assert (spark.MASTER_CPU, spark.MASTER_MEMORY, spark.DAEMON_HEAP_MIB) == ("500m", "1Gi", 256)
    floors = (spark.MIN_OVERHEAD_MIB, spark.MIN_DRIVER_MEMORY_MIB, spark.MIN_WORKER_MEMORY_MIB)
    assert floors == (384, 1024, 1536)
    assert spark.MIN_EXECUTOR_HEAP_MIB == 512


@pytest.mark.parametrize(("memory", "overhead"), [(1000, 384), (3849, 384), (3850, 385), (8192, 819)])
def test_the_jvm_overhead_is_a_tenth_but_at_least_384_mib(memory: int, overhead: int) -> None:
    assert spark.overhead_mib(memory) == overhead


@pytest.mark.parametrize(
    ("memory", "driver", "executor"),
    [
        # 2048 - 384; the executor: 2048 - 256 - 384 = 1408, less 384.
        (2048, 1664, 1024),
        # 4096 - 409; 4096 - 640 = 3456, less 384 (345 is under the floor).
        (4096, 3687, 3072),
        # 8192 - 819; 8192 - 640 = 7552, less 755.
        (8192, 7373, 6797),
    ],
)
def test_driver_and_executor_heaps_leave_the_jvm_its_overhead(memory: int, driver: int, executor: int) -> None:
    assert spark.driver_heap_mib(memory) == driver
    assert spark.executor_heap_mib(memory) == executor
