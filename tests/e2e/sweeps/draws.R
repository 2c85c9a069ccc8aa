# Test sweep: draws from the task's own stream.
task <- kubepar_task()
u <- runif(3)
# A fault at a point the test controls: a task whose pause request the test
# left in the results folder takes it (renaming it to .paused-<task>) and waits
# to be killed there; its retry finds no request and runs through.
pause <- file.path(Sys.getenv("KUBEPAR_RESULTS"), sprintf(".pause-%d", task$index))
if (file.exists(pause) && file.rename(pause, file.path(dirname(pause), sprintf(".paused-%d", task$index)))) {
  repeat Sys.sleep(0.1)
}
kubepar_save(list(index = task$index, count = task$count, u = u, m = mean(rnorm(1000))))
