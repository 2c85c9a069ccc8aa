"""Stack configuration: the only module that reads ``pulumi.Config``.

Owns: turning stack config into frozen, validated settings, and every error
message about config. Does not: create resources, or know how settings are
used beyond the sizing arithmetic the worker pool needs.

Invariant: ``load()`` either returns complete settings or raises one
``pulumi.RunError`` that lists every problem, before any resource exists.
Defaults are written once, in ``Pulumi.yaml``; :data:`DEFAULTS` reads them
from there for keys the CLI did not pass.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import yaml

from components import cidrs as cidr_lists
from components import quantities

PROJECT = "kubepar"
PLATFORMS = ("gke", "existing")
ENGINES = ("r", "dask")
R_BACKENDS = ("psock", "redis")
RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE")

# R sessions before R 4.4 hold about 125 connections, and an RStudio session
# cannot pass --max-connections: one PSOCK worker is one connection.
MAX_R_WORKERS = 120
# A sanity ceiling for Dask, whose scheduler handles thousands of workers.
MAX_DASK_WORKERS = 1000

PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"


def _project_defaults() -> dict[str, str]:
    """Defaults of the simple keys, as Pulumi.yaml declares them (the CLI's source too)."""
    declared = yaml.safe_load(PROJECT_FILE.read_text()).get("config") or {}
    defaults: dict[str, str] = {}
    for key, spec in declared.items():
        if isinstance(spec, dict) and "default" in spec:
            value = spec["default"]
            if isinstance(value, bool):
                defaults[key] = "true" if value else "false"
            elif isinstance(value, list | dict):
                # As the CLI passes structured values: JSON text.
                defaults[key] = json.dumps(value)
            else:
                defaults[key] = str(value)
    return defaults


DEFAULTS = _project_defaults()

# Structured keys: JSON lists in the stack file, [] by default.
LIST_KEYS = ("packages", "allowedSourceRanges", "masterAuthorizedNetworks", "sweeps")
PROJECT_ROOT = PROJECT_FILE.parent
# Sweeps: an Indexed Job holds at most 100,000 completions with per-index
# retries; a sweep name goes into the Job name with an 8-character run id.
MAX_SWEEP_TASKS = 100_000
MAX_SWEEP_PARALLELISM = 1000
MAX_SWEEP_RETRIES = 20
MAX_SWEEP_NAME = 40
# A month: past that a sweep is more likely stuck than working.
MAX_SWEEP_DEADLINE_HOURS = 720
# A ConfigMap holds at most 1 MiB, with kubepar's helpers beside the script.
MAX_SCRIPT_BYTES = 512 * 1024
SWEEP_LANGUAGES = {".R": "r", ".r": "r", ".py": "python"}
SWEEP_KEYS = (
    "name",
    "script",
    "tasks",
    "parallelism",
    "cpu",
    "memory",
    "retries",
    "seed",
    "maxFailed",
    "deadlineHours",
)
# The Cloud Storage FUSE sidecar GKE injects into every pod that mounts the
# results bucket requests this much by default: it counts towards a node.
GCSFUSE_SIDECAR_CPU_MILLIS = 250
GCSFUSE_SIDECAR_MEMORY_BYTES = 256 * 1024**2

# Every pattern is used with fullmatch and ASCII classes only: `$` would let a
# trailing newline through, and `\d` matches non-ASCII digits.
_CRAN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]")
# A pinned pip requirement: name[extras]==version (PEP 508 names, PEP 440 versions).
_PINNED_REQUIREMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._-]+\])?==([A-Za-z0-9.+!_-]+)")
_DASK_VERSION = re.compile(r"[0-9]{4}\.[0-9]{1,2}\.[0-9]{1,3}")
_INTEGER = re.compile(r"-?[0-9]{1,9}")
_SNAPSHOT_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_MAINTENANCE = re.compile(r"((?:MO|TU|WE|TH|FR|SA|SU)(?:,(?:MO|TU|WE|TH|FR|SA|SU))*) ([01][0-9]|2[0-3]):([0-5][0-9])")
# Stack names go into the node service account id (kubepar-<stack>-nodes, at
# most 30 characters) and into label values: lowercase, digits and '-'.
_STACK_NAME = re.compile(r"[a-z]([a-z0-9-]{0,14}[a-z0-9])?")
MAINTENANCE_HOURS = 6
# Python of the Dask images kubepar runs (the `<release>-py<python>` tag).
DASK_PYTHON = "3.11"
# R packages kubepar itself needs in every R pod (kubepar.R and the worker
# loop); the init container always installs them, with kubepar:packages.
R_CORE_PACKAGES = ("future", "future.apply", "parallelly")
# With rBackend redis, every R pod also gets the queue client (doRedis on
# redux and storr); redux links hiredis, which the init container fetches.
R_QUEUE_PACKAGES = ("doRedis", "redux", "storr")
R_QUEUE_SYSTEM_LIBRARIES = ("hiredis",)
# Packages the Dask images themselves provide: a pin of one of these would
# silently replace the engine's own version on some pods.
DASK_IMAGE_PACKAGES = ("dask", "distributed", "numpy", "pandas", "bokeh", "cloudpickle", "tornado", "msgpack")
_R_VERSION = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{1,2})")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_GCP_LOCATION = re.compile(r"[a-z]+-[a-z]+[0-9]{1,2}(-[a-z])?")
_GCP_PROJECT = re.compile(r"[a-z][-a-z0-9]{4,28}[a-z0-9]")


@dataclass(frozen=True, kw_only=True)
class GkeSettings:
    """Settings of the GCP side; present only when ``platform`` is ``gke``."""

    project: str
    """GCP project id (``gcp:project``)."""
    location: str
    """Zone (zonal cluster, the cheap default) or region (regional cluster)."""
    region: str
    """Region of ``location``: where the subnet, router and NAT live."""
    release_channel: str
    """GKE release channel: RAPID, REGULAR or STABLE."""
    master_authorized_networks: tuple[str, ...]
    """CIDRs allowed to reach the Kubernetes API endpoint."""
    maintenance_days: tuple[str, ...]
    """Weekdays (MO..SU) on which GKE may upgrade nodes and the control plane."""
    maintenance_start: str
    """Start of each day's maintenance window, HH:MM in UTC; it lasts MAINTENANCE_HOURS."""
    node_cidr: str
    """Primary range of the subnet: node addresses."""
    pod_cidr: str
    """Secondary range for pod addresses."""
    service_cidr: str
    """Secondary range for Service cluster IPs."""
    system_machine_type: str
    """Machine type of the on-demand pool that runs the scheduler."""
    worker_machine_type: str
    """Machine type of the worker pool."""
    spot: bool
    """Run worker nodes on Spot VMs (cheaper, may be preempted)."""
    worker_pool_max_nodes: int
    """Autoscaling ceiling of the worker pool (set, or derived from workers)."""
    regional: bool = False
    """``location`` is a region: the control plane and every pool span three zones (three times the nodes)."""
    workers_per_node: int | None
    """How many workers fit on one worker node; None when the max is set by hand."""


@dataclass(frozen=True, kw_only=True)
class SweepSettings:
    """One parameter sweep: a script run once per task index by an Indexed Job."""

    name: str
    """DNS label: the Job's name prefix and the results folder."""
    script: str
    """Path of the script, relative to the project folder (where Pulumi.yaml is)."""
    script_text: str
    """The script's contents (mounted into the sweep's pods from a ConfigMap)."""
    language: str
    """``r`` (.R, run with Rscript on rocker/r-ver) or ``python`` (.py, on the Dask image)."""
    tasks: int
    """Task indices 0..tasks-1 (the Job's completions)."""
    parallelism: int
    """Pods at once."""
    cpu: str
    """CPU per task pod (request = limit); default workerCpu."""
    memory: str
    """Memory per task pod (request = limit); default workerMemory."""
    retries: int
    """Retries per task after a failure of the script (preemptions do not count)."""
    seed: int
    """Seed of the per-task random streams (task i gets stream i, reproducibly)."""
    max_failed: int
    """Failed tasks after which the Job stops starting new ones (a broken script costs little)."""
    deadline_hours: int = 24
    """Hours the Job may run (activeDeadlineSeconds): then its pods stop and their nodes go."""


@dataclass(frozen=True, kw_only=True)
class WorkloadSettings:
    """Settings of what runs in the cluster; the same on every platform."""

    stack: str
    """Stack name: the ``app.kubernetes.io/instance`` label."""
    engine: str
    """What runs: ``r`` (RStudio and R workers) or ``dask`` (JupyterLab, Dask scheduler and workers)."""
    dask_version: str
    """Dask release: the ghcr.io/dask image tag for notebook, scheduler and workers."""
    namespace: str
    """Kubernetes namespace that holds every object of the stack."""
    r_version: str
    """R version: the rocker/rstudio and rocker/r-ver image tag."""
    r_backend: str = "psock"
    """engine r: ``psock`` (future over R's sockets) or ``redis`` (foreach over a Valkey queue, doRedis)."""
    workers: int
    """Number of R worker pods (replicas); 0 parks the pool."""
    worker_cpu: str
    """CPU per worker, request = limit (Kubernetes quantity)."""
    worker_memory: str
    """Memory per worker, request = limit (Kubernetes quantity)."""
    scheduler_cpu: str
    """CPU of the RStudio pod, request = limit."""
    scheduler_memory: str
    """Memory of the RStudio pod, request = limit."""
    home_size: str
    """Size of the RStudio home volume."""
    packages: tuple[str, ...]
    """Extra packages for every pod, sorted: CRAN names (r) or pinned pip requirements (dask)."""
    allowed_source_ranges: tuple[str, ...]
    """CIDRs that may reach RStudio; empty means no LoadBalancer at all."""
    worker_port: int
    """Port of the R session that workers dial (never public)."""
    worker_setup_timeout: int
    """Seconds one worker attempt keeps dialing before it restarts (bounds join delay)."""
    worker_pool_selector: bool
    """Place pods on kubepar's pools: workers and sweeps on the tainted worker pool, the rest on the
    system pool (always on GKE; on an existing cluster with ``nodePools``)."""
    deletion_protection: bool
    """Protect the cluster and the home volume: ``pulumi destroy`` refuses before deleting anything."""
    replace_home: bool
    """Allow a namespace change that replaces the home volume (its data is lost); false refuses."""
    cran_snapshot: str
    """Date (YYYY-MM-DD) of the Posit Package Manager snapshot every R pod installs from."""
    cran_repository: str
    """URL of that snapshot for the rocker image's Ubuntu release (Linux binaries)."""
    sweeps: tuple[SweepSettings, ...] = ()
    """Parameter sweeps, sorted by name (keyed by name: reordering config renames nothing)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the program needs, validated."""

    stack: str
    platform: str
    kube_context: str | None
    """kubectl context for ``existing``; None means the current context."""
    gke: GkeSettings | None
    workload: WorkloadSettings
    password: pulumi.Output[str] | None
    """RStudio password from ``kubepar:password`` (a secret), or None to generate one."""
    warnings: tuple[str, ...] = ()
    """Valid settings that cost or risk more than expected (``pulumi preview`` shows them)."""


class ConfigError(Exception):
    """Every config problem found, one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


T = TypeVar("T")


class _Reader:
    """Reads raw string values and collects problems instead of raising."""

    def __init__(self, raw: Mapping[str, str | None]) -> None:
        self.raw = raw
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{PROJECT}:{key}: {message}")

    def warn(self, key: str, message: str) -> None:
        """Valid, but costs or risks more than the user may expect: shown at every preview."""
        self.warnings.append(f"{PROJECT}:{key}: {message}")

    def failed(self, *keys: str) -> bool:
        """Whether any of these keys already has a problem (so checks built on it are moot)."""
        return any(p.startswith(f"{PROJECT}:{key}:") for p in self.problems for key in keys)

    def text(self, key: str) -> str:
        value = self.raw.get(key)
        text = DEFAULTS.get(key, "") if value is None else str(value)
        if text != text.strip():
            # A YAML block scalar ends in a newline; a pasted value may carry spaces.
            self.fail(key, f"{text!r} has surrounding whitespace or a newline; write the value alone")
            return text.strip()
        return text

    def parsed(self, key: str, parse: Callable[[str], T], fix: str, fallback: T) -> T:
        value = self.text(key)
        try:
            return parse(value)
        except ValueError as error:
            self.fail(key, f"{value!r} is not valid ({error}); {fix}")
            return fallback

    def integer(self, key: str, low: int, high: int, fix: str) -> int:
        number = self.bounded(key, self.text(key), low, high, fix)
        return low if number is None else number

    def boolean(self, key: str) -> bool:
        value = self.text(key).lower()
        if value not in ("true", "false"):
            self.fail(key, f"{self.text(key)!r} is not true or false")
            return True
        return value == "true"

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            self.fail(key, f"{value!r} is not one of {', '.join(choices)}")
            return choices[0]
        return value

    def items(self, key: str, of: str) -> list[Any] | None:
        """A structured key's list (JSON from the CLI, or already a list), or None after a problem."""
        value = self.raw.get(key)
        if value is None or value == "":
            return []
        try:
            items = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            items = None
        if not isinstance(items, list):
            self.fail(key, f"{value!r} is not a list; set it in the stack file as a YAML list of {of}")
            return None
        return items

    def string_list(self, key: str) -> list[str]:
        items = self.items(key, "strings")
        if items is None:
            return []
        if not all(isinstance(i, str) for i in items):
            self.fail(key, f"{self.raw.get(key)!r} is not a list of strings")
            return []
        return items

    def object_list(self, key: str) -> list[Any]:
        return self.items(key, "mappings") or []

    def bounded(self, key: str, value: Any, low: int, high: int, fix: str) -> int | None:
        """A whole number given as a YAML number or string, bounded before conversion."""
        text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if not _INTEGER.fullmatch(text):
            # Bounded before int(): a number of thousands of digits is refused, not converted.
            shown = text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"
            self.fail(key, f"{shown or value!r} is not a whole number in {low}..{high}; {fix}")
            return None
        number = int(text)
        if not low <= number <= high:
            self.fail(key, f"{number} is outside {low}..{high}; {fix}")
            return None
        return number

    def cidrs(self, key: str, purpose: str) -> tuple[str, ...]:
        good: list[str] = []
        for item in self.string_list(key):
            ipv6 = ":" in item
            own = _OWN_IPV6 if ipv6 else _OWN_IPV4
            if item != item.strip():
                self.fail(key, f"{item!r} has surrounding whitespace or a newline; write the range alone")
                continue
            try:
                network = ipaddress.ip_network(item, strict=True)
            except ValueError as error:
                example = (
                    "2001:db8:1::/48, or one address with /128" if ipv6 else "198.51.100.0/24, or one address with /32"
                )
                self.fail(key, f"{item!r} is not a CIDR block ({error}); write it like {example}; {own}")
                continue
            routed = cidr_lists.as_routed(network)
            if routed.prefixlen == 0:
                self.fail(
                    key,
                    f"{item!r} would open {purpose} to the whole internet; list only your own addresses ({own})",
                )
                continue
            if cidr_lists.documentation(network):
                # The shipped examples' addresses: nobody connects from them, so
                # the stack would be built and then unreachable.
                self.fail(
                    key,
                    f"{item!r} lies in a range reserved for documentation examples, which no real "
                    f"connection comes from; put your own address there instead ({own})",
                )
                continue
            good.append(str(network))
        networks, _ = cidr_lists.parse(good)
        problem = cidr_lists.too_open(networks)
        if problem:
            self.fail(
                key,
                f"{', '.join(good)}: {problem}, would open {purpose} far beyond your own addresses; "
                f"list only your own ({_OWN_IPV4})",
            )
            return ()
        return tuple(good)


_OWN_IPV4 = "find yours with `curl -4 ifconfig.me`, then add /32"
_OWN_IPV6 = "find yours with `curl -6 ifconfig.me`, then add /128"


def _parse_r_version(value: str) -> str:
    match = _R_VERSION.fullmatch(value)
    if not match:
        raise ValueError("expected MAJOR.MINOR.PATCH such as 4.6.1")
    if any(part != str(int(part)) for part in match.groups()):
        # rocker tags are canonical: 4.05.1 parses but names no image.
        canonical = ".".join(str(int(part)) for part in match.groups())
        raise ValueError(f"no rocker image is tagged so; write it without leading zeros ({canonical})")
    if (int(match[1]), int(match[2])) < (4, 0):
        raise ValueError("kubepar needs R 4.0 or newer")
    return value


def ubuntu_series(r_version: str) -> str:
    """Ubuntu release of the rocker images for an R version (rocker-versioned2 build/args/history.tsv)."""
    major, minor, patch = (int(part) for part in r_version.split("."))
    if (major, minor, patch) >= (4, 4, 2):
        return "noble"
    if (major, minor) >= (4, 2):
        return "jammy"
    return "focal"


def cran_repository(r_version: str, snapshot: str) -> str:
    """The dated Posit Package Manager snapshot of Linux binaries for the rocker image of ``r_version``.

    rocker's own Rprofile.site points at the same host, but for the current R
    release at the moving ``latest``: pinning the date keeps every pod on
    identical package versions.
    """
    return f"https://p3m.dev/cran/__linux__/{ubuntu_series(r_version)}/{snapshot}"


def _parse_snapshot(value: str) -> str:
    if not _SNAPSHOT_DATE.fullmatch(value):
        raise ValueError("expected a date YYYY-MM-DD such as 2026-06-30")
    day = date.fromisoformat(value)
    if day < date(2020, 1, 1) or day > date.today():
        raise ValueError("the snapshot date must lie between 2020-01-01 and today")
    return value


def _parse_maintenance(value: str) -> tuple[tuple[str, ...], str]:
    match = _MAINTENANCE.fullmatch(value)
    if not match:
        raise ValueError("expected DAYS HH:MM in UTC, such as SA,SU 01:00")
    days = tuple(day for day in _WEEKDAYS if day in match[1].split(","))
    if len(days) < 2:
        # GKE wants 48 hours of windows in any 32 days: two 6-hour days a week give about 55.
        raise ValueError(f"name at least two days: GKE needs 48 hours of windows a month ({MAINTENANCE_HOURS} h each)")
    return days, f"{match[2]}:{match[3]}"


def _check_stack_name(read: _Reader, stack: str) -> None:
    if not _STACK_NAME.fullmatch(stack):
        read.problems.append(
            f"stack name {stack!r}: kubepar puts it into service account ids and labels, so it must be "
            "1-16 lowercase letters, digits or '-', starting with a letter; "
            "create a stack with such a name (`pulumi stack init dev-eu`)"
        )


def _parse_dask_version(value: str) -> str:
    if not _DASK_VERSION.fullmatch(value):
        raise ValueError("expected YEAR.MONTH.PATCH such as 2026.7.1")
    if any(part != str(int(part)) for part in value.split(".")):
        # Dask's tags are canonical: 2026.07.1 parses but names no image.
        canonical = ".".join(str(int(part)) for part in value.split("."))
        raise ValueError(f"no Dask image is tagged so; write it without leading zeros ({canonical})")
    return value


def _packages(read: _Reader, engine: str) -> list[str]:
    packages: list[str] = []
    names: set[str] = set()
    for spec in read.string_list("packages"):
        if engine == "r":
            name = spec if _CRAN_NAME.fullmatch(spec) else None
            problem = (
                f"{spec!r} is not a CRAN package name (letters, digits and dots, "
                "starting with a letter); list bare names such as data.table"
            )
        else:
            match = _PINNED_REQUIREMENT.fullmatch(spec)
            name = match[1].lower().replace("_", "-") if match else None
            problem = f"{spec!r} is not a pinned requirement; write name==version, such as xarray==2025.1.2"
        if name is None:
            read.fail("packages", problem)
        elif engine == "r" and name in R_CORE_PACKAGES:
            continue  # kubepar installs these anyway
        elif engine == "dask" and name in DASK_IMAGE_PACKAGES:
            read.fail(
                "packages",
                f"{spec!r} would replace the Dask image's own {name}, so pods would run another version than "
                "daskVersion and break; remove it (change daskVersion to move Dask itself)",
            )
        elif name in names:
            read.fail("packages", f"{spec!r} is listed twice")
        else:
            names.add(name)
            packages.append(spec)
    return packages


_SWEEP_NAME = re.compile(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?")


def _sweep_script(read: _Reader, key: str, value: Any) -> tuple[str, str, str] | None:
    """(relative path, text, language) of a sweep's script, which must be a file in the project."""
    if not isinstance(value, str) or not value or value != value.strip():
        read.fail(key, f"{value!r} is not a file path; give the script's path relative to {PROJECT_ROOT.name}/")
        return None
    relative = Path(value)
    language = SWEEP_LANGUAGES.get(relative.suffix)
    if language is None:
        read.fail(key, f"{value!r} is neither an R (.R) nor a Python (.py) script")
        return None
    path = (PROJECT_ROOT / relative).resolve()
    if relative.is_absolute() or not path.is_relative_to(PROJECT_ROOT):
        read.fail(
            key, f"{value!r} lies outside the project; put the script in the project folder and give its relative path"
        )
        return None
    if not path.is_file():
        read.fail(key, f"{value!r} does not exist (looked for {path}); add the script, or fix the path")
        return None
    size = path.stat().st_size
    if size > MAX_SCRIPT_BYTES:
        read.fail(
            key,
            f"{value!r} has {size} bytes, more than {MAX_SCRIPT_BYTES} a ConfigMap can carry; "
            "move data to the bucket and keep the script small",
        )
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        read.fail(key, f"{value!r} is not UTF-8 text")
        return None
    return relative.as_posix(), text, language


def _sweeps(read: _Reader, worker_cpu: str, worker_memory: str) -> list[SweepSettings]:
    """Every sweep in ``kubepar:sweeps``, validated; sorted by name."""
    deadline_hours = read.integer(
        "sweepDeadlineHours", 1, MAX_SWEEP_DEADLINE_HOURS, f"use 1..{MAX_SWEEP_DEADLINE_HOURS} hours"
    )
    sweeps: dict[str, SweepSettings] = {}
    for index, entry in enumerate(read.object_list("sweeps")):
        label = f"sweeps[{index}]"
        if not isinstance(entry, dict):
            read.fail(label, f"{entry!r} is not a mapping with name, script and tasks")
            continue
        name = entry.get("name")
        if isinstance(name, str) and _SWEEP_NAME.fullmatch(name):
            label = f"sweeps[{name}]"
        else:
            read.fail(
                f"{label}.name",
                f"{name!r} is not a name of 1-{MAX_SWEEP_NAME} lowercase letters, digits "
                "or '-', starting with a letter (it names the Job and the results folder)",
            )
            name = None
        for unknown in sorted(set(entry) - set(SWEEP_KEYS)):
            close = difflib.get_close_matches(str(unknown), SWEEP_KEYS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"a sweep takes {', '.join(SWEEP_KEYS)}"
            read.fail(f"{label}.{unknown}", f"not a sweep setting, so it would do nothing; {hint}")
        script = _sweep_script(read, f"{label}.script", entry.get("script"))
        tasks = read.bounded(
            f"{label}.tasks", entry.get("tasks"), 1, MAX_SWEEP_TASKS, f"a sweep has 1..{MAX_SWEEP_TASKS} tasks"
        )
        parallelism = read.bounded(
            f"{label}.parallelism",
            entry.get("parallelism", 1),
            1,
            MAX_SWEEP_PARALLELISM,
            f"run 1..{MAX_SWEEP_PARALLELISM} pods at once",
        )
        retries = read.bounded(
            f"{label}.retries",
            entry.get("retries", 3),
            0,
            MAX_SWEEP_RETRIES,
            "retries count failures of the script itself; preemptions never use them",
        )
        seed = read.bounded(f"{label}.seed", entry.get("seed", 1), 0, 2**31 - 1, "use a whole number such as 42")
        deadline = read.bounded(
            f"{label}.deadlineHours",
            entry.get("deadlineHours", deadline_hours),
            1,
            MAX_SWEEP_DEADLINE_HOURS,
            "after it Kubernetes stops the sweep's pods and frees their nodes",
        )
        cpu = _sweep_quantity(read, f"{label}.cpu", entry.get("cpu", worker_cpu), _parse_cpu, "such as 1 or 500m")
        memory = _sweep_quantity(
            read, f"{label}.memory", entry.get("memory", worker_memory), _parse_memory, "such as 2Gi"
        )
        max_failed: int | None = None
        if tasks is not None:
            default_failed = max(1, math.ceil(tasks / 10))
            max_failed = read.bounded(
                f"{label}.maxFailed",
                entry.get("maxFailed", default_failed),
                1,
                tasks,
                "after this many failed tasks the Job stops starting new ones",
            )
            if parallelism is not None and parallelism > tasks:
                read.fail(f"{label}.parallelism", f"{parallelism} pods for {tasks} tasks; use at most {tasks}")
        if name in sweeps:
            read.fail(label, f"the name {name!r} is used twice; each sweep needs its own")
            continue
        if None in (name, script, tasks, parallelism, retries, seed, cpu, memory, max_failed, deadline):
            continue
        assert name is not None and script is not None and cpu is not None and memory is not None
        sweeps[name] = SweepSettings(
            name=name,
            script=script[0],
            script_text=script[1],
            language=script[2],
            tasks=int(tasks or 0),
            parallelism=int(parallelism or 0),
            cpu=cpu,
            memory=memory,
            retries=int(retries or 0),
            seed=int(seed or 0),
            max_failed=int(max_failed or 0),
            deadline_hours=int(deadline or 0),
        )
    return [sweeps[name] for name in sorted(sweeps)]


def _sweep_quantity(read: _Reader, key: str, value: Any, parse: Callable[[str], str], example: str) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        read.fail(key, f"{value!r} is not a Kubernetes quantity {example}")
        return None
    try:
        return parse(str(value))
    except ValueError as error:
        read.fail(key, f"{str(value)!r} is not valid ({error}); use a Kubernetes quantity {example}")
        return None


# Upper bounds: the largest GCE machines have a few hundred vCPUs and about
# 12 TiB of memory; a persistent disk holds at most 64 TiB.
MAX_CPU_MILLIS = 512_000
MAX_MEMORY_BYTES = 12 * 1024**4
MAX_DISK_BYTES = 64 * 1024**4


def _parse_cpu(value: str) -> str:
    millis = quantities.cpu_millis(value)
    if millis <= 0:
        raise ValueError("must be more than 0")
    if millis > MAX_CPU_MILLIS:
        raise ValueError(f"more than {MAX_CPU_MILLIS // 1000} CPUs, beyond any machine")
    return value


def _parse_memory(value: str) -> str:
    size = quantities.memory_bytes(value)
    if size < 256 * 1024**2:
        raise ValueError("must be at least 256Mi")
    if size > MAX_MEMORY_BYTES:
        raise ValueError("more than 12Ti, beyond any machine")
    return value


def _parse_disk(value: str) -> str:
    size = quantities.memory_bytes(value)
    if size < 1024**3:
        raise ValueError("must be at least 1Gi")
    if size > MAX_DISK_BYTES:
        raise ValueError("more than 64Ti, the largest persistent disk")
    return value


def _parse_namespace(value: str) -> str:
    if not _DNS_LABEL.fullmatch(value):
        raise ValueError("a namespace is lowercase letters, digits and '-', at most 63")
    if value.startswith("kube-") or value == "default":
        # Kubernetes' own namespaces: kubepar would share them, and destroy would empty them.
        raise ValueError("kube-* and default belong to Kubernetes; use a namespace of the stack's own")
    return value


def _parse_cidr(value: str) -> str:
    network = ipaddress.ip_network(value, strict=True)
    if not network.is_private:
        raise ValueError("cluster ranges must be private (RFC 1918)")
    return str(network)


def parse(raw: Mapping[str, str | None], *, stack: str, gcp_project: str | None) -> Settings:
    """Validate raw config values (strings, lists as JSON) into :class:`Settings`.

    Raises :class:`ConfigError` with every problem at once.
    """
    read = _Reader(raw)
    platform = read.choice("platform", PLATFORMS)
    namespace = read.parsed("namespace", _parse_namespace, "for example kubepar", "kubepar")
    engine = read.choice("engine", ENGINES)
    r_backend = read.choice("rBackend", R_BACKENDS)
    if engine != "r" and r_backend != "psock" and not read.failed("engine"):
        read.fail("rBackend", f"{r_backend!r} applies to engine r only; Dask has its own scheduler (remove it)")
    if engine == "r":
        workers = read.integer(
            "workers", 0, MAX_R_WORKERS, f"use 0..{MAX_R_WORKERS} (an R session holds about 125 connections)"
        )
    else:
        workers = read.integer("workers", 0, MAX_DASK_WORKERS, f"use 0..{MAX_DASK_WORKERS}")
    r_version = read.parsed("rVersion", _parse_r_version, "use a rocker image tag such as 4.6.1", "4.6.1")
    cpu_fix = "use a Kubernetes CPU quantity such as 1 or 500m"
    memory_fix = "use a Kubernetes memory quantity such as 2Gi or 512Mi"
    worker_cpu = read.parsed("workerCpu", _parse_cpu, cpu_fix, "1")
    worker_memory = read.parsed("workerMemory", _parse_memory, memory_fix, "2Gi")
    scheduler_cpu = read.parsed("schedulerCpu", _parse_cpu, cpu_fix, "1")
    scheduler_memory = read.parsed("schedulerMemory", _parse_memory, memory_fix, "2Gi")
    home_size = read.parsed("homeSize", _parse_disk, "use a size such as 20Gi", "20Gi")
    worker_port = read.integer("workerPort", 1024, 65535, "use an unprivileged port such as 11562")
    if worker_port == 8787:
        read.fail("workerPort", "8787 is RStudio's port; use another, such as 11562")
    setup_timeout = read.integer("workerSetupTimeout", 1, 60, "a few seconds keeps idle workers quick to join")
    cran_snapshot = read.parsed("cranSnapshot", _parse_snapshot, "use the date of a package snapshot", "2026-06-30")
    _check_stack_name(read, stack)

    dask_version = read.parsed("daskVersion", _parse_dask_version, "use a Dask release such as 2026.7.1", "2026.7.1")
    packages = _packages(read, engine)
    if engine == "dask" and not read.failed("workerCpu"):
        millis = quantities.cpu_millis(worker_cpu)
        if millis >= 1000 and millis % 1000:
            read.fail(
                "workerCpu",
                f"{worker_cpu!r} is not a whole number of CPUs; Dask's --nthreads is an integer "
                f"(use {millis // 1000} or {millis // 1000 + 1})",
            )

    allowed = read.cidrs("allowedSourceRanges", "RStudio")
    kube_context = read.text("kubeContext") or None
    sweeps = _sweeps(read, worker_cpu, worker_memory) if not read.failed("workerCpu", "workerMemory") else []

    gke: GkeSettings | None = None
    if platform == "gke":
        gke = _parse_gke(read, gcp_project, workers, worker_cpu, worker_memory, sweeps)
        _check_scheduler_fits(read, gke.system_machine_type, scheduler_cpu, scheduler_memory, sidecar=True)
        _check_not_cluster_ranges(read, allowed, gke)
    elif read.string_list("masterAuthorizedNetworks"):
        read.fail("masterAuthorizedNetworks", "only applies to platform gke; remove it")
    node_pools = platform == "gke" or read.boolean("nodePools")
    if platform == "existing" and node_pools and not read.failed("workerCpu", "workerMemory"):
        _check_existing_pools(read, workers, worker_cpu, worker_memory, sweeps, scheduler_cpu, scheduler_memory)

    deletion_protection = read.boolean("deletionProtection")
    replace_home = read.boolean("replaceHome")
    if read.problems:
        raise ConfigError(read.problems)

    workload = WorkloadSettings(
        stack=stack,
        engine=engine,
        r_backend=r_backend,
        dask_version=dask_version,
        namespace=namespace,
        r_version=r_version,
        workers=workers,
        worker_cpu=worker_cpu,
        worker_memory=worker_memory,
        scheduler_cpu=scheduler_cpu,
        scheduler_memory=scheduler_memory,
        home_size=home_size,
        packages=tuple(sorted(packages)),
        allowed_source_ranges=allowed,
        worker_port=worker_port,
        worker_setup_timeout=setup_timeout,
        worker_pool_selector=node_pools,
        deletion_protection=deletion_protection,
        replace_home=replace_home,
        cran_snapshot=cran_snapshot,
        cran_repository=cran_repository(r_version, cran_snapshot),
        sweeps=tuple(sweeps),
    )
    return Settings(
        stack=stack,
        platform=platform,
        kube_context=kube_context,
        gke=gke,
        workload=workload,
        password=None,
        warnings=tuple(read.warnings),
    )


def _parse_gke(
    read: _Reader,
    gcp_project: str | None,
    workers: int,
    worker_cpu: str,
    worker_memory: str,
    sweeps: list[SweepSettings],
) -> GkeSettings:
    if not gcp_project:
        read.problems.append(
            "gcp:project: not set; platform gke needs a GCP project "
            "(`pulumi config set gcp:project <id>`), or use platform existing"
        )
    elif not _GCP_PROJECT.fullmatch(gcp_project):
        read.problems.append(f"gcp:project: {gcp_project!r} is not a GCP project id")
    location = read.text("location")
    if not location:
        read.fail("location", "not set; platform gke needs a zone such as europe-west1-b")
    elif not _GCP_LOCATION.fullmatch(location):
        read.fail("location", f"{location!r} is not a GCP zone or region such as europe-west1-b")
    regional = re.search(r"-[a-z]\Z", location) is None
    region = location if regional else location.rsplit("-", 1)[0]
    if regional and location and not read.failed("location"):
        read.warn(
            "location",
            f"{location!r} is a region: GKE runs the control plane and every node pool in three of its zones, "
            "so each pool has three times the nodes (and the bill) of a zonal cluster; "
            f"name a zone such as {location}-b unless you need a zone's outage not to stop the cluster",
        )

    # Optional: kubectl, `pulumi up` and CI reach the API through the DNS
    # endpoint (authorised by IAM); these ranges open the IP endpoint too.
    networks = read.cidrs("masterAuthorizedNetworks", "the Kubernetes API")

    cidr_fix = "use a private CIDR such as 10.10.0.0/20"
    node_cidr = read.parsed("nodeCidr", _parse_cidr, cidr_fix, "10.10.0.0/20")
    pod_cidr = read.parsed("podCidr", _parse_cidr, cidr_fix, "10.20.0.0/14")
    service_cidr = read.parsed("serviceCidr", _parse_cidr, cidr_fix, "10.24.0.0/20")
    ranges = {"nodeCidr": node_cidr, "podCidr": pod_cidr, "serviceCidr": service_cidr}
    keys = list(ranges)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            if ipaddress.ip_network(ranges[first]).overlaps(ipaddress.ip_network(ranges[second])):
                read.fail(second, f"{ranges[second]} overlaps {first} {ranges[first]}; pick disjoint ranges")

    system_machine, worker_machine = _machine_types(read)

    weekend: tuple[str, ...] = ("SA", "SU")
    maintenance = read.parsed(
        "maintenanceWindow", _parse_maintenance, "GKE upgrades only inside it", (weekend, "01:00")
    )

    max_nodes, per_node = _worker_pool_size(read, worker_machine, workers, worker_cpu, worker_memory, sweeps)

    return GkeSettings(
        project=gcp_project or "",
        location=location,
        region=region,
        release_channel=read.choice("releaseChannel", RELEASE_CHANNELS),
        master_authorized_networks=networks,
        maintenance_days=maintenance[0],
        maintenance_start=maintenance[1],
        node_cidr=node_cidr,
        pod_cidr=pod_cidr,
        service_cidr=service_cidr,
        system_machine_type=system_machine,
        worker_machine_type=worker_machine,
        spot=read.boolean("spot"),
        worker_pool_max_nodes=max_nodes,
        workers_per_node=per_node,
        regional=regional,
    )


MAX_DERIVED_POOL_NODES = 1000


def _worker_pool_size(
    read: _Reader,
    machine: str,
    workers: int,
    worker_cpu: str,
    worker_memory: str,
    sweeps: list[SweepSettings],
    *,
    sidecar: bool = True,
) -> tuple[int, int | None]:
    """(worker pool ceiling, workers per node): derived, or set by hand, so workers and every sweep fit at once.

    ``sidecar``: task pods mount the results bucket (GKE) and carry the FUSE sidecar.
    """
    shape = quantities.machine_shape(machine)
    # 0, the default, means derived (the CLI refuses a declared key without a default).
    max_nodes = read.integer("workerPoolMaxNodes", 0, 1000, "use 1..1000, or 0 to derive it")
    explicit = max_nodes > 0
    if shape is None or read.failed("workerCpu", "workerMemory", "workerMachineType", "workerPoolMaxNodes"):
        return max(1, max_nodes), None
    per_node = quantities.workers_per_node(
        shape, quantities.cpu_millis(worker_cpu), quantities.memory_bytes(worker_memory)
    )
    if per_node == 0:
        read.fail(
            "workerMachineType",
            f"a worker ({worker_cpu} CPU, {worker_memory}) does not fit on {machine} "
            "after GKE's reservations; choose a larger machine or smaller workerCpu/workerMemory",
        )
        return max(1, max_nodes), None
    worker_nodes = math.ceil(workers / per_node)
    needs = [f"{workers} workers need {worker_nodes} ({per_node} per node)"] if workers else []
    needed = worker_nodes
    for sweep in sweeps:
        # Each task pod also carries the Cloud Storage FUSE sidecar.
        fit = quantities.workers_per_node(
            shape,
            quantities.cpu_millis(sweep.cpu) + (GCSFUSE_SIDECAR_CPU_MILLIS if sidecar else 0),
            quantities.memory_bytes(sweep.memory) + (GCSFUSE_SIDECAR_MEMORY_BYTES if sidecar else 0),
        )
        if fit == 0:
            beside = " and the storage sidecar" if sidecar else ""
            read.fail(
                f"sweeps[{sweep.name}].cpu",
                f"a task pod ({sweep.cpu} CPU, {sweep.memory}{beside}) does not fit on {machine}; "
                "choose a larger workerMachineType or a smaller cpu/memory for the sweep",
            )
            continue
        nodes = math.ceil(sweep.parallelism / fit)
        needs.append(f"sweep {sweep.name} needs {nodes} ({sweep.parallelism} pods, {fit} per node)")
        needed += nodes
    if explicit:
        if needed > max_nodes:
            # Pods past the ceiling would stay Pending for ever: refuse now, with the numbers.
            read.fail(
                "workerPoolMaxNodes",
                f"{max_nodes} {machine} nodes cannot hold everything that runs at once: {'; '.join(needs)}; "
                f"{needed} in all. Raise workerPoolMaxNodes to {needed} (or set 0 to derive it), "
                "or lower workers or a sweep's parallelism",
            )
        return max_nodes, None
    if needed > MAX_DERIVED_POOL_NODES:
        read.fail(
            "sweeps",
            f"workers and sweeps together need {needed} {machine} nodes, over the pool's {MAX_DERIVED_POOL_NODES}; "
            "lower parallelism or choose a larger workerMachineType",
        )
    return max(1, min(needed, MAX_DERIVED_POOL_NODES)), per_node


def _machine_types(read: _Reader) -> tuple[str, str]:
    """(system, worker) machine types, each one kubepar can size."""
    machines = (read.text("systemMachineType"), read.text("workerMachineType"))
    for key, machine in zip(("systemMachineType", "workerMachineType"), machines, strict=True):
        if quantities.machine_shape(machine) is None:
            read.fail(
                key,
                f"{machine!r} is not a machine type kubepar can size "
                "(FAMILY-standard|highmem|highcpu-N, e2-medium, FAMILY-custom-CPUS-MB)",
            )
    return machines


def _check_existing_pools(
    read: _Reader, workers: int, worker_cpu: str, worker_memory: str, sweeps: list[SweepSettings], cpu: str, memory: str
) -> None:
    """platform existing with nodePools: the cluster's pools are fixed, so what runs must fit them now."""
    system_machine, worker_machine = _machine_types(read)
    if not read.failed("workerPoolMaxNodes") and read.text("workerPoolMaxNodes") in ("", "0"):
        read.fail(
            "workerPoolMaxNodes",
            "with nodePools on an existing cluster, set it to the number of worker nodes the cluster has; "
            "kubepar checks that workers and sweeps fit on them",
        )
        return
    _worker_pool_size(read, worker_machine, workers, worker_cpu, worker_memory, sweeps, sidecar=False)
    _check_scheduler_fits(read, system_machine, cpu, memory, sidecar=False)


def _check_not_cluster_ranges(read: _Reader, allowed: tuple[str, ...], gke: GkeSettings) -> None:
    """Users' addresses never lie in the cluster's own ranges: such an entry is a mistake."""
    own = {"nodeCidr": gke.node_cidr, "podCidr": gke.pod_cidr, "serviceCidr": gke.service_cidr}
    for item in allowed:
        network = ipaddress.ip_network(item)
        for key, cidr in own.items():
            if network.overlaps(ipaddress.ip_network(cidr)):
                read.fail(
                    "allowedSourceRanges",
                    f"{item} overlaps the cluster's own {key} {cidr}: those are the cluster's addresses, "
                    "not your users'. List the public addresses you connect from",
                )


def unknown_keys(keys: list[str]) -> list[str]:
    """A problem per ``kubepar:`` key that kubepar does not read (a typo does nothing otherwise)."""
    known = set(DEFAULTS)
    problems = []
    for full in sorted(keys):
        project, _, key = full.partition(":")
        if project != PROJECT or key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {PROJECT}:{close[0]}?" if close else "see Pulumi.yaml for the keys kubepar reads"
        problems.append(f"{full}: not a kubepar setting, so it would do nothing; {hint} (remove or rename it)")
    return problems


def _check_scheduler_fits(read: _Reader, machine: str, cpu: str, memory: str, *, sidecar: bool) -> None:
    """The scheduler (and the Dask notebook) must fit on one system node, or it stays Pending.

    ``sidecar``: the session mounts the results bucket (GKE), so the FUSE sidecar sits beside it.
    """
    shape = quantities.machine_shape(machine)
    if shape is None or read.failed("schedulerCpu", "schedulerMemory"):
        return
    cpu_needed = quantities.cpu_millis(cpu) + (GCSFUSE_SIDECAR_CPU_MILLIS if sidecar else 0)
    memory_needed = quantities.memory_bytes(memory) + (GCSFUSE_SIDECAR_MEMORY_BYTES if sidecar else 0)
    if quantities.workers_per_node(shape, cpu_needed, memory_needed) == 0:
        cpu_left, memory_left = quantities.allocatable(shape)
        beside = (
            f", and the storage sidecar's {GCSFUSE_SIDECAR_CPU_MILLIS}m, {GCSFUSE_SIDECAR_MEMORY_BYTES // 1024**2}Mi"
            if sidecar
            else ""
        )
        read.fail(
            "schedulerMemory" if memory_needed > memory_left else "schedulerCpu",
            f"the scheduler ({cpu} CPU, {memory}{beside}) does not fit on a {machine} system node, "
            f"which has {cpu_left}m CPU and {memory_left // 1024**2}Mi left after GKE's reservations; "
            "its pod would stay Pending. Lower schedulerCpu/schedulerMemory or choose a larger systemMachineType",
        )


def load() -> Settings:
    """Read this stack's config; raise one RunError listing every problem."""
    config = pulumi.Config(PROJECT)
    # The password is read apart: as a secret, and only once it is checked.
    raw: dict[str, str | None] = {key: config.get(key) for key in DEFAULTS if key != "password"}
    gcp_project = pulumi.Config("gcp").get("project")
    password_key = f"{PROJECT}:password"
    # Read without get_secret first, to check it before anything is created.
    password_raw: Any = pulumi.runtime.get_config(password_key) or None
    problems: list[str] = []
    try:
        settings = parse(raw, stack=pulumi.get_stack(), gcp_project=gcp_project)
    except ConfigError as errors:
        problems = list(errors.problems)
        settings = None
    problems += unknown_keys([*pulumi.runtime.config.CONFIG.get(), *pulumi.runtime.config.get_config_env()])
    if password_raw is not None:
        if not pulumi.runtime.is_config_secret(password_key):
            problems.append(
                f"{password_key}: stored in plain text; set it with "
                "`pulumi config set --secret password` (or unset it to generate one)"
            )
        elif len(str(password_raw)) < 12:
            problems.append(f"{password_key}: shorter than 12 characters; choose a longer one")
        elif any(not character.isprintable() for character in str(password_raw)):
            # rocker's init hands it to chpasswd as one line; a control character cuts or mangles it.
            problems.append(
                f"{password_key}: holds a newline or another control character, which the login would "
                "not take as typed; choose one of printable characters only"
            )
    if problems or settings is None:
        raise pulumi.RunError("invalid stack configuration, nothing was created:\n  " + "\n  ".join(problems))
    password = config.get_secret("password") if password_raw is not None else None
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    return Settings(
        stack=settings.stack,
        platform=settings.platform,
        kube_context=settings.kube_context,
        gke=settings.gke,
        workload=settings.workload,
        password=password,
        warnings=settings.warnings,
    )
