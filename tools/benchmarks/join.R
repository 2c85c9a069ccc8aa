# Join latency: seconds until one worker has dialed in to this session.
# The session's port comes from the rendered scheduler's env (KUBEPAR_WORKER_PORT).
port <- as.integer(Sys.getenv("KUBEPAR_WORKER_PORT"))
t0 <- Sys.time()
kubepar_plan(workers = 1, timeout = 900, port = port)
cat(as.numeric(difftime(Sys.time(), t0, units = "secs")), "\n")
kubepar_stop()
