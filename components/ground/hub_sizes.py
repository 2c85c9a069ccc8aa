"""The hub's pod sizes: what the hub's own pods and one running session ask of the pools.

Owns: the sizes of the hub and its proxy, of an RStudio session's single-user
server and of a JupyterLab session's Dask scheduler, and what one session of
a profile needs on each pool. The engine and the users' pods are sized from
these; config checks, the users' quota and the cost estimate count them.
Does not: place pods (config/hub.py, ground/sizing.py).
Invariant: one number per pod; whatever counts a pod counts this one.
"""

from __future__ import annotations

from components.ground import quantities
from components.ground.settings import HubProfile

HUB_SIZE = ("500m", "1Gi")
PROXY_SIZE = ("200m", "256Mi")
# An RStudio session's single-user server only forwards to RStudio: the profile's size is RStudio's.
RSTUDIO_FRONT = ("250m", "512Mi")
# Each JupyterLab session's own Dask scheduler: small, it only routes tasks.
DASK_SCHEDULER_SIZE = ("500m", "1Gi")


def millis_bytes(size: tuple[str, str]) -> tuple[int, int]:
    return quantities.cpu_millis(size[0]), quantities.memory_bytes(size[1])


HUB_PODS = {"hub": millis_bytes(HUB_SIZE), "proxy": millis_bytes(PROXY_SIZE)}
"""The hub's own pods on the system pool, as (CPU millis, memory bytes)."""


def profile_pods(profile: HubProfile) -> tuple[tuple[int, int], tuple[int, int], int]:
    """((CPU millis, memory bytes) on the system pool, (per worker), workers) of one running session.

    An RStudio session's pod holds RStudio (the profile's size) and its small single-user server;
    a JupyterLab session with workers also runs its own Dask scheduler on the system pool.
    """
    cpu, memory = millis_bytes((profile.cpu, profile.memory))
    if profile.session == "rstudio":
        front = millis_bytes(RSTUDIO_FRONT)
        cpu, memory = cpu + front[0], memory + front[1]
    if profile.session == "jupyterlab" and profile.workers:
        scheduler = millis_bytes(DASK_SCHEDULER_SIZE)
        cpu, memory = cpu + scheduler[0], memory + scheduler[1]
    return (cpu, memory), millis_bytes((profile.worker_cpu, profile.worker_memory)), profile.workers
