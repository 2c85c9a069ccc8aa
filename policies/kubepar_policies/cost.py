"""Cost rules (advisory): how large the worker pool may grow, and Spot outside production.

Owns: the worker pool's ceiling in vCPUs (max nodes x the machine type's
vCPUs, sized with kubepar's own machine table) and the Spot advice. Applies
to separate and inline node pools alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .common import ADVISORY, POOL_LABEL, quantities, rule, stack_of
from .gke import PROTECTED_STACKS, pools


def _is_worker_pool(props: Mapping[str, Any]) -> bool:
    return ((props.get("nodeConfig") or {}).get("labels") or {}).get(POOL_LABEL) == "workers"


def _worker_vcpu_cap(args: ResourceValidationArgs, report: ReportViolation) -> None:
    cap = args.get_config().get("maxWorkerVcpus")
    for where, props in pools(args):
        if not _is_worker_pool(props):
            continue
        shape = quantities.machine_shape(str((props.get("nodeConfig") or {}).get("machineType") or ""))
        max_nodes = (props.get("autoscaling") or {}).get("totalMaxNodeCount")
        if shape is None or max_nodes is None or cap is None:
            continue
        total = int(max_nodes) * shape.vcpus
        if total > cap:
            report(
                f"{where} can grow to {int(max_nodes)} x {shape.vcpus} = {total} vCPUs, over the cap of {cap}. "
                "Lower kubepar:workers or raise maxWorkerVcpus in the policy config.",
                None,
            )


def _spot_outside_prod(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if stack_of(args.urn) in (args.get_config().get("protectedStacks") or []):
        return
    for where, props in pools(args):
        if _is_worker_pool(props) and (props.get("nodeConfig") or {}).get("spot") is not True:
            report(
                f"{where} runs on-demand workers outside production. Spot VMs cost 60-91% less: set kubepar:spot true.",
                None,
            )


POLICIES: list[ResourceValidationPolicy] = [
    rule(
        "cost-worker-pool-vcpu-cap",
        "The worker pool's maximum nodes x vCPUs stays under maxWorkerVcpus.",
        _worker_vcpu_cap,
        level=ADVISORY,
        config={"maxWorkerVcpus": {"type": "integer", "default": 256}},
    ),
    rule(
        "cost-spot-workers-outside-prod",
        "Worker pools outside protected stacks use Spot VMs.",
        _spot_outside_prod,
        level=ADVISORY,
        config=PROTECTED_STACKS,
    ),
]
