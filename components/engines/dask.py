"""The Dask engine: JupyterLab for the user, a Dask scheduler, and workers that connect to it.

Owns: the ``dask`` engine's roles (notebook with the user's home, scheduler,
workers with a retiring preStop hook), their scripts, traffic, outputs
(the dashboard too), worker limit and the whole-CPU rule of Dask threads.
Does not: know Kubernetes objects.
Invariant: users reach the notebook and the dashboard, never the scheduler's
comm port, which only the notebook and the workers dial.
"""

from __future__ import annotations

from components.engines.model import (
    SCRIPTS_DIR,
    SECRET_ENV_REASON,
    SESSION_WRITABLE,
    SPOT_GRACE_SECONDS,
    Access,
    Claim,
    Disruption,
    Edge,
    Engine,
    EnginePlugin,
    Exposure,
    PodRole,
    Probe,
    Security,
    Storage,
    endpoint_host,
    files,
)
from components.engines.python_language import check_packages, dask_image, image_tag, pip_installer
from components.ground import quantities
from components.ground.quantities import whole_cpus
from components.ground.reader import Reader
from components.ground.settings import WorkloadSettings

JUPYTER_PORT = 8888
DASK_SCHEDULER_PORT = 8786
DASK_DASHBOARD_PORT = 8787
DASK_WORKER_DASHBOARD_PORT = 8789
# The Dask worker's retirement (preStop) must end before Spot's 15 s, with time to close.
DASK_RETIRE_SECONDS = 10
MAX_DASK_WORKERS = 1000
NO_LIVENESS_REASON = "a busy Dask event loop blocks for seconds; a liveness restart would lose every task"
NOTEBOOK_LIVENESS = (
    "the Jupyter server answers the check while kernels compute in their own processes, so a busy session "
    "never fails it; a hung server leaves the session unreachable, and a restart after five minutes of "
    "failed checks brings it back, the home kept"
)


def scheduler_address(settings: WorkloadSettings) -> str:
    return f"tcp://{endpoint_host(settings)}:{DASK_SCHEDULER_PORT}"


def build(settings: WorkloadSettings) -> Engine:
    image = dask_image(settings)
    installer = pip_installer(settings, settings.packages) if settings.packages else None
    notebook = PodRole(
        component="notebook",
        image=f"ghcr.io/dask/dask-notebook:{image_tag(settings)}",
        env=(("DASK_SCHEDULER_ADDRESS", scheduler_address(settings)),),
        cpu=settings.scheduler_cpu,
        memory=settings.scheduler_memory,
        blas_threads=whole_cpus(settings.scheduler_cpu),
        probe=Probe(port=JUPYTER_PORT, liveness=True, why=NOTEBOOK_LIVENESS),
        session=True,
        password_env="JUPYTER_TOKEN",
        installer=installer,
        # jovyan, the notebook image's user, owns the home volume.
        security=Security(run_as_user=1000, fs_group=100, read_only_root=False),
        storage=Storage(claim=Claim(name="home", path="/home/jovyan"), writable=SESSION_WRITABLE),
        disruption=Disruption(
            why=(
                "an eviction ends the user's kernels and their memory: the budget makes a drain or an upgrade "
                "wait, and the autoscaler leaves it put"
            ),
            safe_to_evict=False,
            budget=True,
        ),
        exposure=Exposure(ports=(("http", JUPYTER_PORT),), user_port=JUPYTER_PORT, internet="all"),
        checkov_skips=(
            ("CKV_K8S_40", "runs as jovyan (UID 1000), who owns the image's conda environment and home"),
            ("CKV_K8S_22", "JupyterLab writes its runtime, settings and kernels under the image's own folders"),
            ("CKV_K8S_35", SECRET_ENV_REASON + " (JUPYTER_TOKEN)"),
        ),
    )
    scheduler = PodRole(
        component="scheduler",
        image=image,
        command=(
            "dask",
            "scheduler",
            "--port",
            str(DASK_SCHEDULER_PORT),
            "--dashboard-address",
            f":{DASK_DASHBOARD_PORT}",
        ),
        cpu=settings.scheduler_cpu,
        memory=settings.scheduler_memory,
        # No liveness check: a scheduler busy with a large graph blocks its
        # event loop for seconds, and a restart would lose every task.
        probe=Probe(port=DASK_DASHBOARD_PORT, path="/health", liveness=False, why=NO_LIVENESS_REASON),
        installer=installer,
        disruption=Disruption(
            why=(
                "the scheduler holds every task's state: an eviction loses the running graph, so the budget makes "
                "a drain wait and the autoscaler leaves it put"
            ),
            safe_to_evict=False,
            budget=True,
        ),
        exposure=Exposure(
            ports=(("tcp-comm", DASK_SCHEDULER_PORT), ("http-dashboard", DASK_DASHBOARD_PORT)),
            # The dashboard, not the scheduler port, is what users may reach.
            user_port=DASK_DASHBOARD_PORT,
            endpoint_port=DASK_SCHEDULER_PORT,
        ),
    )
    worker = PodRole(
        component="worker",
        image=image,
        env=(
            ("DASK_SCHEDULER_ADDRESS", scheduler_address(settings)),
            # The preStop hook's budget: Spot preemption leaves pods about 15 s.
            ("KUBEPAR_RETIRE_TIMEOUT", str(DASK_RETIRE_SECONDS)),
        ),
        # The pod name is the worker's name, so the preStop hook can retire it by name.
        field_env=(("KUBEPAR_WORKER_NAME", "metadata.name"),),
        pre_stop=("python", f"{SCRIPTS_DIR}/retire-worker.py"),
        command=(
            "dask",
            "worker",
            scheduler_address(settings),
            "--name",
            "$(KUBEPAR_WORKER_NAME)",
            # --nthreads must be a whole number; config refuses fractional CPUs.
            "--nthreads",
            whole_cpus(settings.worker_cpu),
            "--memory-limit",
            str(quantities.memory_bytes(settings.worker_memory)),
            "--dashboard-address",
            f":{DASK_WORKER_DASHBOARD_PORT}",
        ),
        cpu=settings.worker_cpu,
        memory=settings.worker_memory,
        probe=Probe(port=DASK_WORKER_DASHBOARD_PORT, path="/health", liveness=False, why=NO_LIVENESS_REASON),
        replicas=settings.workers,
        pool="workers",
        installer=installer,
        # Dask spills to /tmp when memory fills: room for twice its memory limit.
        storage=Storage(tmp_size=f"{2 * quantities.memory_bytes(settings.worker_memory) // 1024**2}Mi"),
        # GKE gives Spot pods about 15 s whatever this says; retirement fits inside.
        disruption=Disruption(
            why=(
                "a worker retires before it stops (its preStop hook hands its results to the others) and the "
                "scheduler reruns what it held: the autoscaler may move it, and no budget holds a drain"
            ),
            grace_seconds=SPOT_GRACE_SECONDS,
            await_rollout=False,
        ),
        exposure=Exposure(ports=(("http-dashboard", DASK_WORKER_DASHBOARD_PORT),)),
    )
    return Engine(
        name="dask",
        roles=(notebook, scheduler, worker),
        files=files("python", ("install-packages.sh", "retire-worker.py")),
        edges=(
            # The scheduler's comm port: workers register, the notebook's client connects.
            Edge(client="worker", server="scheduler", port=DASK_SCHEDULER_PORT),
            Edge(client="notebook", server="scheduler", port=DASK_SCHEDULER_PORT),
            # The dashboard, for the JupyterLab Dask panel.
            Edge(client="notebook", server="scheduler", port=DASK_DASHBOARD_PORT),
            # Workers listen on random ports: the scheduler, other workers and the
            # client (gathering results) dial them.
            Edge(client="scheduler", server="worker", port=None),
            Edge(client="worker", server="worker", port=None),
            Edge(client="notebook", server="worker", port=None),
        ),
        access=(
            Access(component="notebook", port=JUPYTER_PORT),
            Access(component="scheduler", port=DASK_DASHBOARD_PORT, prefix="dashboard"),
        ),
        outputs=(("daskVersion", settings.dask_version),),
    )


def _check(read: Reader) -> None:
    if read.failed("workerCpu"):
        return
    worker_cpu = read.text("workerCpu")
    millis = quantities.cpu_millis(worker_cpu)
    if millis >= 1000 and millis % 1000:
        read.fail(
            "workerCpu",
            f"{worker_cpu!r} is not a whole number of CPUs; Dask's --nthreads is an integer "
            f"(use {millis // 1000} or {millis // 1000 + 1})",
        )


PLUGIN = EnginePlugin(
    name="dask",
    build=build,
    max_workers=MAX_DASK_WORKERS,
    workers_fix=f"use 0..{MAX_DASK_WORKERS}",
    packages=check_packages,
    check=_check,
)
