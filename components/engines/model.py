"""The engine model: what runs in the pods, as plain data the Kubernetes wing turns into objects.

Owns: the shape of an engine (its pod roles, scripts, in-cluster traffic as
edges, stack outputs) and of a role (container, installer, and its security,
storage, disruption and exposure settings, grouped), the paths every pod
shares, and the plug-in record each engine module exports. Does not: create
anything, or know any particular engine.

Invariant: in-cluster traffic is declared once, as edges; the network
policies derive both the client's egress and the server's ingress from them,
so the two ends can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from components.ground import quantities
from components.ground.disk import LOG_BYTES
from components.ground.reader import Reader
from components.ground.settings import WorkloadSettings

WORKLOADS = Path(__file__).resolve().parents[2] / "workloads"
SCRIPTS_DIR = "/etc/kubepar/scripts"
SETTINGS_DIR = "/etc/kubepar/settings"
PACKAGES_DIR = "/opt/kubepar/packages"
SYSTEM_DIR = "/opt/kubepar/system"
QUEUE_AUTH_DIR = "/etc/kubepar/queue-auth"
RESULTS_DIR = "/results"
ENDPOINT_SERVICE = "kubepar-scheduler"
# A high UID that no image or host account uses: the default for non-root containers.
NON_ROOT_UID = 10001
# GKE Spot preemption gives non-system pods about 15 s, whatever the pod asks for.
SPOT_GRACE_SECONDS = 15

# Tags, not digests, on every image: the tag fixes the R or Dask version; rocker
# and dask rebuild a tag for OS security fixes, which new pods then pull
# (imagePullPolicy Always); R packages are fixed by the dated snapshot. A digest
# would freeze an unpatched build, and cannot be looked up without the registry.
IMAGE_TAG_SKIP = (
    "CKV_K8S_43",
    "tags pin the version and are pulled Always for OS fixes; packages are pinned by the snapshot",
)
NO_PROBE_REASON = "serves no port: the dial loop is PID 1, so the container ends and restarts when it dies"
PACKAGES_SIZE = "4Gi"
"""Size limit of the package library an installer fills (a tidyverse-sized R library is about 1Gi)."""
SYSTEM_LIBRARIES_SIZE = "256Mi"
PYTHON_ENV_SIZE = "2Gi"
SESSION_WRITABLE = "4Gi"
"""What a session writes outside its volumes: its image's own folders (pip and conda installs in
JupyterLab; rocker's state, and R's temporary files, which RStudio keeps under the image's /tmp)."""
SECRET_ENV_REASON = "the image reads its login secret only from this environment variable"


@dataclass(frozen=True, kw_only=True)
class Probe:
    """The kubelet's check of a role: startup and readiness always, liveness where a restart helps."""

    port: int
    path: str | None = None
    """HTTP path; None means a TCP connect."""
    liveness: bool
    """Also restart the container when the check keeps failing, over minutes (pods.py): only where a
    restart loses nothing the user holds and can cure a hang the process cannot leave by itself."""
    why: str
    """Why liveness is on or off, shown on the pod (``kubepar.dev/liveness``) and to checkov."""


@dataclass(frozen=True, kw_only=True)
class PythonEnv:
    """A Python interpreter and virtualenv for a role whose image has none (RStudio, for sparklyr),
    made by an init container of the official Python image into a volume mounted at ``path``."""

    image: str
    path: str
    """Mount path in both containers: the interpreter's copy and the virtualenvs under ``envs/``."""
    name: str
    """The virtualenv's name, under ``<path>/envs``."""
    requirements: tuple[str, ...]
    """Pinned requirements installed into it."""


@dataclass(frozen=True, kw_only=True)
class Installer:
    """How a role's extra packages are installed once per pod, in an init container."""

    image: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    """Installer environment (the package list, the target folder)."""
    path_env: tuple[str, str]
    """Variable and value that put the installed packages on the main container's path."""
    system_libraries: tuple[str, ...] = ()
    """System libraries (``hiredis``) fetched by a first init container, without root, from the
    image's own distribution, and found through LD_LIBRARY_PATH."""
    python: PythonEnv | None = None
    """A Python of the pod's own, made by a last init container (sparklyr's client), or None."""
    size: str = PACKAGES_SIZE
    """Size limit of the library it fills."""


@dataclass(frozen=True, kw_only=True)
class Security:
    """Who the container runs as."""

    root_init: bool = False
    """The documented exception: an image whose init must start as root (rocker/rstudio)."""
    run_as_user: int = NON_ROOT_UID
    """UID for non-root roles."""
    fs_group: int | None = None
    """Group that owns mounted volumes (the home volume's user group)."""
    read_only_root: bool = True
    gcp_account: str | None = None
    """The Google service account the role's pods act as through Workload Identity (the HTTPS front,
    for Cloud DNS); its Kubernetes ServiceAccount then has a fixed name and the GKE annotation."""
    api_access: bool = False
    """Mount the ServiceAccount's token: the one pod that calls the Kubernetes API (the hub, whose
    Role is namespaced to the users' namespace). Every other pod runs without a token."""


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A PersistentVolumeClaim the role mounts; its pods then roll out by Recreate (ReadWriteOnce)."""

    name: str
    """Which of the stack's claims: ``home`` (the user's files) or ``queue`` (the queue's append-only file)."""
    path: str
    """Mount path."""
    size: str | None = None
    """The role's own claim, created with its Workload (the HTTPS front's certificates); None: the
    stack's claim of that name, created apart (the home outlives an engine change)."""


@dataclass(frozen=True, kw_only=True)
class Storage:
    """What the role mounts besides the engine's scripts."""

    claim: Claim | None = None
    tmp_size: str = "2Gi"
    """Size limit of the /tmp scratch volume."""
    writable: str = "0"
    """Node disk the container may write outside its volumes (its writable root layer); roles with a
    read-only root write nothing there."""
    live_settings: bool = False
    """Mount the live settings ConfigMap (worker count) at SETTINGS_DIR."""
    queue_auth: bool = False
    """Mount the queue's password files at QUEUE_AUTH_DIR (server and clients)."""
    results: bool = False
    """Mount the sweeps' results store read-only at RESULTS_DIR, as the session does (Spark's driver
    and workers, so that ``spark.read`` finds the files R and Python see)."""


@dataclass(frozen=True, kw_only=True)
class Disruption:
    """How the role's pods stop, and who may stop them."""

    why: str
    """What a voluntary eviction (drain, upgrade, scale-down) costs this role, and so why the budget and
    the autoscaler's annotation are what they are; shown on the pod (``kubepar.dev/disruption``)."""
    grace_seconds: int = 30
    await_rollout: bool = True
    """False: `pulumi up` does not wait for these pods (workers may wait for autoscaled nodes)."""
    safe_to_evict: bool = True
    """False: the cluster autoscaler never evicts these pods to consolidate nodes (they hold work)."""
    budget: bool = False
    """A PodDisruptionBudget that admits no voluntary eviction: a node drain waits for it
    (GKE waits up to an hour, inside the maintenance window)."""


@dataclass(frozen=True, kw_only=True)
class Exposure:
    """The role's ports and who outside the engine reaches them."""

    ports: tuple[tuple[str, int], ...] = ()
    """Container ports by name."""
    user_port: int | None = None
    """Port users reach: LoadBalancer limited to allowedSourceRanges, or ClusterIP."""
    endpoint_port: int | None = None
    """Port clients dial through the fixed-name Service ``endpoint_service``."""
    endpoint_service: str = ENDPOINT_SERVICE
    internet: str = "https"
    """Egress to public addresses: ``none``, ``https`` (package repositories, object stores), ``web``
    (HTTP too: the Ubuntu archive the system library installer reads) or ``all``."""
    api_server: bool = False
    """Egress to the Kubernetes API server (the hub, which starts the users' pods)."""
    service_port: int | None = None
    """The user-facing Service's own port, when it differs from ``user_port`` (HTTPS on 443, served by a
    non-root container on 8443)."""
    endpoint_extra_ports: tuple[int, ...] = ()
    """More ports on the fixed-name endpoint Service (the hub's proxy: its API and its public port)."""
    static_address: bool = False
    """The LoadBalancer takes the platform's reserved address (the one hubDomain's A record names)."""
    metadata_server: bool = False
    """Egress to the GKE metadata server for the pod's Workload Identity token (the HTTPS front, which
    answers Let's Encrypt's DNS challenge in Cloud DNS)."""


@dataclass(frozen=True, kw_only=True)
class PodRole:
    """One kind of pod: its container, its installer, and the settings of each concern."""

    component: str
    """``app.kubernetes.io/component`` label and logical-name prefix."""
    image: str
    command: tuple[str, ...] = ()
    """Empty: the image's own entrypoint."""
    env: tuple[tuple[str, str], ...] = ()
    field_env: tuple[tuple[str, str], ...] = ()
    """Variables from the pod's own fields (downward API): (name, fieldPath)."""
    pre_stop: tuple[str, ...] = ()
    """Command run before SIGTERM (graceful hand-over), or nothing."""
    cpu: str
    memory: str
    blas_threads: str = "1"
    """OMP/OpenBLAS/MKL threads: OpenBLAS otherwise sizes itself from the host's cores."""
    probe: Probe | None = None
    unprobed: str = ""
    """Why the role has no probe at all (it serves no port): required when ``probe`` is None."""
    replicas: int = 1
    pool: str = "system"
    """kubepar node pool (``system`` on-demand, ``workers`` tainted)."""
    session: bool = False
    """The user's own session: it gets the login (``password_env``), the user port's stack
    outputs and read access to the sweep results."""
    password_env: str | None = None
    """Variable that receives the stack's password (from a Secret); sessions only."""
    secret_env: tuple[tuple[str, str], ...] = ()
    """(variable, key) pairs filled from the engine's own Secret (the hub's: components/k8s/hub.py)."""
    installer: Installer | None = None
    """Extra packages for this role's pods, or None."""
    security: Security = field(default_factory=Security)
    storage: Storage = field(default_factory=Storage)
    disruption: Disruption
    exposure: Exposure = field(default_factory=Exposure)
    checkov_skips: tuple[tuple[str, str], ...] = ()
    """(check id, reason) that checkov skips on this role's workload only, besides IMAGE_TAG_SKIP and the
    probe skips that ``probe`` and ``unprobed`` give."""

    def __post_init__(self) -> None:
        if self.probe is None and not self.unprobed:
            raise ValueError(f"role {self.component}: no probe, and no reason why (unprobed)")
        if not self.security.read_only_root and self.storage.writable == "0":
            raise ValueError(f"role {self.component}: a writable root needs its disk (storage.writable)")


@dataclass(frozen=True, kw_only=True)
class Edge:
    """One in-cluster connection: ``client`` pods dial ``server`` pods on ``port`` (None: any port)."""

    client: str
    server: str
    port: int | None


@dataclass(frozen=True, kw_only=True)
class Access:
    """A user-facing port as stack outputs: ``<prefix>Url`` and ``<prefix>PortForward``."""

    component: str
    port: int
    prefix: str = ""
    """Empty for the session (``url``, ``portForward``); ``dashboard`` for ``dashboardUrl``..."""
    url: str | None = None
    """The public address, when it is a name rather than the LoadBalancer's IP (the HTTPS door)."""
    forward_only: bool = False
    """No Service at all: only ``kubectl port-forward`` to the role's pods reaches it (Spark's UIs)."""


@dataclass(frozen=True, kw_only=True)
class Engine:
    name: str
    roles: tuple[PodRole, ...]
    files: dict[str, str] = field(default_factory=dict)
    """Scripts mounted into every pod at SCRIPTS_DIR (the ``scripts`` ConfigMap)."""
    edges: tuple[Edge, ...] = ()
    """Every in-cluster connection between the roles, in the order their rules are written."""
    access: tuple[Access, ...] = ()
    """User-facing ports reported as stack outputs; the first is the session's."""
    outputs: tuple[tuple[str, str | int], ...] = ()
    """Plain stack outputs of the engine (its version, its login user)."""
    claim_sizes: tuple[tuple[str, str], ...] = ()
    """Claims of the engine's own besides ``home`` and ``queue``, with their sizes (the hub's database)."""
    sessions_spawned: bool = False
    """The users' sessions are started later, by the hub, not declared as a role."""

    @property
    def session(self) -> PodRole | None:
        """The one role that is the user's session; None when the hub spawns sessions."""
        sessions = [role for role in self.roles if role.session]
        if len(sessions) != (0 if self.sessions_spawned else 1):
            raise ValueError(f"engine {self.name} has {len(sessions)} session roles; it needs exactly one")
        return sessions[0] if sessions else None

    @property
    def workload_identity(self) -> dict[str, str]:
        """Component -> the Google service account its pods act as (Workload Identity)."""
        return {role.component: role.security.gcp_account for role in self.roles if role.security.gcp_account}

    @property
    def needs_password(self) -> bool:
        """Whether a role logs in with the stack's password (the hub's users have their own)."""
        return any(role.password_env for role in self.roles)

    @property
    def claims(self) -> tuple[str, ...]:
        """Names of the claims the roles mount (``home``, ``queue``)."""
        return tuple(role.storage.claim.name for role in self.roles if role.storage.claim is not None)


@dataclass(frozen=True, kw_only=True)
class EnginePlugin:
    """What an engine module exports as ``PLUGIN``; the registry finds it there."""

    name: str
    """The ``engine`` key's value that selects it."""
    build: Callable[[WorkloadSettings], Engine]
    max_workers: int
    workers_fix: str
    """The fix named when ``workers`` is over ``max_workers``."""
    packages: Callable[[Reader, list[str]], list[str]]
    """Checks the ``packages`` entries (recording problems) and returns those to install."""
    options: Callable[[Reader], dict[str, str]] = lambda read: {}
    """Reads the engine's own keys (only when it is selected) into ``WorkloadSettings.options``."""
    own_keys: tuple[str, ...] = ()
    """Keys only this engine reads: any other engine refuses them at a non-default value."""
    check: Callable[[Reader], None] = lambda read: None
    """Checks of the engine's limits on keys of every engine (whole CPUs for Dask threads), run
    before anything is built on those keys."""


def files(folder: str, names: tuple[str, ...]) -> dict[str, str]:
    """Scripts from ``workloads/<folder>/``, by name."""
    return {name: (WORKLOADS / folder / name).read_text() for name in names}


def endpoint_host(settings: WorkloadSettings, service: str = ENDPOINT_SERVICE) -> str:
    return f"{service}.{settings.namespace}.svc.cluster.local"


def scratch_volumes(role: PodRole) -> dict[str, str]:
    """The role's emptyDir volumes by what they hold (``tmp``, ``packages``, ``system``, ``python``), with
    their size limits: node disk its pods fill, which the kubelet evicts the pod for exceeding."""
    sizes: dict[str, str] = {}
    installer = role.installer
    # rocker's image keeps its own /tmp (R's temporary files): counted in its writable disk.
    if not role.security.root_init or installer is not None:
        sizes["tmp"] = role.storage.tmp_size
    if installer is not None:
        sizes["packages"] = installer.size
        if installer.system_libraries:
            sizes["system"] = SYSTEM_LIBRARIES_SIZE
        if installer.python is not None:
            sizes["python"] = PYTHON_ENV_SIZE
    return sizes


def container_disks(role: PodRole) -> dict[str, int]:
    """Ephemeral storage (bytes, requested whole) of the role's main container and of each installing
    init container: its logs, its writable layer, and the volumes it fills.

    The kubelet counts a pod's emptyDir volumes against its containers' limits together: the main
    container's covers every volume (they stay filled while it runs), so no pod asks more of the node's
    disk than the sum of its volumes, its writable layer and its logs.
    """
    volumes = {name: quantities.memory_bytes(size) for name, size in scratch_volumes(role).items()}
    disks = {"main": LOG_BYTES + quantities.memory_bytes(role.storage.writable) + sum(volumes.values())}
    for step, volume in (
        ("install-libraries", "system"),
        ("install-packages", "packages"),
        ("install-python", "python"),
    ):
        if volume in volumes:
            disks[step] = LOG_BYTES + volumes["tmp"] + volumes[volume]
    return disks


def pod_disk(role: PodRole) -> int:
    """Node disk one pod of the role requests (the larger of its main container and any init container)."""
    return max(container_disks(role).values())
