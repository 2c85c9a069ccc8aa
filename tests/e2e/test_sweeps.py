"""Sweeps end to end: this test plays the Job controller for the rendered Indexed Jobs.

Each pod runs as rendered: its init container fills the pod's library from
the local repository, then its main container (command, env, mounted files)
runs with the completion index the controller gives it; the results volume
is a local folder. R sees only base R and the pod's library (pods.py). Tasks
are killed part-way (SIGKILL mid-write, SIGTERM as at preemption) and the
player re-runs them as the rendered policy says.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import program
from tools import harness
from tools.harness import clusters, jobs, pods

SWEEPS = [
    {"name": "draws", "script": "tests/e2e/sweeps/draws.R", "tasks": 8, "parallelism": 3, "seed": 42},
    {"name": "heavy", "script": "tests/e2e/sweeps/heavy.R", "tasks": 3, "parallelism": 3, "retries": 0},
    {"name": "flaky", "script": "tests/e2e/sweeps/flaky.R", "tasks": 6, "parallelism": 2, "retries": 2},
    {"name": "pysim", "script": "tests/e2e/sweeps/pysim.py", "tasks": 6, "parallelism": 2, "seed": 7},
]


@pytest.fixture(scope="module")
def capture() -> harness.Capture:
    clusters.require_r()
    return program("local", sweeps=json.dumps(SWEEPS))


def run_dir(root: Path, job: jobs.LocalJob) -> Path:
    """The run's results folder, as this machine sees the pods' /results."""
    return Path(job.container(0, 0).env["KUBEPAR_RESULTS"])


def pause(job: jobs.LocalJob, request: str) -> Any:
    """Leave a pause request for a test sweep script; returns the check that the task reached it.

    The scripts (tests/e2e/sweeps) take the request and wait to be killed at
    that point, so a kill lands where the test says, whatever the machine's load.
    """
    folder = run_dir(job.root, job)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f".pause-{request}").write_text("")
    return lambda: (folder / f".paused-{request}").exists()


def session_r(capture: harness.Capture, root: Path, cran: str, code: str) -> str:
    """R code in an RStudio session of the rendered scheduler pod, which mounts the results read-only."""
    pods.start_r_pod(capture, "scheduler", root, cran, "scheduler-0")
    env = clusters.r_session_env(capture, root, port=pods.free_port())
    result = subprocess.run(
        ["Rscript", "-e", code], env=env, cwd=root, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def results_json(capture: harness.Capture, root: Path, cran: str, sweep: str) -> dict[str, Any]:
    out = session_r(
        capture,
        root,
        cran,
        # (index, u...) per task as JSON, printed with every digit: base R only, as in the pod.
        f"""r <- kubepar_results("{sweep}")
        rows <- vapply(r, function(x) if (is.null(x)) "null" else
          sprintf("[%s]", paste(format(unlist(x[c("index", "u")]), digits = 17), collapse = ",")), character(1))
        cat("JSON[", paste(rows, collapse = ","), "]\\n", sep = "")""",
    )
    line = next(x for x in out.splitlines() if x.startswith("JSON"))
    return {"values": json.loads(line[4:]), "output": out}


def test_every_task_has_one_result_equal_to_a_sequential_run_despite_kills(
    capture: harness.Capture, tmp_path: Path, cran: str
) -> None:
    parallel_root, sequential_root = tmp_path / "parallel", tmp_path / "sequential"
    job = jobs.LocalJob(capture, "draws", parallel_root, cran)
    kills = {
        # Preempted: SIGTERM as the kubelet sends it; ignored by the rendered podFailurePolicy.
        1: jobs.Kill(signal.SIGTERM, disruption=True, when=pause(job, "1")),
        # Lost node: SIGKILL, also a disruption.
        4: jobs.Kill(signal.SIGKILL, disruption=True, when=pause(job, "4")),
    }
    outcome = job.run(kills=kills)
    assert outcome == {"succeeded": list(range(8)), "failed": []}, job.logs()
    assert sorted(a.index for a in job.attempts if a.number == 1) == [1, 4]

    sequential = jobs.LocalJob(capture, "draws", sequential_root, cran)
    sequential.spec = {**sequential.spec, "parallelism": 1}
    assert sequential.run()["succeeded"] == list(range(8))

    folder = run_dir(parallel_root, job)
    assert sorted(p.name for p in folder.glob("*.rds")) == sorted(f"{i}.rds" for i in range(8))
    assert not list((folder / ".kubepar" / "tmp").iterdir()), "a temporary result was left behind"
    parallel = results_json(capture, parallel_root, cran, "draws")["values"]
    assert parallel == results_json(capture, sequential_root, cran, "draws")["values"]
    assert [v[0] for v in parallel] == list(range(8))


@pytest.mark.parametrize("sweep", ["draws", "pysim"])
def test_a_replaced_job_finds_the_finished_tasks_and_does_not_run_them_again(
    capture: harness.Capture, tmp_path: Path, cran: str, sweep: str
) -> None:
    env = clusters.python_path_env() if sweep == "pysim" else None
    first = jobs.LocalJob(capture, sweep, tmp_path, cran, env_overrides=env)
    assert first.run(indices=[0, 1, 2])["succeeded"] == [0, 1, 2]
    folder = run_dir(tmp_path, first)
    suffix = "pkl" if sweep == "pysim" else "rds"
    done = {index: (folder / f"{index}.{suffix}").read_bytes() for index in (0, 1, 2)}
    # The Job a parallelism change (or a deleted Job) brings: same run, every index again.
    second = jobs.LocalJob(capture, sweep, tmp_path, cran, env_overrides=env)
    second.spec = {**second.spec, "parallelism": 4}
    # Task 5 the first Job never ran: it runs (here it is preempted once, then retried).
    outcome = second.run(kills={5: jobs.Kill(signal.SIGTERM, disruption=True, when=pause(second, "5"))})
    assert outcome == {"succeeded": list(range(second.spec["completions"])), "failed": []}, second.logs()
    for index, content in done.items():
        assert (folder / f"{index}.{suffix}").read_bytes() == content, f"task {index} was computed again"
        log = (tmp_path / f"{second.name}-{index}-0.log").read_text()
        assert f"task {index} already has its result; nothing to do" in log
    assert [a.number for a in second.attempts if a.index == 5] == [0, 1]
    assert "already has its result" not in (tmp_path / f"{second.name}-5-1.log").read_text()


def test_each_task_draws_the_stream_future_apply_gives_its_element(
    capture: harness.Capture, tmp_path: Path, cran: str
) -> None:
    job = jobs.LocalJob(capture, "draws", tmp_path, cran)
    assert job.run(indices=[0, 5])["succeeded"] == [0, 5]
    out = session_r(
        capture,
        tmp_path,
        cran,
        """r <- kubepar_results("draws")
        ref <- future.apply::future_lapply(1:8, function(i) runif(3), future.seed = 42)
        stopifnot(identical(r[["0"]]$u, ref[[1]]), identical(r[["5"]]$u, ref[[6]]))
        cat("STREAMS MATCH\\n")""",
    )
    assert "STREAMS MATCH" in out
    assert "6 of 8 tasks of 'draws'" in out


def test_a_task_killed_mid_write_leaves_no_half_written_result(
    capture: harness.Capture, tmp_path: Path, cran: str
) -> None:
    job = jobs.LocalJob(capture, "heavy", tmp_path, cran)
    folder = run_dir(tmp_path, job)
    in_the_write = pause(job, "write-1")

    def writing() -> bool:
        # Stopped inside kubepar_save(): the temporary file is whole and not yet renamed.
        return in_the_write() and any((folder / ".kubepar" / "tmp").glob("1-*")) and not (folder / "1.rds").exists()

    # retries: 0, so only the podFailurePolicy lets the killed task run again.
    outcome = job.run(kills={1: jobs.Kill(signal.SIGKILL, disruption=True, when=writing)})
    assert outcome["succeeded"] == [0, 1, 2], job.logs()
    killed = next(a for a in job.attempts if a.index == 1 and a.number == 0)
    assert killed.exit_code == -signal.SIGKILL
    assert killed.disrupted, "the kill never landed"
    assert not list((folder / ".kubepar" / "tmp").iterdir())
    out = session_r(capture, tmp_path, cran, 'r <- kubepar_results("heavy"); cat(length(r[["1"]]$big), "\\n")')
    assert "6000000" in out


def test_without_the_disruption_rule_a_preemption_would_fail_the_task(
    capture: harness.Capture, tmp_path: Path, cran: str
) -> None:
    job = jobs.LocalJob(capture, "heavy", tmp_path, cran)
    job.ignores_disruptions = False  # what the Job would do without its podFailurePolicy
    outcome = job.run(indices=[2], kills={2: jobs.Kill(signal.SIGTERM, disruption=True, when=pause(job, "write-2"))})
    assert outcome == {"succeeded": [], "failed": [2]}


def test_a_failing_task_is_retried_then_reported_missing_not_a_crash(
    capture: harness.Capture, tmp_path: Path, cran: str
) -> None:
    job = jobs.LocalJob(capture, "flaky", tmp_path, cran)
    outcome = job.run()
    assert outcome == {"succeeded": [0, 1, 2, 4, 5], "failed": [3]}
    # backoffLimitPerIndex 2: the first attempt and two retries.
    assert sum(1 for a in job.attempts if a.index == 3) == 3
    out = session_r(
        capture,
        tmp_path,
        cran,
        """r <- kubepar_results("flaky")
        cat("VALUES", vapply(r, function(x) if (is.null(x)) -1L else as.integer(x), integer(1)), "\\n")
        cat("MISSING", attr(r, "missing"), "\\n")
        s <- kubepar_sweeps(); cat("SWEEPS", s$done, s$failed, s$running, "\\n")""",
    )
    assert "VALUES 0 10 20 -1 40 50" in out
    assert "MISSING 3" in out
    assert "failed: 3" in out
    assert "SWEEPS 5 1 0" in out


def test_python_sweeps_follow_the_same_contract(capture: harness.Capture, tmp_path: Path) -> None:
    env = clusters.python_path_env()
    job = jobs.LocalJob(capture, "pysim", tmp_path, None, env_overrides=env)
    outcome = job.run(kills={2: jobs.Kill(signal.SIGTERM, disruption=True, when=pause(job, "2"))})
    assert outcome == {"succeeded": list(range(6)), "failed": []}, job.logs()
    assert [a.number for a in job.attempts if a.index == 2] == [0, 1], "the preemption did not happen"
    folder = run_dir(tmp_path, job)
    code = f"""
import json, sys
sys.path.insert(0, {str(job.container(0, 0).local_path("/etc/kubepar/scripts"))!r})
import numpy as np
import kubepar_sweep
values = kubepar_sweep.results("pysim")
children = np.random.SeedSequence(7).spawn(6)
expected = [float(np.random.default_rng(c).exponential(1.0, size=(200, n)).mean(axis=1).mean() - 1.0)
            for c, n in zip(children, [10, 20, 50, 100, 200, 10])]
print(json.dumps({{"values": values, "expected": expected, "sweeps": kubepar_sweep.sweeps()}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "KUBEPAR_RESULTS_ROOT": str(folder.parent.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout)
    assert [v["task"] for v in report["values"]] == list(range(6))
    assert [v["bias_mean"] for v in report["values"]] == pytest.approx(report["expected"], rel=1e-12)
    assert report["sweeps"] == [
        {"sweep": "pysim", "run": folder.name, "tasks": 6, "done": 6, "failed": 0, "running": 0}
    ]
