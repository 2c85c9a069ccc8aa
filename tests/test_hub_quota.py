"""The hub's share of the pools: the users' quota, the sessions the system pool holds beside the hub, and
what each profile needs of the pools, with the figures written out.

An e2-standard-4 node leaves 3520m and 13654137242 bytes (tests/test_sizing.py); the hub and its proxy
ask 700m and 1.25 GiB, an RStudio session's front 250m and 512 MiB.
"""

from __future__ import annotations

import pytest

from components.config.hub import check_profiles_fit, hub_worker_demand, users_quota
from components.ground.reader import Reader
from components.ground.settings import HubProfile, HubSettings

GIB = 1024**3


def sessions(*profiles: HubProfile, max_sessions: int = 3) -> HubSettings:
    return HubSettings(
        authenticator="native",
        admins=("t",),
        users=(),
        groups=(),
        profiles=profiles,
        idle_minutes=60,
        max_sessions=max_sessions,
        oidc_issuer=None,
    )


def kind(name: str, session: str, workers: int, worker_cpu: str, cpu: str = "1", memory: str = "2Gi") -> HubProfile:
    return HubProfile(
        name=name, session=session, cpu=cpu, memory=memory, workers=workers, worker_cpu=worker_cpu, worker_memory="2Gi"
    )


def test_the_worker_pool_is_sized_for_the_busiest_profile_times_the_sessions() -> None:
    # 2 x 4 CPUs asks more than 6 x 1.
    busy = sessions(kind("a", "rstudio", 6, "1"), kind("b", "jupyterlab", 2, "4"))
    assert hub_worker_demand(busy, 9, "3", "3Gi") == (6, "4", "2Gi")
    assert hub_worker_demand(sessions(kind("a", "rstudio", 0, "1")), 9, "3", "3Gi") == (0, "3", "3Gi")


def test_without_pools_the_quota_is_the_sessions_of_the_profile_that_asks_most() -> None:
    # rstudio: (1000 + 250)m and 2.5 GiB, 2 workers of 1 CPU and 2 GiB: 3250m and 6.5 GiB a session, 3 sessions.
    quota = users_quota(Reader({}), sessions(kind("a", "rstudio", 2, "1"), kind("b", "rstudio", 0, "1")), None)
    assert quota == (3 * 3250, 3 * (2 * GIB + 512 * 1024**2 + 4 * GIB))
    assert users_quota(Reader({}), sessions(), None) == (0, 0)


def test_with_pools_the_quota_is_what_they_hold_beside_the_hub() -> None:
    read = Reader({})
    quota = users_quota(read, sessions(kind("a", "rstudio", 2, "1")), ("e2-standard-4", 2, "e2-standard-4", 3))
    assert read.problems == []
    # Five e2-standard-4 nodes of 3520m and 13654137242 bytes, less the hub (500m, 1 GiB) and proxy (200m, 256 MiB).
    assert quota == (5 * 3520 - 700, 5 * 13654137242 - GIB - 256 * 1024**2)


def test_more_sessions_than_the_system_pool_holds_names_how_many_it_holds() -> None:
    read = Reader({})
    # A session of 2 CPU and the RStudio front's 250m: one a node of 3520m (the hub's 700m fits beside one),
    # so three need three nodes and the pool's two hold two.
    users_quota(
        read, sessions(kind("a", "rstudio", 0, "1", cpu="2"), max_sessions=3), ("e2-standard-4", 2, "e2-standard-4", 1)
    )
    (problem,) = read.problems
    assert problem == (
        "kubepar:hubMaxSessions: 3 sessions of 2250m CPU and 2560Mi, beside the hub, need 3 e2-standard-4 nodes; the "
        "system pool has at most 2, which hold 2. Lower hubMaxSessions to 2, the profiles' cpu/memory, or choose a "
        "larger systemMachineType"
    )


def test_a_profile_that_cannot_run_on_the_pools_is_named() -> None:
    read = Reader({})
    too_big = kind("s", "jupyterlab", 0, "1", cpu="4")
    wide = kind("w", "rstudio", 2, "4")
    many = kind("m", "rstudio", 7, "1")
    check_profiles_fit(read, sessions(too_big, wide, many), "e2-standard-4", 2, "e2-standard-4")
    assert read.problems == [
        "kubepar:hubProfiles[s].cpu: the session (4 CPU, 2Gi) does not fit on a e2-standard-4 system node; lower "
        "the profile's cpu/memory or choose a larger systemMachineType",
        "kubepar:hubProfiles[w].workerCpu: a worker (4 CPU, 2Gi) does not fit on a e2-standard-4 node; lower "
        "workerCpu/workerMemory or choose a larger workerMachineType",
        "kubepar:hubProfiles[m].workers: 7 workers of 1 CPU and 2Gi need 3 e2-standard-4 nodes; the worker pool "
        "has at most 2 (3 such workers each). Lower workers, or raise workerPoolMaxNodes",
    ]
    read = Reader({})
    check_profiles_fit(read, sessions(kind("m", "rstudio", 6, "1")), "e2-standard-4", 2, "e2-standard-4")
    assert read.problems == []


def test_the_quota_follows_the_profile_that_asks_most_cpu() -> None:
    # By CPU: 2250m (2 CPU and the front) over 1250m, though the first asks more memory; workers count times CPU.
    roomy = kind("roomy", "rstudio", 0, "1", cpu="1", memory="8Gi")
    busy = kind("busy", "rstudio", 0, "1", cpu="2", memory="2Gi")
    assert users_quota(Reader({}), sessions(roomy, busy), None) == (3 * 2250, 3 * (2 * GIB + 512 * 1024**2))
    crowd = kind("crowd", "rstudio", 4, "1", cpu="1", memory="2Gi")
    assert users_quota(Reader({}), sessions(busy, crowd), None) == (
        3 * (1250 + 4000),
        3 * (2 * GIB + 512 * 1024**2 + 4 * 2 * GIB),
    )


def test_no_quota_on_machines_without_a_shape() -> None:
    read = Reader({})
    assert users_quota(read, sessions(kind("a", "rstudio", 1, "1")), ("a3-megagpu-8g", 2, "e2-standard-4", 3)) == (0, 0)
    assert users_quota(read, sessions(kind("a", "rstudio", 1, "1")), ("e2-standard-4", 2, "a3-megagpu-8g", 3)) == (0, 0)
    assert read.problems == []
    check_profiles_fit(read, sessions(kind("a", "rstudio", 1, "64")), "a3-megagpu-8g", 1, "e2-standard-4")
    check_profiles_fit(read, sessions(kind("a", "rstudio", 1, "64")), "e2-standard-4", 1, "a3-megagpu-8g")
    assert read.problems == []


@pytest.mark.parametrize(
    ("cpu", "max_sessions", "system_nodes", "needed", "holds"),
    [
        # 3100m a session: two fill two nodes (420m left each), and the hub's 500m needs a third.
        ("2850m", 2, 2, 3, 1),
        # 3650m with the hub's 500m is over one node: not even one session fits beside it.
        ("3150m", 1, 1, 2, 0),
    ],
)
def test_the_sessions_the_system_pool_holds_count_the_hub_beside_them(
    cpu: str, max_sessions: int, system_nodes: int, needed: int, holds: int
) -> None:
    read = Reader({})
    profiles = sessions(kind("a", "rstudio", 0, "1", cpu=cpu), max_sessions=max_sessions)
    users_quota(read, profiles, ("e2-standard-4", system_nodes, "e2-standard-4", 1))
    session_cpu = f"{int(cpu.removesuffix('m')) + 250}m"
    assert read.problems == [
        f"kubepar:hubMaxSessions: {max_sessions} sessions of {session_cpu} CPU and 2560Mi, beside the hub, need "
        f"{needed} e2-standard-4 nodes; the system pool has at most {system_nodes}, which hold {holds}. Lower "
        f"hubMaxSessions to {max(1, holds)}, the profiles' cpu/memory, or choose a larger systemMachineType"
    ]


def test_workers_weigh_by_their_cpu_not_their_memory() -> None:
    # 3 CPU sessions (3250m with the front) ask more CPU than 1 CPU with one 100m worker of 4 GiB (1350m).
    alone = kind("alone", "rstudio", 0, "1", cpu="3")
    light = HubProfile(
        name="light", session="rstudio", cpu="1", memory="2Gi", workers=1, worker_cpu="100m", worker_memory="4Gi"
    )
    assert users_quota(Reader({}), sessions(light, alone), None)[0] == 3 * 3250


def test_the_system_pool_is_checked_with_the_largest_session() -> None:
    read = Reader({})
    small = kind("small", "rstudio", 0, "1", cpu="500m")
    large = kind("large", "rstudio", 0, "1", cpu="2850m")
    users_quota(read, sessions(small, large, max_sessions=2), ("e2-standard-4", 2, "e2-standard-4", 1))
    assert len(read.problems) == 1 and "2 sessions of 3100m CPU and 2560Mi" in read.problems[0]
