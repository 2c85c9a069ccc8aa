# 1,000 tiny tasks over two R workers: batched (future's default) and one future per task.
port <- as.integer(Sys.getenv("KUBEPAR_WORKER_PORT"))
kubepar_plan(workers = 2, timeout = 60, port = port)
time_it <- function(expr) {
  t0 <- Sys.time(); force(expr); as.numeric(difftime(Sys.time(), t0, units = "secs"))
}
batched <- median(replicate(3, time_it(future.apply::future_lapply(1:1000, function(i) i + 1L))))
single <- median(replicate(3, time_it(future.apply::future_lapply(1:1000, function(i) i + 1L,
                                                                  future.scheduling = Inf))))
cat("r_batched", batched, "\n")
cat("r_single", single, "\n")
kubepar_stop()
