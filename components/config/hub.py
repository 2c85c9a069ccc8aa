"""Hub config: the ``hub*`` keys of engine hub into :class:`HubSettings`, every problem named by its key.

Owns: who logs in (authenticator, admins, users, groups), what they may start
(profiles, each sized and checked against the pools), how many at once, when
idle sessions stop, and which door serves it. Does not: size the pools
(ground/sizing.py) or build the hub (engines/hub.py).
Invariant: every profile a user can pick fits the pools it runs on, and every
profile someone can see: a group-scoped profile names groups that have members.
"""

from __future__ import annotations

import math
import re
from typing import Any

from components.ground import quantities
from components.ground.hub_sizes import HUB_PODS, profile_pods
from components.ground.parsers import parse_cpu, parse_memory
from components.ground.reader import Reader
from components.ground.settings import HubProfile, HubSettings
from components.ground.sizing import system_nodes as first_fit

AUTHENTICATORS = ("native", "github", "google", "oidc")
SESSION_KINDS = ("rstudio", "jupyterlab")
PROFILE_KEYS = ("name", "session", "cpu", "memory", "workers", "workerCpu", "workerMemory", "groups")
GROUP_KEYS = ("name", "members")
# An R session holds about 125 connections; a Dask scheduler many more, but one user's share is bounded.
MAX_PROFILE_WORKERS = {"rstudio": 120, "jupyterlab": 200}
MAX_SESSIONS = 500
# A week: past that, culling is effectively off, which costs more than it saves anyone.
MAX_IDLE_MINUTES = 7 * 24 * 60
MIN_IDLE_MINUTES = 5
# JupyterHub user and group names as kubepar accepts them: lowercase (the hub lowercases
# names), usable in a pod name after KubeSpawner's escaping, no spaces.
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,62}")
_SLUG = re.compile(r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?")


def _names(read: Reader, key: str, values: Any) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        read.fail(key, f"{values!r} is not a list of user names")
        return ()
    good = []
    for value in values:
        if not _NAME.fullmatch(value):
            read.fail(
                key,
                f"{value!r} is not a user name the hub keeps as written; use lowercase letters, digits "
                "and . _ @ - (the hub lowercases names at login)",
            )
        elif value in good:
            read.fail(key, f"{value!r} is listed twice")
        else:
            good.append(value)
    return tuple(good)


def _groups(read: Reader) -> tuple[tuple[str, tuple[str, ...]], ...]:
    groups: dict[str, tuple[str, ...]] = {}
    for index, entry in enumerate(read.object_list("hubGroups")):
        label = f"hubGroups[{index}]"
        if not isinstance(entry, dict):
            read.fail(label, f"{entry!r} is not a mapping with name and members")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not _SLUG.fullmatch(name):
            read.fail(f"{label}.name", f"{name!r} is not a group name of lowercase letters, digits and '-'")
            continue
        label = f"hubGroups[{name}]"
        read.unknown_fields(label, entry, GROUP_KEYS, "group")
        if name in groups:
            read.fail(label, f"the group {name!r} is listed twice; list its members once")
            continue
        groups[name] = _names(read, f"{label}.members", entry.get("members", []))
    return tuple(sorted(groups.items()))


def _profiles(read: Reader, defaults: dict[str, str], groups: dict[str, tuple[str, ...]]) -> list[HubProfile]:
    entries = read.object_list("hubProfiles") or [{"name": "rstudio", "session": "rstudio"}]
    profiles: dict[str, HubProfile] = {}
    for index, entry in enumerate(entries):
        label = f"hubProfiles[{index}]"
        if not isinstance(entry, dict):
            read.fail(label, f"{entry!r} is not a mapping with name and session")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not _SLUG.fullmatch(name):
            read.fail(
                f"{label}.name",
                f"{name!r} is not a profile name of 1-32 lowercase letters, digits or '-', starting with a letter",
            )
            continue
        label = f"hubProfiles[{name}]"
        read.unknown_fields(label, entry, PROFILE_KEYS, "profile")
        session = entry.get("session")
        if session not in SESSION_KINDS:
            read.fail(
                f"{label}.session",
                f"{session!r} is not a session kind; use rstudio (RStudio and R workers) or jupyterlab "
                "(JupyterLab and Dask workers)",
            )
            continue
        high = MAX_PROFILE_WORKERS[session]
        workers = read.bounded(f"{label}.workers", entry.get("workers", 0), 0, high, f"use 0..{high}")
        cpu = read.quantity(f"{label}.cpu", entry.get("cpu", defaults["cpu"]), parse_cpu, "1 or 500m")
        memory = read.quantity(f"{label}.memory", entry.get("memory", defaults["memory"]), parse_memory, "2Gi")
        worker_cpu = read.quantity(
            f"{label}.workerCpu", entry.get("workerCpu", defaults["worker_cpu"]), parse_cpu, "1 or 500m"
        )
        worker_memory = read.quantity(
            f"{label}.workerMemory", entry.get("workerMemory", defaults["worker_memory"]), parse_memory, "2Gi"
        )
        scoped = entry.get("groups", [])
        if not isinstance(scoped, list) or not all(isinstance(group, str) for group in scoped):
            read.fail(f"{label}.groups", f"{scoped!r} is not a list of group names")
            continue
        for group in scoped:
            if group not in groups:
                known = ", ".join(groups) or "none yet"
                read.fail(
                    f"{label}.groups",
                    f"{group!r} is not a group of hubGroups ({known}), so nobody but the admins would see this "
                    "profile; add the group with its members to hubGroups, or remove it here",
                )
            elif not groups[group]:
                read.fail(
                    f"{label}.groups",
                    f"the group {group!r} has no members, so nobody but the admins would see this profile; "
                    "add members to it in hubGroups",
                )
        if name in profiles:
            read.fail(label, f"the name {name!r} is used twice; each profile needs its own")
            continue
        if None in (workers, cpu, memory, worker_cpu, worker_memory):
            continue
        assert cpu is not None and memory is not None and worker_cpu is not None and worker_memory is not None
        profiles[name] = HubProfile(
            name=name,
            session=session,
            cpu=cpu,
            memory=memory,
            workers=int(workers or 0),
            worker_cpu=worker_cpu,
            worker_memory=worker_memory,
            groups=tuple(scoped),
        )
    return list(profiles.values())


def parse_hub(read: Reader, defaults: dict[str, str]) -> HubSettings:
    """The hub keys, checked. ``defaults``: the stack's session and worker sizes (cpu, memory, worker_...)."""
    authenticator = read.choice("hubAuthenticator", AUTHENTICATORS)
    admins = _names(read, "hubAdmins", read.string_list("hubAdmins"))
    if not admins and not read.failed("hubAdmins"):
        fix = (
            "the first admin signs up at <url>/hub/signup and is approved at once; every other sign-up waits "
            "for an admin"
            if authenticator == "native"
            else "admins approve nobody under OAuth, but they manage groups and stop sessions"
        )
        read.fail("hubAdmins", f"lists nobody, so nobody could run the hub; name at least one admin ({fix})")
    users = _names(read, "hubUsers", read.string_list("hubUsers"))
    groups = _groups(read)
    profiles = _profiles(read, defaults, dict(groups))
    idle = read.integer(
        "hubIdleMinutes",
        MIN_IDLE_MINUTES,
        MAX_IDLE_MINUTES,
        f"use {MIN_IDLE_MINUTES}..{MAX_IDLE_MINUTES} minutes: an idle session is stopped, its home volume kept",
    )
    max_sessions = read.integer("hubMaxSessions", 1, MAX_SESSIONS, f"use 1..{MAX_SESSIONS}")
    issuer = read.text("hubOidcIssuer") or None
    if authenticator != "native":
        for key in ("hubOAuthClientId", "hubOAuthClientSecret"):
            if not read.text(key):
                read.fail(key, f"hubAuthenticator {authenticator} needs it; set it with `make config-secret KEY={key}`")
        if not users and not any(members for _, members in groups):
            read.fail(
                "hubUsers",
                f"with {authenticator}, only listed people may log in, and neither hubUsers nor hubGroups lists "
                "anyone besides the admins; list them (an empty list would let every account of the provider in)",
            )
    if authenticator == "oidc" and not (issuer or "").startswith("https://"):
        read.fail("hubOidcIssuer", f"{issuer!r}: hubAuthenticator oidc needs the provider's https:// issuer URL")
    elif authenticator != "oidc" and issuer:
        read.fail("hubOidcIssuer", "only applies to hubAuthenticator oidc; remove it")
    return HubSettings(
        authenticator=authenticator,
        admins=admins,
        users=users,
        groups=groups,
        profiles=tuple(profiles),
        idle_minutes=idle,
        max_sessions=max_sessions,
        oidc_issuer=issuer,
    )


def check_profiles_fit(
    read: Reader, hub: HubSettings, worker_machine: str, worker_nodes: int, system_machine: str
) -> None:
    """Each profile's session fits a system node and its workers fit the worker pool's ceiling."""
    worker_shape = quantities.machine_shape(worker_machine)
    system_shape = quantities.machine_shape(system_machine)
    if worker_shape is None or system_shape is None:
        return
    for profile in hub.profiles:
        label = f"hubProfiles[{profile.name}]"
        (cpu, memory), (worker_cpu, worker_memory), workers = profile_pods(profile)
        if quantities.workers_per_node(system_shape, cpu, memory) == 0:
            read.fail(
                f"{label}.cpu",
                f"the session ({profile.cpu} CPU, {profile.memory}) does not fit on a {system_machine} system "
                "node; lower the profile's cpu/memory or choose a larger systemMachineType",
            )
        if not workers:
            continue
        per_node = quantities.workers_per_node(worker_shape, worker_cpu, worker_memory)
        if per_node == 0:
            read.fail(
                f"{label}.workerCpu",
                f"a worker ({profile.worker_cpu} CPU, {profile.worker_memory}) does not fit on a {worker_machine} "
                "node; lower workerCpu/workerMemory or choose a larger workerMachineType",
            )
        elif math.ceil(workers / per_node) > worker_nodes:
            read.fail(
                f"{label}.workers",
                f"{workers} workers of {profile.worker_cpu} CPU and {profile.worker_memory} need "
                f"{math.ceil(workers / per_node)} {worker_machine} nodes; the worker pool has at most {worker_nodes} "
                f"({per_node} such workers each). Lower workers, or raise workerPoolMaxNodes",
            )


def hub_worker_demand(hub: HubSettings, workers: int, worker_cpu: str, worker_memory: str) -> tuple[int, str, str]:
    """(workers, CPU, memory) the worker pool is sized for: hubMaxSessions sessions of the profile
    whose workers ask most. ``workers`` and the sizes of the stack are used when no profile has workers."""
    busiest = max(
        (profile for profile in hub.profiles if profile.workers),
        key=lambda profile: profile.workers * quantities.cpu_millis(profile.worker_cpu),
        default=None,
    )
    if busiest is None:
        return 0, worker_cpu, worker_memory
    return busiest.workers * hub.max_sessions, busiest.worker_cpu, busiest.worker_memory


def users_quota(read: Reader, hub: HubSettings, pools: tuple[str, int, str, int] | None) -> tuple[int, int]:
    """CPU millis and memory bytes the users' pods may request at once.

    ``pools``: (system machine, its node ceiling, worker machine, its node ceiling) when the
    stack places pods on kubepar's pools: the quota is what they hold besides the hub. Without
    pools, hubMaxSessions sessions of the profile that asks most. Refused when the system pool
    cannot hold hubMaxSessions sessions of the largest profile beside the hub.
    """
    if not hub.profiles:
        return 0, 0
    (session_cpu, session_memory), (worker_cpu, worker_memory), workers = max(
        (profile_pods(profile) for profile in hub.profiles),
        key=lambda p: p[0][0] + p[1][0] * p[2],
    )
    if pools is None:
        return (
            hub.max_sessions * (session_cpu + worker_cpu * workers),
            hub.max_sessions * (session_memory + worker_memory * workers),
        )
    system_machine, system_nodes, worker_machine, worker_nodes = pools
    check_profiles_fit(read, hub, worker_machine, worker_nodes, system_machine)
    system_shape, worker_shape = quantities.machine_shape(system_machine), quantities.machine_shape(worker_machine)
    if system_shape is None or worker_shape is None:
        return 0, 0
    biggest_session = max(profile_pods(profile)[0] for profile in hub.profiles)
    sessions = {f"session-{index}": biggest_session for index in range(hub.max_sessions)}
    needed = first_fit(system_machine, [*HUB_PODS.values(), *sessions.values()])
    if needed > system_nodes:
        fits = 0
        while first_fit(system_machine, [*HUB_PODS.values(), *[biggest_session] * (fits + 1)]) <= system_nodes:
            fits += 1
        read.fail(
            "hubMaxSessions",
            f"{hub.max_sessions} sessions of {biggest_session[0]}m CPU and {biggest_session[1] // 1024**2}Mi, beside "
            f"the hub, need {needed} {system_machine} nodes; the system pool has at most {system_nodes}, which hold "
            f"{fits}. Lower hubMaxSessions to {max(1, fits)}, the profiles' cpu/memory, or choose a larger "
            "systemMachineType",
        )
    system_cpu, system_memory = quantities.allocatable(system_shape)
    pool_cpu, pool_memory = quantities.allocatable(worker_shape)
    hub_cpu = sum(cpu for cpu, _ in HUB_PODS.values())
    hub_memory = sum(memory for _, memory in HUB_PODS.values())
    return (
        system_nodes * system_cpu - hub_cpu + worker_nodes * pool_cpu,
        system_nodes * system_memory - hub_memory + worker_nodes * pool_memory,
    )
