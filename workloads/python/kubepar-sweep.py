"""kubepar sweep runner for Python scripts: the main container of a sweep's task pod.

The Python twin of kubepar-sweep.R: marks the task running, runs the user's
script (which may ``import kubepar_sweep`` and call ``task()``/``save()``),
then marks it failed (with the error) or done; exits 1 on failure so the
Job's per-index retry takes over. A script that never calls ``save()`` has
the value of its module-level ``result`` saved, if it defines one. A task
whose result exists is not run again.
"""

from __future__ import annotations

import os
import runpy
import socket
import sys
import time
import traceback
from pathlib import Path

import kubepar_sweep


def main() -> int:
    script, results = os.environ.get("KUBEPAR_SCRIPT", ""), os.environ.get("KUBEPAR_RESULTS", "")
    index = os.environ.get("KUBEPAR_TASK", "")
    if not script or not results or not index.isdigit():
        print("kubepar-sweep: KUBEPAR_SCRIPT, KUBEPAR_RESULTS and KUBEPAR_TASK must be set", file=sys.stderr)
        return 2
    if (Path(results) / f"{index}.pkl").exists():
        # Done before: the run id guarantees the same inputs (a replaced Job re-runs every index).
        print(f"kubepar-sweep: task {index} already has its result; nothing to do")
        return 0
    state = Path(results) / ".kubepar"
    for folder in ("running", "failed", "tmp"):
        (state / folder).mkdir(parents=True, exist_ok=True)
    manifest = state / "run.dcf"
    if not manifest.exists():
        tmp = state / "tmp" / f"run-{index}-{socket.gethostname()}-{os.getpid()}"
        fields = {name: os.environ.get(f"KUBEPAR_{name.upper()}", "") for name in ("sweep", "run", "tasks", "seed")}
        tmp.write_text("".join(f"{k}: {v}\n" for k, v in {**fields, "started": f"{time.time():.3f}"}.items()))
        os.replace(tmp, manifest)
    for stale in (state / "tmp").glob(f"{index}-*"):
        stale.unlink(missing_ok=True)
    running, failed = state / "running" / index, state / "failed" / index
    running.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    try:
        namespace = runpy.run_path(script, run_name="__main__")
    except BaseException as error:  # any failure of the script fails this task only
        if isinstance(error, SystemExit) and error.code in (0, None):
            namespace = {}
        else:
            failed.write_text("".join(traceback.format_exception(error)))
            running.unlink(missing_ok=True)
            print(f"kubepar-sweep: task {index} failed: {error!r}", file=sys.stderr)
            return 1
    if not (Path(results) / f"{index}.pkl").exists() and "result" in namespace:
        kubepar_sweep.save(namespace["result"])
    running.unlink(missing_ok=True)
    failed.unlink(missing_ok=True)
    print(f"kubepar-sweep: task {index} done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
