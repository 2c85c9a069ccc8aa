# Eight 3-second tasks over the queue; the benchmark may kill a worker mid-way.
# BENCH_FTINTERVAL: doRedis' fault-tolerance interval (seconds) for this run.
library(foreach)
kubepar_plan(ftinterval = as.integer(Sys.getenv("BENCH_FTINTERVAL")))
t0 <- Sys.time()
r <- foreach(i = 1:8, .combine = c) %dopar% { Sys.sleep(3); i }
stopifnot(identical(sort(r), 1:8))
cat("elapsed", as.numeric(difftime(Sys.time(), t0, units = "secs")), "\n")
