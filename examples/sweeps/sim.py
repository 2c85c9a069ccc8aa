"""The Python twin of sim.R: one task per parameter setting, results saved atomically."""

import kubepar_sweep

task = kubepar_sweep.task()
sizes = [10, 20, 50, 100, 200]
n = sizes[task.index % len(sizes)]
draws = task.rng.exponential(1.0, size=(200, n))
kubepar_sweep.save({"task": task.index, "n": n, "bias_mean": float(draws.mean(axis=1).mean() - 1.0)})
