"""Engine files: the scripts that run inside the pods, and the live worker count.

Owns: two ConfigMaps. ``scripts`` holds the engine's files under
``workloads/`` verbatim; it is immutable and auto-named, so a changed script
gets a new ConfigMap and the pods that mount it roll. ``settings`` holds the
worker count; it is mutable (the providers enable mutable ConfigMaps, and
pulumi-kubernetes otherwise replaces a ConfigMap whose data changes, which
would change the session's pod spec and restart RStudio), so a new count is
an update in place: no pod spec changes, nothing restarts, and the R session
reads the new count at the next ``kubepar_plan()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.k8s.labels import namespace_labels, object_meta

WORKERS_KEY = "workers"
SETTINGS_NAME = "kubepar-settings"


@dataclass(frozen=True, kw_only=True)
class EngineFilesArgs:
    namespace: pulumi.Input[str]
    """Namespace of both ConfigMaps."""
    stack: str
    """Stack name, for labels."""
    files: dict[str, str]
    """The engine's scripts, by file name."""
    workers: int
    """Configured worker count."""


class EngineFiles(pulumi.ComponentResource):
    scripts_config_map: pulumi.Output[str]
    settings_config_map: pulumi.Output[str]

    def __init__(self, name: str, args: EngineFilesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:EngineFiles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata=object_meta(args.namespace, namespace_labels(args.stack)),
            data=args.files,
            # New scripts, new ConfigMap: the pods that run them roll.
            immutable=True,
            opts=child,
        )
        settings = k8s.core.v1.ConfigMap(
            f"{name}-settings",
            # Fixed name: pods reference it by this name, so a new worker count
            # does not change any pod spec (and restarts nothing).
            metadata=object_meta(args.namespace, namespace_labels(args.stack), name=SETTINGS_NAME),
            data={WORKERS_KEY: f"{args.workers}\n"},
            immutable=False,
            opts=child,
        )
        self.scripts_config_map = scripts.metadata.name
        self.settings_config_map = settings.metadata.name
        self.register_outputs(
            {"scripts_config_map": self.scripts_config_map, "settings_config_map": self.settings_config_map}
        )
