"""kubepar sweep helpers for Python scripts: the same contract as kubepar.R's.

In a sweep's task pod (the Indexed Job runs ``kubepar-sweep.py``, which runs
the user's script): ``task()`` gives the index, the count and a NumPy random
generator of its own, the same on a retry; ``save(value)`` writes
``<results>/<task>.pkl`` atomically (temporary name, then rename). In the
notebook: ``results(sweep)`` returns the results in task order and names the
missing tasks; ``sweeps()`` lists runs with done/failed/running counts.

Layout (shared with R): ``<root>/<sweep>/<run>/<task>.pkl`` and
``<run>/.kubepar/{run.dcf,running/,failed/,tmp/}``.
"""

from __future__ import annotations

import os
import pickle
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Task:
    index: int
    count: int
    seed: int
    sweep: str
    run: str
    rng: Any
    """numpy.random.Generator seeded from SeedSequence(seed, spawn_key=(index,)):
    the index-th child of the sweep's seed, independent of every other task."""


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"kubepar: {name} is not set; task() and save() run inside a sweep's task pod")
    return value


def task() -> Task:
    import numpy as np

    index, seed = int(_env("KUBEPAR_TASK")), int(_env("KUBEPAR_SEED"))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))
    return Task(index, int(_env("KUBEPAR_TASKS")), seed, _env("KUBEPAR_SWEEP"), _env("KUBEPAR_RUN"), rng)


def save(value: Any) -> Path:
    results, index = Path(_env("KUBEPAR_RESULTS")), int(_env("KUBEPAR_TASK"))
    tmp_dir = results / ".kubepar" / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / f"{index}-{socket.gethostname()}-{os.getpid()}"
    with tmp.open("wb") as handle:
        pickle.dump(value, handle)
    final = results / f"{index}.pkl"
    # The result appears whole, or not at all.
    os.replace(tmp, final)
    return final


def _manifest(run_dir: Path) -> dict[str, str]:
    path = run_dir / ".kubepar" / "run.dcf"
    if not path.exists():
        return {}
    return dict(line.split(": ", 1) for line in path.read_text().splitlines() if ": " in line)


def _indices(folder: Path, pattern: str) -> set[int]:
    if not folder.is_dir():
        return set()
    return {int(m[1]) for name in os.listdir(folder) if (m := re.fullmatch(pattern, name))}


def _root() -> Path:
    root = Path(os.environ.get("KUBEPAR_RESULTS_ROOT", ""))
    if not str(root) or not root.is_dir():
        raise RuntimeError("kubepar: no results folder here; sweep results are mounted in the stack's session pod")
    return root


def results(sweep: str, run: str | None = None) -> list[Any]:
    """The results of a run (default: the newest) in task order; None for a missing task (named on stderr)."""
    runs = [d for d in (_root() / sweep).iterdir() if _manifest(d)] if (_root() / sweep).is_dir() else []
    if run is not None:
        runs = [d for d in runs if d.name == run]
    if not runs:
        raise RuntimeError(f"kubepar: sweep {sweep!r} has no run{f' {run!r}' if run else ''} yet; see sweeps()")
    run_dir = max(runs, key=lambda d: float(_manifest(d).get("started", 0)))
    count = int(_manifest(run_dir)["tasks"])
    done = _indices(run_dir, r"([0-9]+)\.pkl")
    values = []
    for index in range(count):
        if index in done:
            with (run_dir / f"{index}.pkl").open("rb") as handle:
                values.append(pickle.load(handle))
        else:
            values.append(None)
    missing = sorted(set(range(count)) - done)
    if missing:
        import sys

        print(f"kubepar: {len(missing)} of {count} tasks of {sweep!r} have no result: {missing[:20]}", file=sys.stderr)
    return values


def sweeps() -> list[dict[str, Any]]:
    """One row per run: sweep, run, tasks, done, failed, running."""
    rows = []
    for sweep_dir in sorted(p for p in _root().iterdir() if p.is_dir()):
        for run_dir in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
            manifest = _manifest(run_dir)
            if not manifest:
                continue
            done = _indices(run_dir, r"([0-9]+)\.(?:pkl|rds)")
            failed = _indices(run_dir / ".kubepar" / "failed", r"([0-9]+)") - done
            running = _indices(run_dir / ".kubepar" / "running", r"([0-9]+)") - done - failed
            rows.append(
                {
                    "sweep": sweep_dir.name,
                    "run": run_dir.name,
                    "tasks": int(manifest["tasks"]),
                    "done": len(done),
                    "failed": len(failed),
                    "running": len(running),
                }
            )
    return rows
