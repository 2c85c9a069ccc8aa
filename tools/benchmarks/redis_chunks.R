# 1,000 tiny tasks over the queue's two workers, per chunk size (BENCH_CHUNKS).
library(foreach)
chunks <- as.integer(strsplit(Sys.getenv("BENCH_CHUNKS"), " ")[[1]])
for (size in chunks) {
  kubepar_plan(chunk_size = size)
  t0 <- Sys.time()
  r <- foreach(i = 1:1000, .combine = c) %dopar% (i + 1L)
  stopifnot(identical(r, 2:1001))
  cat("redis", size, as.numeric(difftime(Sys.time(), t0, units = "secs")), "\n")
}
