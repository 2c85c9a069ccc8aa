"""Queue: what the task queue of rBackend redis keeps outside its pod.

Owns: the queue's Secret (a generated password, as the clients read it and as
the server's config includes it) and the claim that holds the server's
append-only file, so a restarted server loses no queued task. Does not: run
the server (engines.py declares it as a role; workload.py deploys it like
any other: ClusterIP only, NetworkPolicies admitting the scheduler and the
workers).

Invariant: the password exists only as a Pulumi secret and in this Secret,
mounted as files (never an environment variable or a command argument).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.ground.settings import Settings
from components.k8s.labels import labels, object_meta

# The queue holds tasks and results on their way, not data: a small disk.
QUEUE_CLAIM_SIZE = "5Gi"
PASSWORD_FILE = "password"
AUTH_CONFIG_FILE = "auth.conf"


def auth_config(password: str) -> str:
    """The server's password, as the config file it includes from the Secret."""
    return f"requirepass {password}\n"


@dataclass(frozen=True, kw_only=True)
class QueueArgs:
    namespace: pulumi.Input[str]
    stack: str
    password: pulumi.Input[str] | None = None
    """``queuePassword`` (a Pulumi secret); None to generate one, kept in the stack's state."""


class Queue(pulumi.ComponentResource):
    secret: pulumi.Output[str]
    """Name of the Secret with the password files (``password``, ``auth.conf``)."""
    claim: pulumi.Output[str]
    """Name of the claim the server keeps its append-only file on."""

    def __init__(self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kubepar:k8s:Queue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        meta_labels = labels(args.stack, "queue")
        # doRedis 3.0.2 with a password was tested: tasks longer than the fault
        # tolerance interval are not resubmitted (tests/e2e/test_r_queue.py).
        password = pulumi.Output.secret(
            args.password
            if args.password is not None
            else random.RandomPassword(f"{name}-password", length=32, special=False, opts=child).result
        )
        secret = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=object_meta(args.namespace, meta_labels),
            type="Opaque",
            string_data={
                PASSWORD_FILE: password,
                AUTH_CONFIG_FILE: password.apply(auth_config),
            },
            opts=child,
        )
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-claim",
            metadata=object_meta(args.namespace, meta_labels),
            spec={"access_modes": ["ReadWriteOnce"], "resources": {"requests": {"storage": QUEUE_CLAIM_SIZE}}},
            opts=child,
        )
        self.secret = secret.metadata.name
        self.claim = claim.metadata.name
        self.register_outputs({"secret": self.secret, "claim": self.claim})


def engine_queue(
    engine_claims: tuple[str, ...],
    namespace: pulumi.Input[str],
    settings: Settings,
    claims: dict[str, pulumi.Output[str]],
    opts: pulumi.ResourceOptions,
) -> Queue | None:
    """The queue when the engine's roles mount its claim (rBackend redis); its claim joins ``claims``."""
    if "queue" not in engine_claims:
        return None
    args = QueueArgs(namespace=namespace, stack=settings.stack, password=settings.secrets.get("queuePassword"))
    queue = Queue("kubepar-queue", args, opts=opts)
    claims["queue"] = queue.claim
    return queue
