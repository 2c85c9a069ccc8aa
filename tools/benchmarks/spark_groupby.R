# The Spark benchmark's query in R: 10^7 ids, key id %% 1000, count and sum per
# key, over kubepar's two dialing workers (one chunk each); median of three rounds.
library(future.apply)
port <- as.integer(Sys.getenv("KUBEPAR_WORKER_PORT"))
rows <- as.numeric(Sys.getenv("KUBEPAR_BENCH_ROWS", "1e7"))
chunk <- function(bounds) {
  ids <- seq(bounds[1], bounds[2])
  keys <- as.integer(ids %% 1000)
  # Doubles: a key's sum passes the integer range (2^31) from about 10^6 rows.
  list(n = tabulate(keys + 1L, 1000L), s = as.numeric(rowsum(as.numeric(ids), keys, reorder = TRUE)))
}
kubepar_plan(workers = 2, timeout = 60, port = port)
halves <- list(c(0, rows / 2 - 1), c(rows / 2, rows - 1))
seconds <- c()
for (round in 0:3) {
  t0 <- Sys.time()
  parts <- future_lapply(halves, chunk)
  n <- parts[[1]]$n + parts[[2]]$n
  s <- parts[[1]]$s + parts[[2]]$s
  elapsed <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
  stopifnot(all(n == rows / 1000), sum(s) == rows * (rows - 1) / 2)
  if (round > 0) seconds <- c(seconds, elapsed)  # round 0 warms the workers up
}
kubepar_stop()
cat("seconds", median(seconds), "\n")
