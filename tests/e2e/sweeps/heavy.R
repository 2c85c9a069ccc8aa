# Test sweep: a large result, and a way for the test to stop a task mid-write.
task <- kubepar_task()
u <- runif(1)
# With a pause request in the results folder, the task stops inside
# kubepar_save(): after the temporary file is whole, before its rename, and
# waits there to be killed (.paused-write-<task> says it got there).
pause <- file.path(Sys.getenv("KUBEPAR_RESULTS"), sprintf(".pause-write-%d", task$index))
if (file.exists(pause)) {
  paused <- file.path(dirname(pause), sprintf(".paused-write-%d", task$index))
  invisible(file.remove(pause))
  invisible(trace(file.rename, where = baseenv(), print = FALSE,
                  tracer = bquote({ writeLines("", .(paused)); repeat Sys.sleep(0.1) })))
}
kubepar_save(list(index = task$index, u = u, big = runif(6e6)))
