"""Workload rules: the same container and pod rules for every kind that runs a pod.

Owns: Pod, ReplicationController, ReplicaSet, Deployment, StatefulSet,
DaemonSet, Job and CronJob, any API version and their Patch variants, and
every container in them (init and ephemeral too): limits, pinned images,
hardening, host access, root, ServiceAccount tokens; plus the objects whose
contents the pack cannot see (Helm releases rendered server-side).

The one exception to non-root is explicit: a component label and an image
repository together (config ``rootAllowed``), never a label alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from components.ground.rocker import ROCKER_INIT_CAPABILITIES

from .common import (
    COMPONENT_LABEL,
    containers,
    describe,
    image_repository,
    is_kind,
    rule,
    string_list,
    workloads,
)
from .disruption import POLICIES as DISRUPTION_POLICIES

# Pod Security "restricted" allows this one capability to be added by anybody.
ALWAYS_ALLOWED_CAPABILITIES = ("NET_BIND_SERVICE",)
# The documented root exception: rocker/rstudio's s6 init starts as root, sets
# up the rstudio user and drops to it, with exactly the capabilities rocker needs.
ROOT_ALLOWED_DEFAULT = [
    {"component": "scheduler", "image": "rocker/rstudio", "capabilities": list(ROCKER_INIT_CAPABILITIES)}
]
TOKEN_ANNOTATION = "kubepar.dev/api-token"
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
# SELinux types a container may use (what Pod Security "baseline" allows); spc_t is unconfined.
SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t")
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
LEGACY_TOKEN_TYPE = "kubernetes.io/service-account-token"


def _exemption(
    args: ResourceValidationArgs, meta: Mapping[str, Any], container: Mapping[str, Any], init: bool
) -> Mapping[str, Any] | None:
    """The rootAllowed entry this main container matches exactly (component and image), if any."""
    if init:
        return None
    component = (meta.get("labels") or {}).get(COMPONENT_LABEL)
    repository = image_repository(str(container.get("image") or ""))
    for entry in args.get_config().get("rootAllowed") or []:
        if entry.get("component") == component and entry.get("image") == repository:
            return entry
    return None


def _init_names(spec: Mapping[str, Any]) -> set[str]:
    return {str(c.get("name")) for c in spec.get("initContainers") or []}


def _where(args: ResourceValidationArgs, container: Mapping[str, Any]) -> str:
    return f"{describe(args)} container '{container.get('name')}'"


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _resources(args: ResourceValidationArgs, report: ReportViolation, _meta: Any, spec: Mapping[str, Any]) -> None:
    # Ephemeral debug containers cannot set resources; every other one must.
    for container in containers(spec, ephemeral=False):
        resources = container.get("resources") or {}
        for section in ("requests", "limits"):
            missing = [k for k in ("cpu", "memory", "ephemeral-storage") if k not in (resources.get(section) or {})]
            if missing:
                report(
                    f"{_where(args, container)} has no {section} for {_listed(missing)}. "
                    "Set both requests and limits (kubepar sets them equal): without its disk, a container "
                    "that fills the node's disk gets its neighbours evicted too.",
                    None,
                )


# Tags that move to new builds by design, as a whole tag or one of its parts
# (latest-py3.11, nightly-2026): a pinned tag names a release.
MOVING_TAG_WORDS = frozenset(
    {
        "latest", "devel", "dev", "develop", "nightly", "main", "master", "stable", "edge", "head",
        "trunk", "rolling", "current", "canary", "testing", "unstable", "snapshot", "next", "pr",
    }
)  # fmt: skip
# A tag that starts with a version of one or two numbers is a version line, not a release:
# rocker's `4` and `4.6` move to every 4.x.y and 4.6.y build. A single long number is a date stamp.
VERSION_LINE = re.compile(r"v?(\d+(?:\.\d+)?)(?:$|[-_+])", re.IGNORECASE)
DATE_STAMP_DIGITS = 8


def moving_tag(tag: str) -> str | None:
    """Why a tag does not name a release, or None when it does."""
    if not tag:
        return "has no tag"
    words = [word for word in re.split(r"[-._]", tag.lower()) if word]
    moving = [word for word in words if word in MOVING_TAG_WORDS]
    if moving:
        return f"has the moving tag '{tag}'"
    if not any(character.isdigit() for character in tag):
        return f"has the tag '{tag}', which names no version"
    line = VERSION_LINE.match(tag)
    if line and not ("." not in line.group(1) and len(line.group(1)) >= DATE_STAMP_DIGITS):
        return f"has the tag '{tag}', a version line that moves to each {line.group(1)}.x release"
    return None


def _pinned_image(args: ResourceValidationArgs, report: ReportViolation, _meta: Any, spec: Mapping[str, Any]) -> None:
    for container in containers(spec):
        image = str(container.get("image") or "")
        if "@sha256:" in image:
            continue
        last = image.rsplit("/", 1)[-1]
        problem = moving_tag(last.split(":", 1)[1] if ":" in last else "")
        if problem:
            report(
                f"{_where(args, container)} uses image '{image}' without a fixed tag (it {problem}, which moves "
                "to new builds). "
                "Pin a release (rocker/r-ver:4.6.1), never :latest, :devel or :nightly.",
                None,
            )


def _capabilities(names: Any) -> set[str]:
    return {str(name).upper().removeprefix("CAP_") for name in names or []}


def _hardened(
    args: ResourceValidationArgs, report: ReportViolation, meta: Mapping[str, Any], spec: Mapping[str, Any]
) -> None:
    pod_context = spec.get("securityContext") or {}
    annotations = meta.get("annotations") or {}
    init = _init_names(spec)
    for container in containers(spec):
        where = _where(args, container)
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            report(f"{where} is privileged. Remove privileged: true.", None)
        if context.get("allowPrivilegeEscalation") is not False:
            report(f"{where} may escalate privileges. Set allowPrivilegeEscalation: false.", None)
        seccomp = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if seccomp != "RuntimeDefault":
            report(f"{where} has seccomp '{seccomp or 'unset'}'. Set seccompProfile.type: RuntimeDefault.", None)
        apparmor = (context.get("appArmorProfile") or pod_context.get("appArmorProfile") or {}).get("type")
        legacy = str(annotations.get(f"{APPARMOR_ANNOTATION}{container.get('name')}") or "")
        if apparmor == "Unconfined" or legacy == "unconfined":
            report(f"{where} runs without AppArmor. Remove the Unconfined profile.", None)
        if context.get("procMount") == "Unmasked":
            report(f"{where} unmasks /proc. Remove procMount: Unmasked.", None)
        selinux = str((context.get("seLinuxOptions") or pod_context.get("seLinuxOptions") or {}).get("type") or "")
        if selinux not in SELINUX_TYPES:
            report(f"{where} uses SELinux type '{selinux}'. Remove seLinuxOptions.type.", None)
        capabilities = context.get("capabilities") or {}
        if "ALL" not in _capabilities(capabilities.get("drop")):
            report(f"{where} keeps the default capabilities. Drop ALL and add back only what it needs.", None)
        # Dropping ALL does not excuse adding one back: only the allow-list may.
        exemption = _exemption(args, meta, container, str(container.get("name")) in init)
        allowed = {*ALWAYS_ALLOWED_CAPABILITIES, *_capabilities((exemption or {}).get("capabilities"))}
        added = sorted(_capabilities(capabilities.get("add")) - allowed)
        if added:
            report(
                f"{where} adds capabilities {', '.join(added)} beyond its allow-list. Remove them "
                "(only a rootAllowed component and image may add the ones listed for it).",
                None,
            )


def _host_access(args: ResourceValidationArgs, report: ReportViolation, _meta: Any, spec: Mapping[str, Any]) -> None:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            report(f"{describe(args)} sets {field}: it shares the node's namespaces. Remove it.", None)
    if ((spec.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess"):
        report(f"{describe(args)} runs as a Windows host process. Remove hostProcess.", None)
    for volume in spec.get("volumes") or []:
        if volume.get("hostPath") is not None:
            report(
                f"{describe(args)} mounts the node's {volume['hostPath'].get('path')} (volume '{volume.get('name')}'). "
                "Use an emptyDir or a PersistentVolumeClaim.",
                None,
            )
    for container in containers(spec):
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                report(f"{_where(args, container)} binds host port {port['hostPort']}. Remove hostPort.", None)
        if ((container.get("securityContext") or {}).get("windowsOptions") or {}).get("hostProcess"):
            report(f"{_where(args, container)} runs as a Windows host process. Remove hostProcess.", None)


def _host_volumes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A PersistentVolume that is a node's own folder or disk: the node's filesystem by another door."""
    if not is_kind(args.resource_type, "PersistentVolume", group="core"):
        return
    spec = (args.props or {}).get("spec") or {}
    for source in ("hostPath", "local"):
        if spec.get(source) is not None:
            report(
                f"{describe(args)} is a {source} volume on the node's {spec[source].get('path')}: any pod that "
                "claims it reads and writes the node's filesystem. Use a StorageClass's dynamic volumes.",
                None,
            )


def _non_root(
    args: ResourceValidationArgs, report: ReportViolation, meta: Mapping[str, Any], spec: Mapping[str, Any]
) -> None:
    pod_context = spec.get("securityContext") or {}
    init = _init_names(spec)
    for container in containers(spec):
        if _exemption(args, meta, container, str(container.get("name")) in init) is not None:
            continue
        context = {**pod_context, **(container.get("securityContext") or {})}
        if context.get("runAsNonRoot") is not True or context.get("runAsUser") == 0:
            report(
                f"{_where(args, container)} may run as root. Set runAsNonRoot: true and a non-zero runAsUser "
                "(root is allowed only for the exact component and image in rootAllowed).",
                None,
            )


def _token_objects(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props or {}
    if is_kind(args.resource_type, "ServiceAccount", group="core"):
        if props.get("automountServiceAccountToken") is not False:
            report(f"{describe(args)} mounts its token into every pod. Set automountServiceAccountToken: false.", None)
    elif is_kind(args.resource_type, "Secret", group="core") and props.get("type") == LEGACY_TOKEN_TYPE:
        report(
            f"{describe(args)} is a legacy ServiceAccount token Secret: a credential that never expires. "
            "Remove it (a pod that really calls the API gets a projected, expiring token).",
            None,
        )


def _token_in_pod(
    args: ResourceValidationArgs, report: ReportViolation, meta: Mapping[str, Any], spec: Mapping[str, Any]
) -> None:
    if (meta.get("annotations") or {}).get(TOKEN_ANNOTATION) == "true":
        return
    fix = f"or annotate the pod {TOKEN_ANNOTATION}: 'true' if it really calls the API."
    if spec.get("automountServiceAccountToken") is not False:
        report(f"{describe(args)} mounts a ServiceAccount token. Set automountServiceAccountToken: false, {fix}", None)
    for volume in spec.get("volumes") or []:
        sources = (volume.get("projected") or {}).get("sources") or []
        if any(source.get("serviceAccountToken") is not None for source in sources):
            report(
                f"{describe(args)} projects a ServiceAccount token (volume '{volume.get('name')}'). Remove it, {fix}",
                None,
            )


def _helm_release(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != HELM_RELEASE:
        return
    allowed = args.get_config().get("allowedHelmReleases") or []
    # The release's own name (props.name), as for RBAC: a logical name is not what lands in the cluster.
    name = (args.props or {}).get("name")
    if name is None or name not in allowed:
        report(
            f"Helm release '{name or args.name}' creates its objects inside the cluster, "
            "where this pack cannot check them. "
            "Use kubernetes.helm.v4.Chart (its objects are checked like any other), "
            "or add the release to allowedHelmReleases after reviewing the chart.",
            None,
        )


POLICIES: list[ResourceValidationPolicy] = [
    rule(
        "container-resources",
        "Every container sets CPU, memory and ephemeral storage requests and limits.",
        workloads(_resources),
    ),
    rule(
        "pinned-image-tag",
        "Every image has a digest or a tag that names a release: never :latest, :devel, :nightly, :main "
        "or another moving tag, whole or in part.",
        workloads(_pinned_image),
    ),
    rule(
        "container-hardening",
        "Containers are unprivileged, cannot escalate, keep seccomp, AppArmor, SELinux and /proc masking, "
        "drop ALL capabilities and add none beyond their allow-list.",
        workloads(_hardened),
        config={"rootAllowed": {"type": "array", "items": {"type": "object"}, "default": ROOT_ALLOWED_DEFAULT}},
    ),
    rule(
        "no-host-access",
        "No hostNetwork, hostPID, hostIPC, hostPath volume, hostPort or Windows host process, "
        "and no PersistentVolume that is a node's own path (hostPath or local).",
        [workloads(_host_access), _host_volumes],
    ),
    rule(
        "non-root",
        "Containers run as non-root, except a main container whose component label and image repository "
        "both match a rootAllowed entry (rocker/rstudio as the RStudio scheduler).",
        workloads(_non_root),
        config={"rootAllowed": {"type": "array", "items": {"type": "object"}, "default": ROOT_ALLOWED_DEFAULT}},
    ),
    rule(
        "service-account-token-not-mounted",
        "No ServiceAccount token reaches a pod (automount, projected volume, or legacy token Secret) "
        f"unless the pod opts in with {TOKEN_ANNOTATION}.",
        [_token_objects, workloads(_token_in_pod)],
    ),
    *DISRUPTION_POLICIES,
    rule(
        "no-helm-release",
        "No helm.v3.Release: its objects are created server-side, out of this pack's sight.",
        _helm_release,
        config={"allowedHelmReleases": string_list([])},
    ),
]
