#!/usr/bin/env bash
# make cluster / make cluster-down: a local Kubernetes control plane for the kwok stack.
#
# kwokctl runs the binaries engine/build.sh built (etcd, kube-apiserver with
# authorization and its default admission plugins, Pod Security among them,
# kube-controller-manager, kube-scheduler, and the kwok controller) as local
# processes: `--runtime binary`, nothing downloaded. kwok simulates the nodes
# tools/kwok_cluster.py declares (shaped like the stack's GKE pools) and the
# lifecycle of the pods scheduled on them: they become Running and Ready, and
# a Job's pods complete (engine/kwok-stages.yaml: how, and the tasks it
# holds for the fault tests); no container runs. Every component listens on
# 127.0.0.1 only (engine/kwokctl.yaml). Writes build/cluster/kubeconfig.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=$root/build/engine/bin
dir=${KUBEPAR_CLUSTER_DIR:-$root/build/cluster}
name=${KUBEPAR_CLUSTER:-kubepar}
stack=${STACK:-kwok}
export KWOK_WORKDIR=$dir/kwok KWOK_KUBE_VERSION=${KWOK_KUBE_VERSION:-v1.36.3}
python=${PYTHON:-$root/.venv/bin/python}

case "${1:-}" in
up)
    for binary in kwokctl kwok etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        [ -x "$bin/$binary" ] || { echo "cluster: $bin/$binary is missing: run make engine" >&2; exit 1; }
    done
    mkdir -p "$dir"
    if "$bin/kwokctl" get clusters 2>/dev/null | grep -qx "$name"; then
        echo "cluster: $name is already running (make cluster-down stops it)"
    else
        "$bin/kwokctl" --config "$here/kwokctl.yaml" --config "$here/kwok-stages.yaml" create cluster --name "$name" --runtime binary \
            --kube-apiserver-binary "$bin/kube-apiserver" \
            --kube-controller-manager-binary "$bin/kube-controller-manager" \
            --kube-scheduler-binary "$bin/kube-scheduler" \
            --kwok-controller-binary "$bin/kwok" \
            --etcd-binary "$bin/etcd" \
            --kube-authorization --kube-admission \
            --kubeconfig "$dir/kubeconfig" --wait 3m
    fi
    (cd "$root" && "$python" -m tools.kwok_cluster "$stack" --volumes "$dir/volumes") \
        | "$bin/kubectl" --kubeconfig "$dir/kubeconfig" apply -f - >/dev/null
    "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get nodes
    echo "cluster: listening on 127.0.0.1 only. kubectl: export KUBECONFIG=$dir/kubeconfig (or pass --kubeconfig);"
    echo "cluster: make up STACK=kwok deploys to it whatever KUBECONFIG says; make cluster-down stops it."
    ;;
down)
    if [ -x "$bin/kwokctl" ]; then
        "$bin/kwokctl" delete cluster --name "$name" --kubeconfig "$dir/kubeconfig" || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
