"""Sweep: one parameter sweep as a Kubernetes Indexed Job, with the Job controller as the scheduler.

Owns, for one sweep: the ConfigMap with the user's script and kubepar's
runner, the Indexed Job (one completion per task, retries per index for
failures of the script only, preemptions and evictions ignored), and the
pods' NetworkPolicies. Does not: own the results store (results.py: it
outlives every sweep) or the ServiceAccount (namespace.py).

Invariant: the results folder carries the run id, a digest of everything
that shapes the results; the Job's name carries a digest of the whole Job
(the run id, parallelism, deadline and every field of the pod kubepar builds).
pulumi-kubernetes replaces a Job whenever its parallelism or pod template
changes; with a new name the new Job is created before the old one goes
(deleted in the background), and its tasks find the results the old one
saved and skip them. A Job is never replaced under its own name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.engines.sweeps import sweep_plan
from components.ground.settings import SweepSettings, WorkloadSettings
from components.k8s import network_policies, pods
from components.k8s.labels import labels, namespace_labels, object_meta
from components.k8s.results import ResultsStore

SWEEP_LABEL = "kubepar.dev/sweep"
RUN_LABEL = "kubepar.dev/run"
JOB_LABEL = "kubepar.dev/job"
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
    on_pools: bool = False
    """Place task pods on the (Spot) worker pool (GKE, or an existing cluster with nodePools)."""
    api_server_cidrs: pulumi.Input[list[str]] | None = None
    """Excluded from the pods' internet egress, as for every other role."""


def _canonical(value: Any) -> Any:
    """A Job spec as plain data for its digest: values known only at deploy time as one marker.

    Those are names of objects the stack owns (the files' ConfigMap, the
    ServiceAccount, the bucket); a change of what they hold changes the run id.
    """
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return "<deploy-time>"


def job_id(run: str, spec: dict[str, Any], metadata: dict[str, Any]) -> str:
    """Digest of the whole Job: any change makes a Job of a new name."""
    text = json.dumps(_canonical({"run": run, "spec": spec, "metadata": metadata}), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def disruption_policy() -> dict[str, Any]:
    """Preemption, eviction and node drains never use up a task's retries."""
    return {"rules": [{"action": "Ignore", "on_pod_conditions": [{"type": "DisruptionTarget", "status": "True"}]}]}


class Sweep(pulumi.ComponentResource):
    job: pulumi.Output[str]
    run: str
    job_id: str

    def __init__(self, name: str, args: SweepArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:Sweep", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        sweep, settings = args.sweep, args.settings
        plan = sweep_plan(settings, sweep)
        meta_labels = {**labels(settings.stack, "sweep"), SWEEP_LABEL: sweep.name, RUN_LABEL: plan.run}

        # One ConfigMap per run, immutable: a changed script is a new run with
        # a new ConfigMap (the provider replaces an immutable one, creating the
        # new one first), so the pods of a Job still running (or restarted
        # before it is deleted) never read another run's scripts.
        files = k8s.core.v1.ConfigMap(
            f"{name}-files-{plan.run}",
            metadata=object_meta(
                args.namespace, {**namespace_labels(settings.stack), SWEEP_LABEL: sweep.name, RUN_LABEL: plan.run}
            ),
            data=plan.files,
            immutable=True,
            opts=child,
        )
        pod_spec = pods.pod_spec(
            plan.role,
            service_account=args.service_account,
            scripts_config_map=files.metadata.name,
            settings_config_map="",
            password_secret=None,
            claim=None,
            on_pools=args.on_pools,
            results_volume=args.results.volume(
                read_only=False, uid=plan.role.security.run_as_user, gid=plan.role.security.run_as_user
            ),
            results_read_only=False,
        )
        # A finished or failed task stays finished: the Job, not the kubelet, retries.
        pod_spec["restart_policy"] = "Never"
        annotations = pods.checkov_annotations(plan.role)
        # `pulumi up` starts the sweep and returns; the Job runs for hours.
        annotations["pulumi.com/skipAwait"] = "true"
        # A replaced Job goes at once and its pods after it: the default
        # (foreground) holds the old Job until every pod has gone.
        annotations["pulumi.com/deletionPropagationPolicy"] = "background"
        spec: dict[str, Any] = {
            "completion_mode": "Indexed",
            "completions": sweep.tasks,
            "parallelism": sweep.parallelism,
            # Per task, for failures of the script; a few bad tasks do not stop the rest.
            "backoff_limit_per_index": sweep.retries,
            "max_failed_indexes": sweep.max_failed,
            # A pod that can never start (a mount that never authenticates, an
            # image that never pulls) must not hold Spot nodes for ever.
            "active_deadline_seconds": sweep.deadline_hours * 3600,
            "pod_failure_policy": cast(k8s.batch.v1.PodFailurePolicyArgsDict, disruption_policy()),
            # No ttlSecondsAfterFinished: the stack owns the Job, and a
            # vanished Job would be created again by the next `pulumi up`.
            "template": {
                "metadata": {
                    "labels": meta_labels,
                    "annotations": {**pods.pod_annotations(plan.role), **args.results.pod_annotations()},
                },
                "spec": cast(k8s.core.v1.PodSpecArgsDict, pod_spec),
            },
        }
        self.job_id = job_id(plan.run, spec, {"labels": meta_labels, "annotations": annotations})
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=object_meta(
                args.namespace,
                {**meta_labels, JOB_LABEL: self.job_id},
                name=f"{JOB_PREFIX}-{sweep.name}-{self.job_id}",
                annotations=annotations,
            ),
            spec=cast(k8s.batch.v1.JobSpecArgsDict, spec),
            opts=args.results.after_grants(child),
        ).metadata.name
        network_policies.create(
            name,
            plan.role,
            # Task pods dial nothing in the stack and nothing dials them.
            edges=(),
            stack=settings.stack,
            namespace=args.namespace,
            meta_labels=meta_labels,
            allowed_source_ranges=(),
            api_server_cidrs=args.api_server_cidrs,
            opts=child,
            metadata_server=args.results.mounts_bucket,
        )
        self.run = plan.run
        self.register_outputs({"job": self.job, "run": self.run, "job_id": self.job_id})
