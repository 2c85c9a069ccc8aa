"""R files: the scripts that run inside the R pods, and the live worker count.

Owns: two ConfigMaps. ``scripts`` holds the files under ``workloads/r/``
verbatim; it is auto-named, so a changed script gets a new ConfigMap and the
pods that mount it roll. ``settings`` holds the worker count under a fixed
name, so a new count replaces its content in place: the RStudio pod keeps
running and reads the new count at the next ``kubepar_plan()``.
Does not: decide where files are mounted (r_pod.py does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.labels import namespace_labels, object_meta

WORKLOADS_R = Path(__file__).resolve().parent.parent / "workloads" / "r"
SCRIPT_FILES = ("kubepar.R", "kubepar-worker.sh", "install-packages.R")
WORKERS_KEY = "workers"
SETTINGS_NAME = "kubepar-settings"


def script_data() -> dict[str, str]:
    """The ConfigMap data: each workload file under its own name."""
    return {name: (WORKLOADS_R / name).read_text() for name in SCRIPT_FILES}


@dataclass(frozen=True, kw_only=True)
class RFilesArgs:
    namespace: pulumi.Input[str]
    """Namespace of both ConfigMaps."""
    stack: str
    """Stack name, for labels and the settings ConfigMap name."""
    workers: int
    """Configured worker count, read by kubepar_plan() at call time."""


class RFiles(pulumi.ComponentResource):
    scripts_config_map: pulumi.Output[str]
    settings_config_map: pulumi.Output[str]

    def __init__(self, name: str, args: RFilesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:RFiles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=object_meta(args.namespace, namespace_labels(args.stack)),
            data=script_data(),
            opts=child,
        )
        settings = k8s.core.v1.ConfigMap(
            f"{name}-settings",
            # Fixed name: pods reference it by this name, so a new worker count
            # does not change any pod spec (and restarts nothing).
            metadata=object_meta(args.namespace, namespace_labels(args.stack), name=SETTINGS_NAME),
            data={WORKERS_KEY: f"{args.workers}\n"},
            opts=child,
        )
        self.scripts_config_map = scripts.metadata.name
        self.settings_config_map = settings.metadata.name
        self.register_outputs(
            {
                "scripts_config_map": self.scripts_config_map,
                "settings_config_map": self.settings_config_map,
            }
        )
