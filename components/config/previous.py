"""The stack's last deployed outputs, to catch config changes that cost data.

Owns: a StackReference to this very stack (Pulumi reads its last outputs at
preview and update alike), and the pure rules that compare them with the new
settings. Does not: change anything; it only refuses or warns.

Invariant: a change that would delete the user's home volume (a new
namespace replaces every namespaced object) is refused, naming the key and
how to keep the files, unless ``replaceHome`` says the user has done so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.ground import quantities
from components.ground.project import PROJECT
from components.ground.settings import WorkloadSettings

# The last outputs compare() reads: none of them is secret.
COMPARED_KEYS = ("homeClaim", "namespace", "homeSize", "packages")


@dataclass(frozen=True)
class Verdict:
    errors: list[str] = field(default_factory=list)
    """Changes refused: each names the key and the way out."""
    warnings: list[str] = field(default_factory=list)
    """Changes that go ahead but cost the user something (a restart)."""


def compare(previous: Mapping[str, Any], settings: WorkloadSettings) -> Verdict:
    """What the new settings would do to what the last `pulumi up` left."""
    verdict = Verdict()
    if not previous.get("homeClaim"):
        return verdict  # never deployed, or no home yet: nothing to lose
    old_namespace = previous.get("namespace")
    if old_namespace and old_namespace != settings.namespace and not settings.replace_home:
        verdict.errors.append(
            f"{PROJECT}:namespace: changing it from {old_namespace!r} to {settings.namespace!r} would replace the "
            "home volume and delete every file in it. Copy the files out first "
            f"(kubectl -n {old_namespace} cp <pod>:<home> ./home-backup), then run make up once after "
            f'`make config STACK={settings.stack} SET="replaceHome=true"` (and set it back to false); '
            "or keep the old namespace"
        )
    old_size = previous.get("homeSize")
    if old_size:
        try:
            shrinks = quantities.memory_bytes(settings.home_size) < quantities.memory_bytes(str(old_size))
        except ValueError:
            shrinks = False
        if shrinks:
            verdict.errors.append(
                f"{PROJECT}:homeSize: {settings.home_size} is smaller than the current {old_size}; "
                "Kubernetes volumes grow but never shrink. Keep it at least "
                f"{old_size}"
            )
    old_packages = previous.get("packages")
    if old_packages is not None and list(old_packages) != list(settings.packages):
        verdict.warnings.append(
            f"{PROJECT}:packages changed: the {'notebook' if settings.engine == 'dask' else 'RStudio'} pod restarts "
            "to install them (its init container is part of the pod). Files in the home volume stay; unsaved "
            "work and running sessions are lost. Workers restart too."
        )
    return verdict


def guard(settings: WorkloadSettings, value: pulumi.Input[str]) -> pulumi.Output[str]:
    """``value``, once the last outputs allow the new settings; a refusal fails the program.

    The namespace's name goes through here, so no Kubernetes object is
    registered (not even in preview) before the check has passed.
    """
    reference = pulumi.StackReference(
        "kubepar-previous", f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    )
    # Key by key, never the whole map: the map holds the secret password, so
    # it is secret as a whole, and a secret input would make ``value`` (the
    # namespace, and every output named after it) secret too.
    last = {key: reference.get_output(key) for key in COMPARED_KEYS}

    def check(args: list[Any]) -> str:
        *values, resolved = args
        outputs = {key: item for key, item in zip(COMPARED_KEYS, values, strict=True) if item is not None}
        verdict = compare(outputs, settings)
        for warning in verdict.warnings:
            pulumi.log.warn(warning)
        if verdict.errors:
            raise pulumi.RunError("invalid stack configuration, nothing was changed:\n  " + "\n  ".join(verdict.errors))
        return str(resolved)

    return pulumi.Output.all(*last.values(), value).apply(check)
