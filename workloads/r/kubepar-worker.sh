#!/bin/sh
# kubepar R worker: dials the scheduler's R session and serves it, forever.
#
# Each pass runs R's own PSOCK worker (parallel:::.workRSOCK), which connects
# *to* the master. Its connect retry backs off x1.5 with no cap until
# SETUPTIMEOUT, so a worker left waiting for hours would redial only every few
# minutes. A short SETUPTIMEOUT inside this loop bounds the gap to a few
# seconds, and the loop also rejoins after stopCluster() (R exits 0) or after
# the master goes away (R exits 1). A fresh R process per session means no
# globals leak from one user session into the next.
#
# Owns: the dial loop and its signal handling. Not: what the worker computes.
# Invariant: SIGTERM ends the pod within about a second, whatever R is doing.
set -u

scheduler_host="${KUBEPAR_SCHEDULER_HOST:?set KUBEPAR_SCHEDULER_HOST to the scheduler Service name}"
scheduler_port="${KUBEPAR_SCHEDULER_PORT:?set KUBEPAR_SCHEDULER_PORT to the R worker port}"
setup_timeout="${KUBEPAR_SETUP_TIMEOUT:-5}"
# Worker output goes to /dev/null like parallelly's default: future relays
# each task's output and conditions to the master session anyway.
# Once joined, how long a worker waits for the next task before it gives up
# on the master (R's own default: 30 days).
idle_timeout="${KUBEPAR_IDLE_TIMEOUT:-2592000}"
# Report "still waiting" once per this many quiet passes, not on every pass.
quiet_passes="${KUBEPAR_QUIET_PASSES:-12}"

child=""
stderr_file="$(mktemp "${TMPDIR:-/tmp}/kubepar-worker.XXXXXX")"

stop() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    rm -f "$stderr_file"
    echo "kubepar-worker: stopped by signal"
    exit 0
}
# PID 1 in a container ignores SIGTERM unless it handles it.
trap stop TERM INT

log() {
    echo "kubepar-worker: $(date -u +%Y-%m-%dT%H:%M:%SZ) $*"
}

log "dialing ${scheduler_host}:${scheduler_port} (setup timeout ${setup_timeout}s)"
waiting=0
while :; do
    # R runs in the background so that the trap above fires at once;
    # a foreground child would defer the signal until it exits.
    Rscript --default-packages=datasets,utils,grDevices,graphics,stats,methods \
        -e 'parallel:::.workRSOCK()' \
        "MASTER=${scheduler_host}" "PORT=${scheduler_port}" OUT=/dev/null \
        "TIMEOUT=${idle_timeout}" XDR=FALSE "SETUPTIMEOUT=${setup_timeout}" \
        SETUPSTRATEGY=sequential 2>"$stderr_file" &
    child=$!
    wait "$child"
    status=$?
    child=""
    # A failed dial surfaces as an error from makeSOCKmaster; anything else
    # (a lost master, a killed R) is worth showing in the pod log.
    if grep -q "makeSOCKmaster" "$stderr_file"; then
        # Nobody listening yet: the normal state of an idle worker.
        waiting=$((waiting + 1))
        if [ $((waiting % quiet_passes)) -eq 1 ]; then
            log "scheduler not listening yet; still dialing"
        fi
        continue
    fi
    cat "$stderr_file" >&2
    waiting=0
    if [ "$status" -eq 0 ]; then
        log "session ended (stopCluster); rejoining"
    else
        log "R exited with status ${status} (master gone or worker killed); rejoining"
        # A short pause so a worker that cannot start R at all does not spin.
        sleep 1 &
        child=$!
        wait "$child"
        child=""
    fi
done
