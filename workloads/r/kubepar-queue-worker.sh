#!/bin/sh
# kubepar queue worker (rBackend redis): runs the doRedis worker loop and ends it at once on SIGTERM.
#
# The loop itself is R (kubepar-queue-worker.R: reconnects after a server
# restart). This wrapper is PID 1 and runs R in the background, because PID 1
# ignores SIGTERM unless it handles it, and a foreground child would defer the
# signal until R exits. A task in flight when the pod stops is resubmitted by
# the session after its fault-tolerance interval.
#
# Invariant: SIGTERM ends the pod within about a second, whatever R is doing.
set -u
here="$(dirname "$0")"

Rscript --default-packages=datasets,utils,grDevices,graphics,stats,methods "${here}/kubepar-queue-worker.R" &
child=$!
stop() {
    kill -TERM "$child" 2>/dev/null
    wait "$child" 2>/dev/null
    echo "kubepar-queue-worker: stopped by signal"
    exit 0
}
trap stop TERM INT
wait "$child"
status=$?
echo "kubepar-queue-worker: R exited with status ${status}"
exit "$status"
