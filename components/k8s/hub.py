"""HubGround: what the hub needs around it: the users' namespace, its one Role, its quota and its doors.

Owns: the users' namespace (Pod Security labels, a ServiceAccount with no
rights and no token, default-deny and DNS policies, the doors between the
hub's pods and the sessions, the sessions' and workers' internet egress),
its ResourceQuota, the Role the hub uses there and its binding to the hub's
ServiceAccount, the users' scripts ConfigMap, the hub's database claim and
the hub's Secret (cookie secret, crypt key, proxy token: derived from one
seed, generated once). Does not: run the hub (the hub engine's roles do,
through Workload), or create anyone's session (the hub does, at runtime).
Invariant: in the users' namespace nothing but a user's own pods reach that
user's pods (their own policy comes with each session); the hub's Role is
exactly ground/hub_rights.py's, bound to the hub alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.engines.hub import HUB_SETTINGS
from components.engines.hub_users import SESSION, SINGLEUSER_PORT, USER_ACCOUNT, USER_SCRIPTS, users_namespace
from components.engines.model import Engine, PodRole, files
from components.ground.hub_rights import HUB_ROLE_NAME, role_rules
from components.ground.settings import Settings, WorkloadSettings
from components.k8s.hub_pods import hub_settings, hub_worker_roles
from components.k8s.labels import labels, namespace_labels, object_meta, selector
from components.k8s.namespace import isolate
from components.k8s.network_policies import internet_egress, internet_rule

QUOTA = "kubepar-users"


@dataclass(frozen=True, kw_only=True)
class HubGroundArgs:
    stack: str
    hub_namespace: pulumi.Input[str]
    users_namespace: str
    hub_account: pulumi.Input[str]
    """The hub's ServiceAccount (in the hub's namespace): the Role's one subject."""
    files: dict[str, str]
    """The users' scripts, by file name."""
    quota: dict[str, str]
    """The users' ResourceQuota ``hard`` limits (from the pools' ceilings)."""
    seed: pulumi.Input[str]
    """A secret the hub's keys are derived from (hubSecretSeed, or generated once)."""
    oauth: dict[str, pulumi.Input[str]]
    """The OAuth client id and secret, by Secret key, when an OAuth authenticator is chosen."""
    db_size: str
    settings_file: dict[str, object]
    """The hub's settings (hub.json)."""
    worker_roles: tuple[PodRole, ...]
    """The users' non-session pods (workers, Dask schedulers), for their internet egress."""
    api_server_cidrs: pulumi.Input[list[str]] | None = None
    protect: bool = False


def derive(seed: str, purpose: str) -> str:
    """32 bytes as hex, derived from the seed for one purpose: the seed alone is stored."""
    return hmac.new(seed.encode(), purpose.encode(), hashlib.sha256).hexdigest()


class HubGround(pulumi.ComponentResource):
    secret: pulumi.Output[str]
    """Name of the hub's Secret."""
    db_claim: pulumi.Output[str]
    files: dict[str, str]
    """Files for the hub's scripts ConfigMap, beside the engine's: the settings its config reads."""

    def __init__(self, name: str, args: HubGroundArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:HubGround", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stack, users = args.stack, args.users_namespace
        meta_labels = namespace_labels(stack)

        namespace = k8s.core.v1.Namespace(
            f"{name}-users",
            metadata={
                "name": users,
                "labels": {
                    **meta_labels,
                    # Baseline: rocker's RStudio init starts as root (docs/security.md).
                    "pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/warn": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                },
            },
            # Deleting it deletes every user's home claim: deletionProtection keeps it.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        in_users = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        k8s.core.v1.ServiceAccount(
            f"{name}-user-account",
            # The users' pods run as this account: no Role names it, no token is mounted.
            metadata=object_meta(users, labels(stack, SESSION), name=USER_ACCOUNT),
            automount_service_account_token=False,
            opts=in_users,
        )
        k8s.core.v1.ConfigMap(
            f"{name}-user-scripts",
            metadata=object_meta(users, meta_labels, name=USER_SCRIPTS),
            data=args.files,
            opts=in_users,
        )
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=object_meta(users, meta_labels, name=QUOTA),
            spec={"hard": args.quota},
            opts=in_users,
        )

        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=object_meta(users, labels(stack, "hub"), name=HUB_ROLE_NAME),
            rules=cast(list[k8s.rbac.v1.PolicyRuleArgsDict], [_snake(rule) for rule in role_rules()]),
            opts=in_users,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-role-binding",
            metadata=object_meta(users, labels(stack, "hub"), name=HUB_ROLE_NAME),
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": args.hub_account, "namespace": args.hub_namespace}],
            opts=in_users,
        )

        self._users_policies(name, args, in_users)
        self._hub_policies(name, args, child)

        keys = pulumi.Output.from_input(args.seed).apply(
            lambda seed: {purpose: derive(seed, purpose) for purpose in ("cookie-secret", "crypt-key", "proxy-token")}
        )
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=object_meta(args.hub_namespace, labels(stack, "hub")),
            type="Opaque",
            string_data=pulumi.Output.all(keys, args.oauth).apply(lambda both: {**both[0], **both[1]}),
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["data", "stringData"]),
        )
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-db",
            metadata=object_meta(args.hub_namespace, labels(stack, "hub")),
            spec={"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": args.db_size}}},
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.files = {HUB_SETTINGS: json.dumps(args.settings_file, indent=1, sort_keys=True)}
        self.secret = secret.metadata.name
        self.db_claim = claim.metadata.name
        self.register_outputs({"secret": self.secret, "db_claim": self.db_claim})

    def _users_policies(self, name: str, args: HubGroundArgs, opts: pulumi.ResourceOptions) -> None:
        stack, users = args.stack, args.users_namespace
        meta = object_meta(users, namespace_labels(stack))

        def policy(suffix: str, spec: dict[str, Any]) -> None:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{suffix}",
                metadata=meta,
                spec=cast(k8s.networking.v1.NetworkPolicySpecArgsDict, spec),
                opts=opts,
            )

        isolate(f"{name}-users", users, stack, opts)
        hub_pods = {"namespace_selector": _namespace(args.hub_namespace)}
        sessions = {"match_labels": selector(stack, SESSION)}
        policy(
            "sessions-from-hub",
            {
                "pod_selector": sessions,
                "policy_types": ["Ingress"],
                # The proxy forwards users' requests; the hub checks the server answers.
                "ingress": [
                    {
                        "from_": [
                            {**hub_pods, "pod_selector": {"match_labels": selector(stack, component)}}
                            for component in ("hub", "proxy")
                        ],
                        "ports": [{"protocol": "TCP", "port": SINGLEUSER_PORT}],
                    }
                ],
            },
        )
        # The single-user server reports activity to, and checks logins with, the hub.
        to_hub = {**hub_pods, "pod_selector": {"match_labels": selector(stack, "hub")}}
        session_internet = internet_egress("all", args.api_server_cidrs)
        policy(
            "sessions-egress",
            {
                "pod_selector": sessions,
                "policy_types": ["Egress"],
                "egress": [{"to": [to_hub], "ports": [{"protocol": "TCP", "port": 8081}]}, session_internet],
            },
        )
        for role in args.worker_roles:
            rule = internet_rule(role, args.api_server_cidrs)
            if rule is not None:
                policy(
                    f"{role.component}-internet",
                    {
                        "pod_selector": {"match_labels": selector(stack, role.component)},
                        "policy_types": ["Egress"],
                        "egress": [rule],
                    },
                )

    def _hub_policies(self, name: str, args: HubGroundArgs, opts: pulumi.ResourceOptions) -> None:
        """In the hub's namespace: the hub and proxy reach the sessions; the sessions reach the hub."""
        stack = args.stack
        sessions = {
            "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": args.users_namespace}},
            "pod_selector": {"match_labels": selector(stack, SESSION)},
        }
        for component in ("hub", "proxy"):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{component}-to-sessions",
                metadata=object_meta(args.hub_namespace, labels(stack, component)),
                spec=cast(
                    k8s.networking.v1.NetworkPolicySpecArgsDict,
                    {
                        "pod_selector": {"match_labels": selector(stack, component)},
                        "policy_types": ["Egress"],
                        "egress": [{"to": [sessions], "ports": [{"protocol": "TCP", "port": SINGLEUSER_PORT}]}],
                    },
                ),
                opts=opts,
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-hub-from-sessions",
            metadata=object_meta(args.hub_namespace, labels(stack, "hub")),
            spec=cast(
                k8s.networking.v1.NetworkPolicySpecArgsDict,
                {
                    "pod_selector": {"match_labels": selector(stack, "hub")},
                    "policy_types": ["Ingress"],
                    "ingress": [{"from_": [sessions], "ports": [{"protocol": "TCP", "port": 8081}]}],
                },
            ),
            opts=opts,
        )


def _namespace(name: pulumi.Input[str]) -> dict[str, Any]:
    return {"match_labels": {"kubernetes.io/metadata.name": name}}


def _snake(rule: dict[str, list[str]]) -> dict[str, list[str]]:
    return {"api_groups": rule["apiGroups"], "resources": rule["resources"], "verbs": rule["verbs"]}


def user_files(settings: WorkloadSettings) -> dict[str, str]:
    """The users' scripts: the R and Python engines' own, the RStudio door, each profile's worker count."""
    hub = settings.hub
    assert hub is not None
    return {
        **files("r", ("kubepar.R", "kubepar-worker.sh", "install-packages.R")),
        **files("python", ("install-packages.sh", "retire-worker.py")),
        **files("hub", ("rstudio-behind-hub.sh", "jupyter_server_config.py")),
        **{f"workers-{profile.name}": f"{profile.workers}\n" for profile in hub.profiles},
    }


def quota_hard(settings: WorkloadSettings) -> dict[str, str]:
    hub = settings.hub
    assert hub is not None
    cpu, memory = hub.quota
    most_workers = max((profile.workers for profile in hub.profiles), default=0)
    return {
        "requests.cpu": f"{cpu}m",
        "limits.cpu": f"{cpu}m",
        "requests.memory": f"{memory // 1024**2}Mi",
        "limits.memory": f"{memory // 1024**2}Mi",
        # A session, its Dask scheduler and its workers, hubMaxSessions times.
        "pods": str(hub.max_sessions * (2 + most_workers)),
    }


def hub_ground(
    settings: Settings,
    engine: Engine,
    namespace: pulumi.Input[str],
    hub_account: pulumi.Input[str],
    platform: Any,
    claims: dict[str, pulumi.Output[str]],
    opts: pulumi.ResourceOptions,
) -> HubGround:
    """The hub's surroundings for this stack, its seed from hubSecretSeed or generated once;
    adds the hub's database claim to ``claims``."""
    import pulumi_random as random

    workload = settings.workload
    seed = settings.secrets.get("hubSecretSeed")
    if seed is None:
        seed = random.RandomId("hub-seed", byte_length=32).hex
    oauth_keys = {"hubOAuthClientId": "oauth-client-id", "hubOAuthClientSecret": "oauth-client-secret"}
    oauth = {key: settings.secrets[name] for name, key in oauth_keys.items() if name in settings.secrets}
    ground = HubGround(
        "kubepar-hub",
        HubGroundArgs(
            stack=settings.stack,
            hub_namespace=namespace,
            users_namespace=users_namespace(workload),
            hub_account=hub_account,
            files=user_files(workload),
            quota=quota_hard(workload),
            seed=pulumi.Output.secret(seed),
            oauth=oauth,
            db_size=dict(engine.claim_sizes)["hub-db"],
            settings_file=hub_settings(workload),
            worker_roles=hub_worker_roles(workload),
            api_server_cidrs=platform.api_server_cidrs,
            protect=workload.deletion_protection,
        ),
        opts=opts,
    )
    claims["hub-db"] = ground.db_claim
    return ground
