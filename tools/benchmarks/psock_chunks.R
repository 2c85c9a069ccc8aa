# 1,000 tiny tasks over two PSOCK workers, per chunk size (BENCH_CHUNKS).
port <- as.integer(Sys.getenv("KUBEPAR_WORKER_PORT"))
chunks <- as.integer(strsplit(Sys.getenv("BENCH_CHUNKS"), " ")[[1]])
kubepar_plan(workers = 2, timeout = 60, port = port)
for (size in chunks) {
  t0 <- Sys.time()
  future.apply::future_lapply(1:1000, function(i) i + 1L, future.chunk.size = size)
  cat("psock", size, as.numeric(difftime(Sys.time(), t0, units = "secs")), "\n")
}
kubepar_stop()
