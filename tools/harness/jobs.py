"""A rendered sweep as the Job controller would run it: indexed tasks, retries, kills.

Owns: running a rendered Indexed Job's pods as local processes with the
controller's rules (completions per index, retries per index, the failure
policy), and kills at the pause points the test scripts take. Does not:
run Deployments (clusters.py).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.harness.capture import Capture
from tools.harness.pods import LocalContainer, start_r_pod


def sweep_job(capture: Capture, sweep: str) -> dict[str, Any]:
    found = [j for j in capture.kubernetes("Job") if j["metadata"]["labels"].get("kubepar.dev/sweep") == sweep]
    assert len(found) == 1, f"no single Job for sweep {sweep}"
    return found[0]


@dataclass(frozen=True)
class Kill:
    """Kill an index's first pod once ``when`` holds for its results folder (or after ``after`` seconds)."""

    signal: int
    disruption: bool
    """As a Spot preemption or eviction (DisruptionTarget), not as a failure of the script."""
    after: float = 0.0
    when: Any = None


@dataclass
class Attempt:
    index: int
    number: int
    exit_code: int | None = None
    disrupted: bool = False
    """Killed as a preemption or eviction would: the pod gets the DisruptionTarget condition."""


class LocalJob:
    """Plays the Job controller for one rendered Indexed Job.

    What it takes from the render: completions, parallelism,
    backoffLimitPerIndex, maxFailedIndexes and the podFailurePolicy; each pod
    runs its rendered init container, then its main container with the
    completion index the controller would give it. A pod that fails counts
    against its index's retries unless it was disrupted and the policy ignores
    DisruptionTarget.
    """

    def __init__(
        self,
        capture: Capture,
        sweep: str,
        root: Path,
        repository: str | None,
        env_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.capture = capture
        self.document = sweep_job(capture, sweep)
        self.spec = self.document["spec"]
        self.root = root
        self.repository = repository
        self.env_overrides = dict(env_overrides or {})
        self.attempts: list[Attempt] = []
        rules = (self.spec.get("podFailurePolicy") or {}).get("rules") or []
        self.ignores_disruptions = any(
            rule["action"] == "Ignore" and any(c["type"] == "DisruptionTarget" for c in rule.get("onPodConditions", []))
            for rule in rules
        )

    @property
    def name(self) -> str:
        return str(self.document["metadata"]["name"])

    def container(self, index: int, number: int) -> LocalContainer:
        return LocalContainer(
            self.capture,
            "sweep",
            self.root,
            pod_name=f"{self.name}-{index}-{number}",
            document=self.document,
            completion_index=index,
            env_overrides=self.env_overrides,
        )

    def start(self, index: int) -> tuple[Attempt, subprocess.Popen[bytes]]:
        """One pod of ``index``: its init container (if any) to completion, then its main container."""
        number = sum(1 for a in self.attempts if a.index == index)
        attempt = Attempt(index, number)
        self.attempts.append(attempt)
        pod = f"{self.name}-{index}-{number}"
        if self.spec["template"]["spec"].get("initContainers"):
            assert self.repository is not None
            start_r_pod(self.capture, "sweep", self.root, self.repository, pod, document=self.document)
        return attempt, self.container(index, number).start(self.root / f"{pod}.log")

    def counted_failures(self, index: int) -> int:
        return sum(
            1
            for a in self.attempts
            if a.index == index and a.exit_code not in (0, None) and not (a.disrupted and self.ignores_disruptions)
        )

    def run(
        self, indices: list[int] | None = None, timeout: float = 600, kills: Mapping[int, Kill] | None = None
    ) -> dict[str, list[int]]:
        """Run every index (or the ones given) to success or to its retry limit, ``parallelism`` at a time.

        ``kills`` stop an index's first pod part-way, as a preemption or an OOM kill would.
        """
        kills = dict(kills or {})
        started_at: dict[int, float] = {}
        pending = list(range(self.spec["completions"]) if indices is None else indices)
        running: list[tuple[Attempt, subprocess.Popen[bytes]]] = []
        succeeded: set[int] = set()
        failed: set[int] = set()
        deadline = time.monotonic() + timeout
        while pending or running:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sweep did not finish in {timeout} s:\n{self.logs()}")
            stop_starting = len(failed) > self.spec["maxFailedIndexes"]
            while pending and len(running) < self.spec["parallelism"] and not stop_starting:
                running.append(self.start(pending.pop(0)))
                started_at[id(running[-1][0])] = time.monotonic()
            for entry in list(running):
                attempt, process = entry
                kill = kills.get(attempt.index) if attempt.number == 0 else None
                if kill is not None and process.poll() is None:
                    due = time.monotonic() - started_at[id(attempt)] >= kill.after
                    if due and (kill.when is None or kill.when()):
                        os.killpg(process.pid, kill.signal)
                        attempt.disrupted = kill.disruption
                        del kills[attempt.index]
                code = process.poll()
                if code is None:
                    continue
                running.remove(entry)
                attempt.exit_code = code
                if code == 0:
                    succeeded.add(attempt.index)
                elif self.counted_failures(attempt.index) > self.spec["backoffLimitPerIndex"]:
                    failed.add(attempt.index)
                else:
                    pending.append(attempt.index)
            if stop_starting and not running:
                break
            time.sleep(0.05)
        return {"succeeded": sorted(succeeded), "failed": sorted(failed)}

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(self.root.glob("*.log"))
        )
