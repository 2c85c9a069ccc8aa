"""Spark on the real engine: Pulumi's CLI and Kubernetes provider against the local control plane.

The ``spark`` key on the kwok stack: Pod Security admits the three roles
(the namespace enforces ``restricted``), the scheduler places each on its
pool, and a ``spark.workers`` change updates the worker Deployment alone:
the session and the Connect server keep their pods.
"""

from __future__ import annotations

from typing import Any

from tests.engine.test_kwok import admitted_on_pools, wait

SPARK = {"workers": 1, "workerMemory": "2Gi", "driverMemory": "1Gi"}
POOLS = {"scheduler": "system", "spark-connect": "system", "spark-master": "system", "spark-worker": "workers"}


def test_spark_is_admitted_placed_on_its_pools_and_its_workers_scale_alone(deploy: Any) -> None:
    deployed = deploy("kwspark", spark=SPARK)
    deployed.up()
    for pod in admitted_on_pools(deployed, POOLS):
        if pod["metadata"]["labels"]["app.kubernetes.io/component"].startswith("spark-"):
            assert pod["spec"]["containers"][0]["securityContext"]["runAsUser"] == 185
    kept = {
        component: wait(lambda component=component: deployed.pods(component), what=component)[0]["metadata"]["uid"]
        for component in ("scheduler", "spark-connect", "spark-master")
    }
    deployed.configure(spark={**SPARK, "workers": 2})
    deployed.up()
    changed = deployed.changed()
    assert changed == {"spark-worker-deployment": ["update"]}, changed
    for component, uid in kept.items():
        assert [p["metadata"]["uid"] for p in deployed.pods(component)] == [uid], component
    wait(lambda: len(deployed.pods("spark-worker")) == 2, what="two Spark workers")
