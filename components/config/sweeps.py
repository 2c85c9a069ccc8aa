"""Sweep config: ``kubepar:sweeps`` entries into validated sweeps, reading each script file.

Owns: every check of a sweep entry (its name, keys, bounds, resources and
script: a UTF-8 file inside the project, small enough for a ConfigMap), with
problems named ``sweeps[<name>].<key>``. Does not: size pools (ground/sizing.py)
or build Jobs.
Invariant: a sweep's script is read here, once; nothing later reads files.
"""

from __future__ import annotations

import difflib
import math
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.ground.parsers import parse_cpu, parse_disk, parse_memory
from components.ground.project import PROJECT_ROOT
from components.ground.reader import Reader
from components.ground.settings import SweepSettings

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
# Linux's limits: a name of 255 bytes, a path of 4096.
MAX_NAME = 255
MAX_PATH = 4096
SWEEP_LANGUAGES = {".R": "r", ".r": "r", ".py": "python"}
SWEEP_KEYS = (
    "name",
    "script",
    "tasks",
    "parallelism",
    "cpu",
    "memory",
    "disk",
    "retries",
    "seed",
    "maxFailed",
    "deadlineHours",
)

_SWEEP_NAME = re.compile(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?")


def _sweep_script(read: Reader, key: str, value: Any) -> tuple[str, str, str] | None:
    """(relative path, text, language) of a sweep's script, which must be a regular file in the project."""
    shown = repr(value) if not isinstance(value, str) or len(value) <= 80 else f"{value[:40]!r}... ({len(value)} chars)"
    if not isinstance(value, str) or not value or value != value.strip():
        read.fail(key, f"{shown} is not a file path; give the script's path relative to {PROJECT_ROOT.name}/")
        return None
    if "\x00" in value or any(not character.isprintable() for character in value):
        read.fail(key, f"{shown} holds a NUL or another control character, which no file name has; fix the path")
        return None
    relative = Path(value)
    if len(value) > MAX_PATH or any(len(part.encode()) > MAX_NAME for part in relative.parts):
        read.fail(key, f"{shown} is longer than a file path can be ({MAX_NAME} bytes a name); fix the path")
        return None
    language = SWEEP_LANGUAGES.get(relative.suffix)
    if language is None:
        read.fail(key, f"{shown} is neither an R (.R) nor a Python (.py) script")
        return None
    try:
        path = (PROJECT_ROOT / relative).resolve()
        inside = not relative.is_absolute() and path.is_relative_to(PROJECT_ROOT)
        status = path.stat() if inside and path.exists() else None
    except (OSError, RuntimeError) as error:  # a symlink loop, a name the system refuses
        read.fail(key, f"{shown} cannot be read ({error.__class__.__name__}: {error}); fix the path")
        return None
    if not inside:
        read.fail(
            key, f"{shown} lies outside the project; put the script in the project folder and give its relative path"
        )
        return None
    if status is None:
        read.fail(key, f"{shown} does not exist (looked for {path}); add the script, or fix the path")
        return None
    if not stat.S_ISREG(status.st_mode):
        # A folder, a pipe (reading it would wait for ever), a socket or a device.
        read.fail(
            key, f"{shown} is not a regular file ({_file_type(status.st_mode)}); give the path of the script itself"
        )
        return None
    size = status.st_size
    if size > MAX_SCRIPT_BYTES:
        read.fail(
            key,
            f"{shown} has {size} bytes, more than {MAX_SCRIPT_BYTES} a ConfigMap can carry; "
            "move data to the bucket and keep the script small",
        )
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        read.fail(key, f"{shown} is not UTF-8 text")
        return None
    except OSError as error:
        read.fail(key, f"{shown} cannot be read ({error.strerror}); check its permissions")
        return None
    return relative.as_posix(), text, language


def _file_type(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a device")


def parse_sweeps(read: Reader, worker_cpu: str, worker_memory: str) -> list[SweepSettings]:
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
        cpu = _sweep_quantity(read, f"{label}.cpu", entry.get("cpu", worker_cpu), parse_cpu, "such as 1 or 500m")
        memory = _sweep_quantity(
            read, f"{label}.memory", entry.get("memory", worker_memory), parse_memory, "such as 2Gi"
        )
        # The task's /tmp: what it may write besides its results (which go to the store).
        disk = _sweep_quantity(read, f"{label}.disk", entry.get("disk", "2Gi"), parse_disk, "such as 2Gi or 20Gi")
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
        if None in (name, script, tasks, parallelism, retries, seed, cpu, memory, disk, max_failed, deadline):
            continue
        assert name is not None and script is not None and cpu is not None and memory is not None
        assert disk is not None
        sweeps[name] = SweepSettings(
            name=name,
            script=script[0],
            script_text=script[1],
            language=script[2],
            tasks=int(tasks or 0),
            parallelism=int(parallelism or 0),
            cpu=cpu,
            memory=memory,
            disk=disk,
            retries=int(retries or 0),
            seed=int(seed or 0),
            max_failed=int(max_failed or 0),
            deadline_hours=int(deadline or 0),
        )
    return [sweeps[name] for name in sorted(sweeps)]


def _sweep_quantity(read: Reader, key: str, value: Any, parse: Callable[[str], str], example: str) -> str | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        read.fail(key, f"{value!r} is not a Kubernetes quantity {example}")
        return None
    try:
        return parse(str(value))
    except ValueError as error:
        read.fail(key, f"{str(value)!r} is not valid ({error}); use a Kubernetes quantity {example}")
        return None
