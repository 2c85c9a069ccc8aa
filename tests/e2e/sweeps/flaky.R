# Test sweep: task 3 always fails; every other task returns its index (saved by the runner).
task <- kubepar_task()
if (task$index == 3L) stop("task 3 always fails")
task$index * 10L
