"""The R engine's queue backend (``rBackend: redis``): RStudio queues foreach tasks, workers take them.

Owns: the Valkey queue role (its image, config, claim and password files),
the session and workers as queue clients (doRedis on redux, which links
hiredis), and their traffic. Does not: build the session and worker roles
it starts from (r.py passes them in), or own the password Secret and the
claim (k8s/queue.py).
Invariant: only the session and the workers reach the queue, always with
its password; the queue reaches nothing.
"""

from __future__ import annotations

from dataclasses import replace

from components.engines.model import (
    NON_ROOT_UID,
    QUEUE_AUTH_DIR,
    SCRIPTS_DIR,
    Access,
    Claim,
    Disruption,
    Edge,
    Engine,
    Exposure,
    PodRole,
    Probe,
    Security,
    Storage,
    endpoint_host,
    files,
)
from components.engines.r_language import R_QUEUE_PACKAGES, R_QUEUE_SYSTEM_LIBRARIES, r_installer
from components.ground import quantities
from components.ground.settings import WorkloadSettings

QUEUE_SERVICE = "kubepar-queue"
QUEUE_PORT = 6379
QUEUE_NAME = "kubepar"
# Valkey, not Redis: BSD-licensed (Redis 7.4+ is not open source under the
# OSI definition), maintained under the Linux Foundation, protocol- and
# config-compatible with the Redis 7.2 doRedis was built on; the project's
# own image. The queue holds tasks and results, not data: small and fixed.
QUEUE_IMAGE = "valkey/valkey:8.1.8"
QUEUE_CPU = "500m"
QUEUE_DATA_DIR = "/data"
QUEUE_MEMORY = "1Gi"


def queue_host(settings: WorkloadSettings) -> str:
    return endpoint_host(settings, QUEUE_SERVICE)


def queue_role() -> PodRole:
    """Valkey with an append-only file on its own claim, and the password from the Secret's files."""
    return PodRole(
        component="queue",
        image=QUEUE_IMAGE,
        # The config (port, append-only file, no eviction), then the claim, the
        # password (a file of the Secret) and room for Valkey's own overhead.
        command=(
            "valkey-server",
            f"{SCRIPTS_DIR}/valkey.conf",
            "--dir",
            QUEUE_DATA_DIR,
            "--include",
            f"{QUEUE_AUTH_DIR}/auth.conf",
            "--maxmemory",
            str(quantities.memory_bytes(QUEUE_MEMORY) * 3 // 4),
        ),
        cpu=QUEUE_CPU,
        memory=QUEUE_MEMORY,
        probe=Probe(
            port=QUEUE_PORT,
            liveness=False,
            why=(
                "Valkey is PID 1 and answers from one thread: a long command blocks it for seconds, and a restart "
                "drops every worker's connection; if it dies, the container ends and restarts"
            ),
        ),
        security=Security(fs_group=NON_ROOT_UID),
        storage=Storage(claim=Claim(name="queue", path=QUEUE_DATA_DIR), queue_auth=True),
        disruption=Disruption(
            why=(
                "a restart loses no task (the append-only file on its claim) but interrupts every worker and the "
                "session for a moment: the autoscaler leaves it put; no budget, so a drain moves it at once"
            ),
            safe_to_evict=False,
        ),
        exposure=Exposure(
            ports=(("redis", QUEUE_PORT),),
            endpoint_port=QUEUE_PORT,
            endpoint_service=QUEUE_SERVICE,
            internet="none",
        ),
    )


def build(
    settings: WorkloadSettings, session: PodRole, worker: PodRole, outputs: tuple[tuple[str, str | int], ...]
) -> Engine:
    queue_env = (
        ("KUBEPAR_R_BACKEND", "redis"),
        ("KUBEPAR_QUEUE_HOST", queue_host(settings)),
        ("KUBEPAR_QUEUE_PORT", str(QUEUE_PORT)),
        ("KUBEPAR_QUEUE", QUEUE_NAME),
        ("KUBEPAR_QUEUE_PASSWORD_FILE", f"{QUEUE_AUTH_DIR}/password"),
    )
    user_port = session.exposure.user_port
    assert user_port is not None, "the R session has a user port"
    installer = r_installer(
        settings, (*R_QUEUE_PACKAGES, *settings.packages), system_libraries=R_QUEUE_SYSTEM_LIBRARIES
    )
    queue_session = replace(
        session,
        env=(*session.env, *queue_env),
        installer=installer,
        storage=replace(session.storage, queue_auth=True),
        # No PSOCK port: workers take tasks from the queue, not from the session.
        exposure=replace(session.exposure, ports=(("http", user_port),), endpoint_port=None),
    )
    queue_worker = replace(
        worker,
        command=("sh", f"{SCRIPTS_DIR}/kubepar-queue-worker.sh"),
        env=queue_env,
        # The pod name names the worker's connection, so kubepar_status() can count workers.
        field_env=(("KUBEPAR_WORKER_NAME", "metadata.name"),),
        installer=installer,
        storage=replace(worker.storage, queue_auth=True),
        disruption=replace(
            worker.disruption,
            why=(
                "a lost queue worker costs its one task, which the session resubmits after doRedis's fault-tolerance "
                "interval; the loop goes on: the autoscaler may move it, and no budget holds a drain"
            ),
            safe_to_evict=True,
        ),
        exposure=replace(worker.exposure, internet="web"),
    )
    return Engine(
        name="r",
        roles=(queue_session, queue_worker, queue_role()),
        files={
            **files("r", ("kubepar.R", "install-packages.R", "install-libraries.sh")),
            **files("r", ("kubepar-queue-worker.sh", "kubepar-queue-worker.R")),
            **files("queue", ("valkey.conf",)),
        },
        edges=(
            Edge(client="scheduler", server="queue", port=QUEUE_PORT),
            Edge(client="worker", server="queue", port=QUEUE_PORT),
        ),
        access=(Access(component="scheduler", port=user_port),),
        outputs=outputs,
    )
