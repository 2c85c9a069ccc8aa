"""Sweep plans: what one sweep's task pods run, for R and Python scripts.

Owns: a sweep's task role (its image, the script under kubepar's runner,
the stack's packages for the script's language, the task index from the
Job controller), its scripts, and its run id. Does not: know the Job or its
retries (k8s/sweep.py).
Invariant: the run id is a digest of what shapes the results (scripts,
image, packages, tasks, CPU, seed) and of nothing else: a change of any of
these starts a new run in a new results folder, while memory, retries and
the failure budget change only the Job, so raising memory after
out-of-memory kills keeps every finished task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from components.engines import python_language, r_language
from components.engines.model import (
    RESULTS_DIR,
    SCRIPTS_DIR,
    SPOT_GRACE_SECONDS,
    Disruption,
    Exposure,
    Installer,
    PodRole,
    Storage,
    files,
)
from components.ground.settings import SweepSettings, WorkloadSettings

# The sweep's task index, as the Job controller annotates each pod.
COMPLETION_INDEX_FIELD = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
SWEEP_PROBE_REASON = "a task runs to completion and serves no port; the Job controller watches its exit"
# The engine whose packages a sweep of each language shares.
LANGUAGE_ENGINES = {"r": "r", "python": "dask"}


@dataclass(frozen=True, kw_only=True)
class SweepPlan:
    """What one sweep runs: its task role, the scripts its pods mount, and its run id."""

    role: PodRole
    files: dict[str, str]
    run: str
    """Digest of everything that shapes the results: a new one starts a new run."""


def sweep_plan(settings: WorkloadSettings, sweep: SweepSettings) -> SweepPlan:
    """A sweep's task pod: the script under kubepar's runner, with the stack's packages for its language."""
    own_packages = settings.packages if settings.engine == LANGUAGE_ENGINES[sweep.language] else ()
    installer: Installer | None
    if sweep.language == "r":
        image = r_language.r_base_image(settings.r_version)
        installer = r_language.r_installer(settings, own_packages)
        scripts = files("r", ("kubepar.R", "kubepar-sweep.R", "install-packages.R"))
        command: tuple[str, ...] = ("Rscript", f"{SCRIPTS_DIR}/kubepar-sweep.R")
        script_key = "script.R"
        language_env: tuple[tuple[str, str], ...] = (("R_PROFILE_USER", f"{SCRIPTS_DIR}/kubepar.R"),)
    else:
        image = python_language.dask_image(settings)
        installer = None
        scripts = files("python", ("kubepar_sweep.py", "kubepar-sweep.py", "install-packages.sh"))
        command = ("python", f"{SCRIPTS_DIR}/kubepar-sweep.py")
        script_key = "script.py"
        language_env = ()
        if own_packages:
            # The helper module (kubepar_sweep) sits beside the runner.
            installer = python_language.pip_installer(settings, own_packages, extra_path=f"{SCRIPTS_DIR}:")
        else:
            language_env = (("PYTHONPATH", SCRIPTS_DIR),)
    scripts = {**scripts, script_key: sweep.script_text}
    digest = hashlib.sha256(
        json.dumps(
            {
                "files": scripts,
                "image": image,
                "installer": None if installer is None else [installer.image, list(installer.env)],
                # CPU stays: a task may size its own parallelism (availableCores()) from it.
                # Memory, retries and maxFailed decide whether a task finishes, not what it writes.
                "sweep": [sweep.tasks, sweep.cpu, sweep.seed],
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    run = digest[:8]
    role = PodRole(
        component="sweep",
        image=image,
        command=command,
        env=(
            *language_env,
            ("KUBEPAR_SCRIPT", f"{SCRIPTS_DIR}/{script_key}"),
            ("KUBEPAR_SWEEP", sweep.name),
            ("KUBEPAR_RUN", run),
            ("KUBEPAR_TASKS", str(sweep.tasks)),
            ("KUBEPAR_SEED", str(sweep.seed)),
            ("KUBEPAR_RESULTS", f"{RESULTS_DIR}/{sweep.name}/{run}"),
        ),
        field_env=(("KUBEPAR_TASK", COMPLETION_INDEX_FIELD),),
        cpu=sweep.cpu,
        memory=sweep.memory,
        pool="workers",
        installer=installer,
        storage=Storage(tmp_size=sweep.disk),
        unprobed=SWEEP_PROBE_REASON,
        disruption=Disruption(
            why=(
                "an evicted task runs again from its start without spending a retry (the Job's pod failure "
                "policy), and tasks already saved are skipped: no budget holds a drain, but the autoscaler may "
                "not move a task to empty a node, which would throw its partial work away"
            ),
            grace_seconds=SPOT_GRACE_SECONDS,
            await_rollout=False,
            safe_to_evict=False,
        ),
        # Package repositories and the results bucket, over HTTPS; nothing dials in.
        exposure=Exposure(internet="https"),
    )
    return SweepPlan(role=role, files=scripts, run=run)
