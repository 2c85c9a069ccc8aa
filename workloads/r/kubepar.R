# kubepar session helpers, loaded in every R session on the scheduler.
#
# The scheduler pod sets R_PROFILE_USER to this file, so it runs after the
# image's own Rprofile.site (which keeps rocker's binary package repository)
# and then hands over to the user's own .Rprofile, as R would have done.
#
# Owns: kubepar_plan(), kubepar_status(), kubepar_stop(). Not: starting
# workers; they run in their own pods and dial in to this session.
# Invariant: the worker count is read when kubepar_plan() is called, from the
# file named by KUBEPAR_WORKERS_FILE, so `pulumi up` can scale workers without
# restarting this session.

# install.packages() in this session uses the stack's pinned snapshot, the
# one every pod's init container installs from.
local({
  cran <- Sys.getenv("KUBEPAR_CRAN", unset = "")
  if (nzchar(cran)) options(repos = c(CRAN = cran))
})

local({
  kubepar <- new.env()
  state <- new.env()
  state$cluster <- NULL
  state$generation <- 0L

  env_int <- function(name, default) {
    value <- Sys.getenv(name, unset = "")
    if (!nzchar(value)) return(as.integer(default))
    as.integer(value)
  }

  kubepar$kubepar_workers <- function() {
    path <- Sys.getenv("KUBEPAR_WORKERS_FILE", unset = "")
    if (!nzchar(path) || !file.exists(path)) {
      stop("kubepar: KUBEPAR_WORKERS_FILE is not set or missing (", path, "); ",
           "this session was not started by kubepar. ",
           "Pass kubepar_plan(workers = N) explicitly.", call. = FALSE)
    }
    count <- suppressWarnings(as.integer(trimws(readLines(path, n = 1L, warn = FALSE))))
    if (length(count) != 1L || is.na(count) || count < 0L) {
      stop("kubepar: ", path, " does not hold a worker count", call. = FALSE)
    }
    count
  }

  kubepar$kubepar_stop <- function() {
    if (!is.null(state$cluster)) {
      # Close the sockets first: if a worker died mid-call, future would
      # otherwise try to collect results from it while changing plans, and fail.
      try(parallel::stopCluster(state$cluster), silent = TRUE)
      state$cluster <- NULL
      # The cluster is already closed: tell future not to clean up after it
      # (cleanup would collect from the closed sockets and fail).
      if (requireNamespace("future", quietly = TRUE)) {
        tryCatch(future::plan(future::sequential, .cleanup = FALSE),
                 error = function(e) try(future::plan(future::sequential), silent = TRUE))
      }
    }
    invisible(NULL)
  }

  kubepar$kubepar_plan <- function(workers = kubepar$kubepar_workers(), timeout = 120,
                                   port = env_int("KUBEPAR_WORKER_PORT", 11562L)) {
    workers <- as.integer(workers)
    if (length(workers) != 1L || is.na(workers) || workers < 1L) {
      stop("kubepar: workers must be at least 1 (got ", workers, "). ",
           "Scale the stack with `pulumi config set workers 4 && pulumi up`.",
           call. = FALSE)
    }
    kubepar$kubepar_stop()
    deadline <- Sys.time() + timeout
    nodes <- list()
    failure <- NULL
    # One accept per worker on one port: manual = TRUE makes parallelly wait for
    # a worker to dial in instead of launching one, and quiet = TRUE hides its
    # "start the worker yourself" instructions.
    for (rank in seq_len(workers)) {
      remaining <- as.numeric(difftime(deadline, Sys.time(), units = "secs"))
      if (remaining <= 0) break
      # In manual mode only the socket timeout bounds the wait for a worker
      # (connectTimeout cannot interrupt a blocking accept), so wait with the
      # time left, then give the joined node R's usual 30-day idle timeout.
      node <- tryCatch(
        suppressWarnings(parallelly::makeNodePSOCK(
          "localhost", port = port, timeout = ceiling(remaining),
          connectTimeout = ceiling(remaining), manual = TRUE, quiet = TRUE,
          rank = rank, setup_strategy = "sequential")),
        error = function(e) e)
      if (inherits(node, "error")) {
        failure <- strsplit(conditionMessage(node), "\n", fixed = TRUE)[[1]][1]
        break
      }
      socketTimeout(node$con, timeout = 30 * 24 * 60 * 60)
      nodes[[rank]] <- node
    }
    if (length(nodes) < workers) {
      if (length(nodes) > 0L) try(parallel::stopCluster(parallelly::as.cluster(nodes)), silent = TRUE)
      stop(sprintf(paste0(
        "kubepar: only %d of %d workers joined within %g s on port %d.\n",
        "Check: kubectl -n %s get pods -l app.kubernetes.io/component=worker ",
        "(Pending pods wait for nodes: the worker pool may still be scaling up; ",
        "retry with a larger timeout), and their logs with ",
        "kubectl -n %s logs -l app.kubernetes.io/component=worker.%s"),
        length(nodes), workers, timeout, port,
        Sys.getenv("KUBEPAR_NAMESPACE", "kubepar"), Sys.getenv("KUBEPAR_NAMESPACE", "kubepar"),
        if (is.null(failure)) "" else paste0("\nLast error: ", failure)), call. = FALSE)
    }
    cl <- parallelly::as.cluster(nodes)
    # future tracks running futures per cluster under this name, by default a
    # digest of the cluster object, which a new cluster over the same sockets
    # can repeat: then futures orphaned by a dead worker would be collected
    # from the new cluster and fail it. A fresh name per plan keeps them apart.
    state$generation <- state$generation + 1L
    attr(cl, "name") <- sprintf("kubepar-%d-%d", Sys.getpid(), state$generation)
    state$cluster <- cl
    future::plan(future::cluster, workers = cl)
    message(sprintf("kubepar: %d workers joined; future plan set", workers))
    invisible(cl)
  }

  kubepar$kubepar_status <- function() {
    configured <- tryCatch(kubepar$kubepar_workers(), error = function(e) NA_integer_)
    cl <- state$cluster
    joined <- if (is.null(cl)) 0L else length(cl)
    alive <- 0L
    if (!is.null(cl)) {
      pids <- tryCatch(unlist(parallel::clusterCall(cl, Sys.getpid)), error = function(e) NULL)
      alive <- length(pids)
    }
    status <- list(
      configured_workers = configured,
      joined_workers = joined,
      responding_workers = alive,
      scheduler = paste0(Sys.getenv("KUBEPAR_SCHEDULER_HOST", "localhost"), ":",
                         env_int("KUBEPAR_WORKER_PORT", 11562L)),
      plan = if (requireNamespace("future", quietly = TRUE)) setdiff(class(future::plan()), "FutureStrategy")[1] else NA_character_
    )
    cat(sprintf("kubepar: %s of %s configured workers joined, %d responding; plan: %s\n",
                joined, configured, alive, status$plan))
    invisible(status)
  }

  attach(kubepar, name = "kubepar", warn.conflicts = FALSE)
})

# Setting R_PROFILE_USER stops R from reading the user's own profile; read it
# here the way R would have: ./.Rprofile first, else ~/.Rprofile.
local({
  for (candidate in c(".Rprofile", file.path(Sys.getenv("HOME"), ".Rprofile"))) {
    if (file.exists(candidate)) {
      sys.source(candidate, envir = globalenv())
      break
    }
  }
})
