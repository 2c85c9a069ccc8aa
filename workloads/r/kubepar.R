# kubepar session helpers, loaded in every R session on the scheduler.
#
# The scheduler pod sets R_PROFILE_USER to this file, so it runs after the
# image's own Rprofile.site (which keeps rocker's binary package repository)
# and then hands over to the user's own .Rprofile, as R would have done.
#
# Owns: kubepar_plan(), kubepar_status(), kubepar_stop() for both R backends
# (psock: future over R's sockets; redis: foreach over the queue); and the sweep
# helpers: kubepar_task() and kubepar_save() in a sweep's task pod (whose
# R_PROFILE_USER is this file too), kubepar_results() and kubepar_sweeps() in
# the session. Not: starting workers; they run in their own pods and dial in
# to this session.
# Invariant: the worker count is read when kubepar_plan() is called, from the
# file named by KUBEPAR_WORKERS_FILE, so `pulumi up` can scale workers without
# restarting this session.

# install.packages() in this session uses the stack's pinned snapshot, the
# one every pod's init container installs from.
local({
  cran <- Sys.getenv("KUBEPAR_CRAN", unset = "")
  if (nzchar(cran)) options(repos = c(CRAN = cran))
})

# System libraries the pod's init container fetched (hiredis for redux). An
# RStudio session is started by rserver, which builds rsession's environment
# itself, so the container's LD_LIBRARY_PATH does not reach the dynamic
# loader there. Loading them here, in every R process, lets the packages that
# link them (library(redux)) find them by their soname all the same.
local({
  for (dir in strsplit(Sys.getenv("KUBEPAR_SYSTEM_LIBRARY_PATH"), ":", fixed = TRUE)[[1]]) {
    for (lib in list.files(dir, pattern = "^lib.+[.]so[.][0-9.]+$", full.names = TRUE)) {
      try(dyn.load(lib, local = FALSE), silent = TRUE)
    }
  }
})

# The user's library (the session only: KUBEPAR_USER_LIBRARY, on the home
# volume, one per R minor version). Order: kubepar's library first, so this
# session loads exactly the packages its workers load; then the user's own,
# ahead of the image's site and base libraries, so a newer version the user
# installs is not silently shadowed by the image's. install.packages() without
# `lib` installs there (kubepar's library is read-only); workers never see it.
local({
  user_library <- Sys.getenv("KUBEPAR_USER_LIBRARY", unset = "")
  if (!nzchar(user_library)) return(invisible())
  dir.create(user_library, recursive = TRUE, showWarnings = FALSE)
  kubepar_library <- Sys.getenv("KUBEPAR_LIBRARY_DIR", unset = "")
  first <- c(kubepar_library[nzchar(kubepar_library) & dir.exists(kubepar_library)], user_library)
  .libPaths(unique(c(first, .libPaths())))
  if (length(first) == 2L) {
    own <- rownames(utils::installed.packages(user_library))
    shadowed <- intersect(own, rownames(utils::installed.packages(first[[1]])))
    if (length(shadowed)) {
      message("kubepar: your library ", user_library, " has ", paste(shadowed, collapse = ", "),
              ", which this session does not load: it loads kubepar's, the ones its workers run. ",
              "remove.packages(c(", paste0('"', shadowed, '"', collapse = ", "), "), lib = \"", user_library,
              "\") drops your copies; to change a version for every pod, change kubepar:packages or kubepar:cranSnapshot.")
    }
  }
  user_install <- function(pkgs, lib, ...) {
    if (missing(lib)) {
      lib <- user_library
      message("kubepar: installing into your library ", lib, " (on the home volume, kept across restarts). ",
              "Workers do not see it: list packages the workers need in kubepar:packages.")
    }
    utils::install.packages(pkgs, lib = lib, ...)
  }
  # R attaches utils only after this profile ran: put the wrapper ahead of it then.
  setHook(packageEvent("utils", "attach"), function(...) {
    assign("install.packages", user_install, envir = attach(NULL, name = "kubepar:library"))
  })
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

  # ---------------------------------------------------------------- rBackend redis
  # foreach %dopar% through the stack's queue (doRedis): workers take tasks
  # from Valkey, so they may come and go during a loop; a task whose worker
  # vanished is resubmitted after the fault-tolerance interval.

  backend <- function() Sys.getenv("KUBEPAR_R_BACKEND", unset = "psock")

  queue_password <- function() {
    path <- Sys.getenv("KUBEPAR_QUEUE_PASSWORD_FILE", unset = "")
    if (nzchar(path) && file.exists(path)) readLines(path, n = 1L, warn = FALSE) else NULL
  }

  queue_connection <- function() {
    con <- redux::hiredis(host = Sys.getenv("KUBEPAR_QUEUE_HOST"), port = env_int("KUBEPAR_QUEUE_PORT", 6379L))
    password <- queue_password()
    if (!is.null(password)) con$AUTH(password)
    con
  }

  connected_workers <- function(con) {
    clients <- strsplit(con$CLIENT_LIST(), "\n")[[1]]
    sum(grepl("name=kubepar-worker:", clients, fixed = TRUE))
  }

  # doRedis 3.0.2 reconnects the session after a lost connection (a server
  # restart) without the password (its R/doRedis.R: "XXX what about
  # passwords"), so every later command fails with NOAUTH and the loop never
  # ends. Its reconnect calls doRedis' own redisConnect(): give that the
  # queue's password when the caller passed none.
  keep_password_on_reconnect <- function(password) {
    if (is.null(state$redis_connect)) state$redis_connect <- doRedis::redisConnect
    connect <- state$redis_connect
    with_password <- function(host = "localhost", port = 6379L, password, ...) {
      if (missing(password)) password <- queue_password()
      connect(host = host, port = port, password = password, ...)
    }
    utils::assignInNamespace("redisConnect", with_password, ns = "doRedis")
  }

  plan_redis <- function(chunk_size, ftinterval) {
    queue <- Sys.getenv("KUBEPAR_QUEUE", unset = "kubepar")
    password <- queue_password()
    if (!is.null(password)) keep_password_on_reconnect(password)
    args <- list(queue = queue, host = Sys.getenv("KUBEPAR_QUEUE_HOST"), port = env_int("KUBEPAR_QUEUE_PORT", 6379L),
                 ftinterval = ftinterval, chunkSize = chunk_size)
    if (!is.null(password)) args$password <- password
    do.call(doRedis::registerDoRedis, args)
    state$queue <- queue
    workers <- connected_workers(queue_connection())
    configured <- tryCatch(kubepar$kubepar_workers(), error = function(e) NA_integer_)
    message(sprintf(paste0(
      "kubepar: foreach %%dopar%% runs on queue '%s' (%s:%s); %d of %s configured workers connected now.\n",
      "Workers that join later take queued tasks; a lost worker's task is resubmitted after %g s. ",
      "Chunk size %d (raise it for tiny tasks: kubepar_plan(chunk_size = 100))."),
      queue, args$host, args$port, workers, configured, ftinterval, chunk_size))
    invisible(workers)
  }

  status_redis <- function() {
    con <- queue_connection()
    queue <- Sys.getenv("KUBEPAR_QUEUE", unset = "kubepar")
    outputs <- unlist(con$KEYS(paste0(queue, ".out.*")))
    status <- list(
      configured_workers = tryCatch(kubepar$kubepar_workers(), error = function(e) NA_integer_),
      connected_workers = connected_workers(con),
      queued_tasks = as.integer(con$LLEN(queue)),
      # A worker keeps a task's start key until its result is in (alive keys linger 10 s).
      running_tasks = length(unlist(con$KEYS(paste0(queue, ".start.*")))),
      done_tasks = sum(vapply(outputs, function(key) as.integer(con$LLEN(key)), integer(1))),
      queue = paste0(Sys.getenv("KUBEPAR_QUEUE_HOST"), ":", env_int("KUBEPAR_QUEUE_PORT", 6379L)))
    cat(sprintf("kubepar: %d of %s configured workers connected; tasks: %d queued, %d running, %d done and waiting\n",
                status$connected_workers, status$configured_workers, status$queued_tasks, status$running_tasks,
                status$done_tasks))
    invisible(status)
  }

  kubepar$kubepar_stop <- function() {
    if (backend() == "redis") {
      # The workers stay connected to the queue for the next loop.
      foreach::registerDoSEQ()
      return(invisible(NULL))
    }
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
                                   port = env_int("KUBEPAR_WORKER_PORT", 11562L),
                                   chunk_size = 1L, ftinterval = 5) {
    # rBackend redis: no waiting for workers, they take tasks whenever they are there.
    if (backend() == "redis") return(plan_redis(as.integer(chunk_size), ftinterval))
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
    if (backend() == "redis") return(status_redis())
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

  # ---------------------------------------------------------------- sweeps
  # A sweep's results: <root>/<sweep>/<run>/<task>.rds, one file per task,
  # written under a temporary name and renamed into place, so a reader never
  # sees half a result. Bookkeeping lives in <run>/.kubepar/: run.dcf (the
  # run's task count), running/<task> and failed/<task> markers, tmp/.

  sweep_env <- function(name) {
    value <- Sys.getenv(name, unset = "")
    if (!nzchar(value)) {
      stop("kubepar: ", name, " is not set; kubepar_task() and kubepar_save() run inside a sweep's task pod",
           call. = FALSE)
    }
    value
  }

  task_stream <- function(seed, index) {
    # Task i gets the RNG stream future.apply would give element i + 1 with
    # future.seed = seed: independent of the other tasks, and the same on a retry.
    RNGkind("L'Ecuyer-CMRG")
    set.seed(seed)
    stream <- get(".Random.seed", envir = globalenv())
    for (i in seq_len(index)) stream <- parallel::nextRNGStream(stream)
    parallel::nextRNGSubStream(stream)
  }

  kubepar$kubepar_task <- function() {
    index <- as.integer(sweep_env("KUBEPAR_TASK"))
    seed <- as.integer(sweep_env("KUBEPAR_SEED"))
    assign(".Random.seed", task_stream(seed, index), envir = globalenv())
    list(index = index, count = as.integer(sweep_env("KUBEPAR_TASKS")), seed = seed,
         sweep = sweep_env("KUBEPAR_SWEEP"), run = sweep_env("KUBEPAR_RUN"))
  }

  kubepar$kubepar_save <- function(value) {
    results <- sweep_env("KUBEPAR_RESULTS")
    task <- as.integer(sweep_env("KUBEPAR_TASK"))
    tmp_dir <- file.path(results, ".kubepar", "tmp")
    dir.create(tmp_dir, recursive = TRUE, showWarnings = FALSE)
    tmp <- file.path(tmp_dir, sprintf("%d-%s-%d", task, Sys.info()[["nodename"]], Sys.getpid()))
    saveRDS(value, tmp)
    # Storage FUSE and local disks alike: the result appears whole, or not at all.
    if (!file.rename(tmp, file.path(results, sprintf("%d.rds", task)))) {
      stop("kubepar: could not move the result of task ", task, " into ", results, call. = FALSE)
    }
    invisible(file.path(results, sprintf("%d.rds", task)))
  }

  results_root <- function() {
    root <- Sys.getenv("KUBEPAR_RESULTS_ROOT", unset = "")
    if (!nzchar(root) || !dir.exists(root)) {
      stop("kubepar: no results folder here (KUBEPAR_RESULTS_ROOT=", root, "); ",
           "sweep results are mounted in the stack's RStudio or notebook pod", call. = FALSE)
    }
    root
  }

  run_tasks <- function(run_dir) {
    manifest <- file.path(run_dir, ".kubepar", "run.dcf")
    if (!file.exists(manifest)) return(NA_integer_)
    as.integer(read.dcf(manifest, fields = "tasks")[1, 1])
  }

  task_files <- function(dir, pattern) {
    found <- list.files(dir, pattern = pattern)
    as.integer(sub("\\..*$", "", found))
  }

  latest_run <- function(sweep_dir) {
    runs <- list.dirs(sweep_dir, full.names = TRUE, recursive = FALSE)
    runs <- runs[file.exists(file.path(runs, ".kubepar", "run.dcf"))]
    if (length(runs) == 0L) return(NULL)
    started <- vapply(runs, function(r) as.numeric(read.dcf(file.path(r, ".kubepar", "run.dcf"),
                                                            fields = "started")[1, 1]), numeric(1))
    runs[which.max(started)]
  }

  kubepar$kubepar_results <- function(sweep, run = NULL) {
    sweep_dir <- file.path(results_root(), sweep)
    run_dir <- if (is.null(run)) latest_run(sweep_dir) else file.path(sweep_dir, run)
    if (is.null(run_dir) || !dir.exists(run_dir)) {
      stop("kubepar: sweep '", sweep, "' has no run", if (!is.null(run)) paste0(" '", run, "'"),
           " yet; see kubepar_sweeps()", call. = FALSE)
    }
    tasks <- run_tasks(run_dir)
    done <- sort(task_files(run_dir, "^[0-9]+\\.rds$"))
    if (is.na(tasks)) tasks <- if (length(done)) max(done) + 1L else 0L
    values <- vector("list", tasks)
    names(values) <- as.character(seq_len(tasks) - 1L)
    for (task in done[done < tasks]) values[[task + 1L]] <- readRDS(file.path(run_dir, sprintf("%d.rds", task)))
    missing <- setdiff(seq_len(tasks) - 1L, done)
    if (length(missing)) {
      failed <- intersect(missing, task_files(file.path(run_dir, ".kubepar", "failed"), "^[0-9]+$"))
      message(sprintf("kubepar: %d of %d tasks of '%s' (run %s) have no result: %s%s", length(missing), tasks,
                      sweep, basename(run_dir), paste(utils::head(missing, 20), collapse = ", "),
                      if (length(missing) > 20) ", ..." else ""),
              if (length(failed)) sprintf("\n  failed: %s (see kubectl logs)", paste(utils::head(failed, 20),
                                                                                 collapse = ", ")) else "")
    }
    attr(values, "missing") <- missing
    attr(values, "run") <- basename(run_dir)
    values
  }

  kubepar$kubepar_sweeps <- function() {
    root <- results_root()
    rows <- list()
    for (sweep_dir in list.dirs(root, full.names = TRUE, recursive = FALSE)) {
      for (run_dir in list.dirs(sweep_dir, full.names = TRUE, recursive = FALSE)) {
        tasks <- run_tasks(run_dir)
        if (is.na(tasks)) next
        done <- task_files(run_dir, "^[0-9]+\\.rds$")
        failed <- setdiff(task_files(file.path(run_dir, ".kubepar", "failed"), "^[0-9]+$"), done)
        running <- setdiff(task_files(file.path(run_dir, ".kubepar", "running"), "^[0-9]+$"), c(done, failed))
        started <- as.numeric(read.dcf(file.path(run_dir, ".kubepar", "run.dcf"), fields = "started")[1, 1])
        rows[[length(rows) + 1L]] <- data.frame(
          sweep = basename(sweep_dir), run = basename(run_dir), tasks = tasks, done = length(done),
          failed = length(failed), running = length(running),
          started = as.POSIXct(started, origin = "1970-01-01", tz = "UTC"), stringsAsFactors = FALSE)
      }
    }
    if (length(rows) == 0L) {
      message("kubepar: no sweep has run yet")
      return(invisible(data.frame()))
    }
    out <- do.call(rbind, rows)
    out[order(out$sweep, -as.numeric(out$started)), , drop = FALSE]
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
