# Test sweep: a few seconds per task, and draws from the task's own stream.
task <- kubepar_task()
u <- runif(3)
Sys.sleep(2)
kubepar_save(list(index = task$index, count = task$count, u = u, m = mean(rnorm(1000))))
