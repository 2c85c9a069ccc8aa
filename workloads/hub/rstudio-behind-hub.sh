#!/bin/sh
# RStudio behind the hub: rocker's rserver, reachable only on the pod's loopback.
#
# The single-user server beside it (jupyter-server-proxy) is the one door: the
# hub's proxy sends a user's requests there only after the hub's login, and
# jupyter-server-proxy forwards /user/<name>/rstudio/ to 127.0.0.1:8787. No
# other pod can open a loopback port, so RStudio's own login is off
# (DISABLE_AUTH: rocker's init writes auth-none and runs sessions as rstudio).
# An idle R session stops after the hub's idle time, as the hub culls the pod.
set -eu
conf=/etc/rstudio/rserver.conf
{
    echo "www-address=127.0.0.1"
    echo "www-port=8787"
    echo "www-root-path=${KUBEPAR_WWW_ROOT:?the hub sets the path RStudio is served under}"
} >>"$conf"
echo "session-timeout-minutes=${KUBEPAR_SESSION_TIMEOUT_MINUTES:?set by the stack: hubIdleMinutes}" \
    >>/etc/rstudio/rsession.conf
exec /init
