# kubepar sweep runner: the main container of a sweep's task pod.
#
# The Indexed Job runs this once per task index (KUBEPAR_TASK, from the pod's
# completion index). kubepar.R is this R's profile (R_PROFILE_USER), so the
# user's script can call kubepar_task() and kubepar_save(). The runner sets
# the task's RNG stream, marks the task running, runs the script, and marks
# it failed (with the error) or done. A script that never calls
# kubepar_save() has its last value saved.
#
# Owns: one task's bookkeeping and exit status. Not: retries (the Job's
# backoffLimitPerIndex) or preemptions (its podFailurePolicy ignores them).
# Invariant: a task's result file is whole or absent; a retry overwrites only
# its own task's files; a task whose result exists is never run again.

script <- Sys.getenv("KUBEPAR_SCRIPT")
results <- Sys.getenv("KUBEPAR_RESULTS")
task <- as.integer(Sys.getenv("KUBEPAR_TASK"))
if (!nzchar(script) || !nzchar(results) || is.na(task)) {
  message("kubepar-sweep: KUBEPAR_SCRIPT, KUBEPAR_RESULTS and KUBEPAR_TASK must be set")
  quit(status = 2)
}
state <- file.path(results, ".kubepar")
for (dir in file.path(state, c("running", "failed", "tmp"))) dir.create(dir, recursive = TRUE, showWarnings = FALSE)

# The run's manifest, written by every task the same way (whole or not at all).
manifest <- file.path(state, "run.dcf")
if (!file.exists(manifest)) {
  tmp <- file.path(state, "tmp", sprintf("run-%d-%d", task, Sys.getpid()))
  write.dcf(data.frame(sweep = Sys.getenv("KUBEPAR_SWEEP"), run = Sys.getenv("KUBEPAR_RUN"),
                       tasks = Sys.getenv("KUBEPAR_TASKS"), seed = Sys.getenv("KUBEPAR_SEED"),
                       started = format(as.numeric(Sys.time()), nsmall = 3)), tmp)
  file.rename(tmp, manifest)
}
# A task with a result is done: the run id guarantees the same inputs, so a
# replaced or re-created Job (a parallelism change, a deleted Job) costs a
# pod start per finished task, not the sweep.
result_file <- file.path(results, sprintf("%d.rds", task))
if (file.exists(result_file)) {
  message(sprintf("kubepar-sweep: task %d already has its result; nothing to do", task))
  quit(status = 0)
}
# What an earlier, killed attempt of this task left behind.
unlink(list.files(file.path(state, "tmp"), pattern = sprintf("^%d-", task), full.names = TRUE))
marker <- function(kind) file.path(state, kind, as.character(task))
writeLines(format(Sys.time(), tz = "UTC"), marker("running"))

invisible(kubepar_task())
outcome <- tryCatch(list(value = source(script, local = new.env(parent = globalenv()))$value),
                    error = function(e) e)
if (inherits(outcome, "error")) {
  writeLines(conditionMessage(outcome), marker("failed"))
  unlink(marker("running"))
  message(sprintf("kubepar-sweep: task %d failed: %s", task, conditionMessage(outcome)))
  quit(status = 1)
}
if (!file.exists(result_file)) kubepar_save(outcome$value)
unlink(c(marker("running"), marker("failed")))
message(sprintf("kubepar-sweep: task %d done", task))
