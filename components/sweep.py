"""Sweep: one parameter sweep as a Kubernetes Indexed Job, with the Job controller as the scheduler.

Owns, for one sweep: the ConfigMap with the user's script and kubepar's
runner, the Indexed Job (one completion per task, retries per index for
failures of the script only, preemptions and evictions ignored), and the
pods' NetworkPolicies. Does not: own the results store (results.py: it
outlives every sweep) or the ServiceAccount (namespace.py).

Invariant: the Job's name carries the run id, a digest of everything that
shapes the results, so Pulumi replaces the Job exactly when the run changes
and a new run writes to a new folder; parallelism alone is changed in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components import network_policies, pods
from components.config import SweepSettings, WorkloadSettings
from components.engines import sweep_plan
from components.labels import labels, namespace_labels, object_meta
from components.results import ResultsStore

SWEEP_LABEL = "kubepar.dev/sweep"
RUN_LABEL = "kubepar.dev/run"
JOB_PREFIX = "kubepar"


@dataclass(frozen=True, kw_only=True)
class SweepArgs:
    sweep: SweepSettings
    """The validated sweep."""
    settings: WorkloadSettings
    """Stack settings (images, packages, snapshot)."""
    namespace: pulumi.Input[str]
    service_account: pulumi.Input[str]
    """The sweeps' ServiceAccount: the one the results store grants write access to."""
    results: ResultsStore
    """Where results go: mounted read-write at /results."""
    on_gke: bool = False
    """Pin task pods to the (Spot) worker pool."""
    api_server_cidrs: pulumi.Input[list[str]] | None = None
    """Excluded from the pods' internet egress, as for every other role."""


def disruption_policy() -> dict[str, Any]:
    """Preemption, eviction and node drains never use up a task's retries."""
    return {"rules": [{"action": "Ignore", "on_pod_conditions": [{"type": "DisruptionTarget", "status": "True"}]}]}


class Sweep(pulumi.ComponentResource):
    job: pulumi.Output[str]
    run: str

    def __init__(self, name: str, args: SweepArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:Sweep", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        sweep, settings = args.sweep, args.settings
        plan = sweep_plan(settings, sweep)
        meta_labels = {**labels(settings.stack, "sweep"), SWEEP_LABEL: sweep.name, RUN_LABEL: plan.run}

        files = k8s.core.v1.ConfigMap(
            f"{name}-files",
            metadata=object_meta(args.namespace, {**namespace_labels(settings.stack), SWEEP_LABEL: sweep.name}),
            data=plan.engine.files,
            opts=child,
        )
        pod_spec = pods.pod_spec(
            plan.engine,
            plan.role,
            service_account=args.service_account,
            scripts_config_map=files.metadata.name,
            settings_config_map="",
            password_secret=None,
            home_claim=None,
            on_gke=args.on_gke,
            results_volume=args.results.volume(read_only=False, uid=plan.role.run_as_user, gid=plan.role.run_as_user),
            results_read_only=False,
        )
        # A finished or failed task stays finished: the Job, not the kubelet, retries.
        pod_spec["restart_policy"] = "Never"
        annotations = pods.checkov_annotations(plan.role)
        # `pulumi up` starts the sweep and returns; the Job runs for hours.
        annotations["pulumi.com/skipAwait"] = "true"
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=object_meta(
                args.namespace, meta_labels, name=f"{JOB_PREFIX}-{sweep.name}-{plan.run}", annotations=annotations
            ),
            spec={
                "completion_mode": "Indexed",
                "completions": sweep.tasks,
                "parallelism": sweep.parallelism,
                # Per task, for failures of the script; a few bad tasks do not stop the rest.
                "backoff_limit_per_index": sweep.retries,
                "max_failed_indexes": sweep.max_failed,
                "pod_failure_policy": cast(k8s.batch.v1.PodFailurePolicyArgsDict, disruption_policy()),
                # No ttlSecondsAfterFinished: the stack owns the Job, and a
                # vanished Job would be created again by the next `pulumi up`.
                "template": {
                    "metadata": {"labels": meta_labels, "annotations": args.results.pod_annotations()},
                    "spec": cast(k8s.core.v1.PodSpecArgsDict, pod_spec),
                },
            },
            opts=child,
        ).metadata.name
        network_policies.create(
            name,
            plan.role,
            stack=settings.stack,
            namespace=args.namespace,
            meta_labels=meta_labels,
            allowed_source_ranges=(),
            api_server_cidrs=args.api_server_cidrs,
            opts=child,
        )
        self.run = plan.run
        self.register_outputs({"job": self.job, "run": self.run})
