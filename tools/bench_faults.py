"""Time each fault of the engine's fault tests to recovery, and write the table.

Usage: ``.venv/bin/python -m tools.bench_faults [--write]`` (``make bench-faults``; needs ``make engine``).
Runs tests/engine/test_faults.py, test_recover.py and the hub's restart test
against a fresh local control plane; each records the seconds from the fault
to the state it promises back (tests/engine/conftest.py ``record``). With
``--write``, the table replaces its section in BENCHMARKS.md and in
docs/operations.md. One run measures every row, side by side on one machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from tools.bench import machine
from tools.bench_hub import write

ROOT = Path(__file__).resolve().parent.parent
TESTS = (
    "tests/engine/test_faults.py",
    "tests/engine/test_recover.py",
    "tests/engine/test_hub.py::test_a_hub_restart_keeps_its_users_their_groups_and_their_running_sessions",
)
SECTION = "## 10. Faults under the real controllers: what is lost, and the time back"
OPERATIONS_SECTION = "## Faults, measured"
# fault -> (what the user sees, what is lost), in the order of the table.
FAULTS = {
    "drain": (
        "RStudio or JupyterLab stays: the drain waits on the session's budget; one worker is moved",
        "the moved worker's task in progress (run again by future or the queue)",
    ),
    "sweep task evicted": (
        "the task starts again from its beginning; its retries are untouched",
        "the evicted task's partial work",
    ),
    "worker pool lost (Spot)": (
        "workers and tasks wait Pending, then run on the new nodes; the session stays",
        "the tasks in progress on the lost nodes (run again)",
    ),
    "queue server restarted": (
        "workers log `reconnecting`, then take tasks again",
        "nothing: the queue's append-only file is on its claim, the password in its Secret",
    ),
    "interrupted up": (
        "the next `make up` is refused (the stack is locked) and names `make recover`",
        "nothing: what the cut-off run made is removed, `make up` makes it once",
    ),
    "hub restarted": (
        "the hub's pages are away for the restart; running sessions keep running",
        "nothing: users, groups and sessions are in the hub's database on its claim",
    ),
}


def measure() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kubepar-bench-faults-") as folder:
        times = Path(folder) / "times.jsonl"
        env = {**os.environ, "KUBEPAR_FAULT_TIMES": str(times)}
        env.setdefault("PULUMI_CONFIG_PASSPHRASE", secrets.token_hex(16))
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", *TESTS], cwd=ROOT, env=env, check=False
        )
        if run.returncode != 0:
            raise SystemExit("bench_faults: a fault test failed; nothing written")
        records = [json.loads(line) for line in times.read_text().splitlines() if line.strip()]
        return {record["fault"]: record["seconds"] for record in records}


def table(times: dict[str, float]) -> str:
    rows = ["| Fault | What the user sees | What is lost | Back after |", "|---|---|---|---|"]
    for fault, (sees, lost) in FAULTS.items():
        seconds = times.get(fault)
        back = "not measured" if seconds is None else f"{seconds:.0f} s" if seconds >= 1 else "under 1 s"
        rows.append(f"| {fault} | {sees} | {lost} | {back} |")
    return "\n".join(rows)


def section(heading: str, times: dict[str, float]) -> str:
    return "\n".join(
        [
            heading,
            "",
            "Each fault driven on the local control plane (real kube-apiserver, controllers and scheduler;",
            "kwok nodes) against a stack the real Pulumi CLI deployed, timed from the fault to the state the",
            "stack promises back. The local control plane reacts faster than GKE: a new Spot node takes a",
            "minute or two there, which this does not include (the nodes come back by hand).",
            "",
            table(times),
            "",
            f"Command: `make bench-faults`. Machine: {machine()}. Date: {datetime.date.today().isoformat()}.",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write BENCHMARKS.md and docs/operations.md")
    args = parser.parse_args()
    times = measure()
    print(section(SECTION, times))
    if args.write:
        write(ROOT / "BENCHMARKS.md", section(SECTION, times), SECTION)
        write(ROOT / "docs" / "operations.md", section(OPERATIONS_SECTION, times), OPERATIONS_SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
