# kubepar queue worker loop (rBackend redis): take foreach tasks from the queue, forever.
#
# Each pass connects to the queue (Valkey, password from the mounted Secret),
# names a second, idle connection after the pod (kubepar_status() counts
# workers by those names), and runs doRedis::redisWorker(). If the server
# restarts or the connection drops, redisWorker() fails; the loop waits a
# second and connects again, and the session resubmits the task that was in
# flight. One R process per pod, so a task gets the pod's whole CPU limit.
#
# Owns: reconnecting. Not: signals (kubepar-queue-worker.sh) or scheduling
# (the session's doRedis registration: chunk size, fault-tolerance interval).

host <- Sys.getenv("KUBEPAR_QUEUE_HOST")
port <- as.integer(Sys.getenv("KUBEPAR_QUEUE_PORT", "6379"))
queue <- Sys.getenv("KUBEPAR_QUEUE", "kubepar")
name <- Sys.getenv("KUBEPAR_WORKER_NAME", Sys.info()[["nodename"]])
password_file <- Sys.getenv("KUBEPAR_QUEUE_PASSWORD_FILE")
password <- if (nzchar(password_file) && file.exists(password_file)) readLines(password_file, n = 1L, warn = FALSE) else NULL

log <- function(...) cat(format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"), " kubepar-queue-worker: ", ..., "\n",
                         sep = "", file = stderr())

log("taking tasks from queue '", queue, "' at ", host, ":", port)
failures <- 0L
repeat {
  outcome <- tryCatch({
    presence <- redux::hiredis(host = host, port = port)
    if (!is.null(password)) presence$AUTH(password)
    presence$CLIENT_SETNAME(paste0("kubepar-worker:", name))
    failures <- 0L
    doRedis::redisWorker(queue, host = host, port = port, password = password, linger = 30, log = stderr())
    "the queue was removed"
  }, error = function(e) conditionMessage(e))
  rm(list = intersect("presence", ls()))
  invisible(gc())
  failures <- failures + 1L
  # Quiet while the server is away; once per minute is enough in the log.
  if (failures == 1L || failures %% 60L == 0L) log("reconnecting (", outcome, ")")
  Sys.sleep(1)
}
