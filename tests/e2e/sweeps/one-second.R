# Benchmark sweep: one second of work per task.
kubepar_task()
Sys.sleep(1)
kubepar_save(TRUE)
