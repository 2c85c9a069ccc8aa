# Benchmark sweep: no work at all, so a task's time is the runner's own overhead.
kubepar_task()
kubepar_save(TRUE)
