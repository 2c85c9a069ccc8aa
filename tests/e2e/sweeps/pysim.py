"""Test sweep: examples/sweeps/sim.py's simulation, with a pause the test controls.

A task whose pause request (``.pause-<task>``) the test left in the results
folder takes it (renames it to ``.paused-<task>``) and waits there to be
killed; its retry finds no request and runs through.
"""

import os
import time
from pathlib import Path

import kubepar_sweep

task = kubepar_sweep.task()
pause = Path(os.environ["KUBEPAR_RESULTS"]) / f".pause-{task.index}"
try:
    pause.rename(pause.with_name(f".paused-{task.index}"))
except FileNotFoundError:
    pass
else:
    while True:
        time.sleep(0.1)
sizes = [10, 20, 50, 100, 200]
n = sizes[task.index % len(sizes)]
draws = task.rng.exponential(1.0, size=(200, n))
kubepar_sweep.save({"task": task.index, "n": n, "bias_mean": float(draws.mean(axis=1).mean() - 1.0)})
