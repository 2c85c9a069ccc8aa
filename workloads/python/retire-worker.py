"""kubepar Dask worker preStop hook: retire this worker before it stops.

Kubernetes runs this before sending SIGTERM (Spot preemption notice,
scale-down, rollout). The scheduler moves the results this worker holds to
other workers and then closes it, so nothing has to be recomputed and no
result is lost silently. If the scheduler cannot be reached in time, the
worker stops anyway and Dask recomputes what it held.

Needs DASK_SCHEDULER_ADDRESS and KUBEPAR_WORKER_NAME (the worker's --name).
"""

import os
import sys

from distributed import Client


def main() -> int:
    address = os.environ["DASK_SCHEDULER_ADDRESS"]
    name = os.environ["KUBEPAR_WORKER_NAME"]
    # The whole budget: Spot preemption leaves a pod about 15 s, so connect
    # quickly and leave the rest to moving results.
    budget = float(os.environ.get("KUBEPAR_RETIRE_TIMEOUT", "10"))
    connect = min(3.0, budget / 3)
    try:
        with Client(address, timeout=connect, name=f"kubepar-retire-{name}") as client:
            retired = client.sync(
                client.scheduler.retire_workers, names=[name], close_workers=True, callback_timeout=budget - connect
            )
    except Exception as error:
        print(f"kubepar: could not retire worker {name}: {error}", file=sys.stderr)
        return 1
    print(f"kubepar: retired worker {name}: {sorted(retired) or 'nothing to move'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
