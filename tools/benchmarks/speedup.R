# The README example over two dialing workers against sequential, and a heavier
# variant where computation, not overhead, dominates; median of three rounds.
library(future.apply)
port <- as.integer(Sys.getenv("KUBEPAR_WORKER_PORT"))
time_it <- function(expr) {
  t0 <- Sys.time(); force(expr); as.numeric(difftime(Sys.time(), t0, units = "secs"))
}
light <- function(i) mean(rnorm(1e5))
heavy <- function(i) mean(rnorm(2e6))
res <- list()
for (round in 1:3) {
  future::plan(future::sequential)
  res$light_seq <- c(res$light_seq, time_it(future_lapply(1:40, light, future.seed = 1)))
  res$heavy_seq <- c(res$heavy_seq, time_it(future_lapply(1:40, heavy, future.seed = 1)))
  kubepar_plan(workers = 2, timeout = 60, port = port)
  res$light_par <- c(res$light_par, time_it(future_lapply(1:40, light, future.seed = 1)))
  res$heavy_par <- c(res$heavy_par, time_it(future_lapply(1:40, heavy, future.seed = 1)))
  kubepar_stop()
}
for (k in names(res)) cat(k, median(res[[k]]), "\n")
