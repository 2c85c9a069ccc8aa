#!/usr/bin/env bash
# Builds, or finds already built, the real engine that the kwok tests run:
# the Pulumi CLI, the Kubernetes provider, etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok and kwokctl.
#
# Everything comes from the Go module proxy, through one small wrapper module
# per component (engine/<component>/go.mod and go.sum: the versions are
# pinned there). Binaries go to a cache outside the clone, one folder per
# component keyed by a digest of its wrapper and the Go version, so a second
# build on the same machine is instant; they are then linked into
# build/engine/bin. Nothing built or downloaded is committed.
#
# Not built, because the module proxy does not serve them: the Python language
# host (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3:
# every version answers 403) and the GCP provider (its module replaces the
# upstream Terraform provider with a patched git submodule). See docs/engine.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${KUBEPAR_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubepar-engine}
bin=${KUBEPAR_ENGINE_BIN:-$root/build/engine/bin}
bash "$here/check-go.sh"
export CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local

PULUMI_VERSION=v3.274.0
PROVIDER_VERSION=4.25.0
KUBE_VERSION=v1.36.3
mkdir -p "$cache" "$bin"

# A component's cache folder: its wrapper files and the Go version decide it.
key() {
    { go version; cat "$here/$1"/go.mod "$here/$1"/go.sum "$here/$1"/*.go 2>/dev/null || true; } \
        | sha256sum | cut -c1-16
}

# build NAME BINARY... : run build_NAME into the component's cache folder unless its binaries are there.
# One build of a component at a time per cache: a second build.sh (another
# clone, a test beside a build) waits for the lock, then finds the binaries,
# instead of deleting the first one's half-built folder.
build() {
    local name=$1
    shift
    local folder lock
    folder="$cache/$name-$(key "$name")"
    exec {lock}>"$folder.lock"
    if ! flock --nonblock "$lock"; then
        echo "engine: another build of $name is under way; waiting for it"
        flock "$lock"
    fi
    local missing=0
    for binary in "$@"; do [ -x "$folder/$binary" ] || missing=1; done
    if [ "$missing" = 1 ]; then
        echo "engine: building $name (into $folder)"
        local started=$SECONDS
        rm -rf "$folder.partial" && mkdir -p "$folder.partial"
        "build_$name" "$folder.partial"
        rm -rf "$folder" && mv "$folder.partial" "$folder"
        echo "engine: built $name in $((SECONDS - started)) s"
    fi
    flock --unlock "$lock"
    exec {lock}>&-
    for binary in "$@"; do ln -sf "$folder/$binary" "$bin/$binary"; done
}

build_pulumi() {
    (cd "$here/pulumi" && go build -trimpath -tags osusergo,grpcnotrace \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$1/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_kubernetes-provider() {
    # The provider's main embeds files its release build generates from the
    # module's schema.json and terraform-mapping.json: generate them beside
    # a copy of the wrapper, then build that copy.
    local work module
    work=$(mktemp -d)
    cp "$here/kubernetes-provider"/{go.mod,go.sum,main.go} "$work/"
    module=$(cd "$here/kubernetes-provider" && go mod download -json github.com/pulumi/pulumi-kubernetes/provider/v4 \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    python3 - "$module/cmd/pulumi-resource-kubernetes" "$work" "$PROVIDER_VERSION" <<'EOF'
import json, sys
source, target, version = sys.argv[1:]
schema = json.load(open(f"{source}/schema.json"))
schema["version"] = version
json.dump(schema, open(f"{target}/schema-embed.json", "w"), separators=(",", ":"))
mapping = json.load(open(f"{source}/terraform-mapping.json"))
json.dump(mapping, open(f"{target}/terraform-mapping-embed.json", "w"), separators=(",", ":"))
EOF
    (cd "$work" && go build -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PROVIDER_VERSION" \
        -o "$1/pulumi-resource-kubernetes" .)
    rm -rf "$work"
}

build_kubernetes() {
    # kwokctl reads the version these print to choose its flags.
    local minor=${KUBE_VERSION#v1.}
    minor=${minor%%.*}
    local flags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
    flags="$flags -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    flags="$flags -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
    flags="$flags -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
    for command in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
        (cd "$here/kubernetes" && go build -trimpath -ldflags "$flags" -o "$1/$command" "k8s.io/kubernetes/cmd/$command")
    done
}

build_etcd() {
    (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$1/etcd" .)
}

build_kwok() {
    for command in kwok kwokctl; do
        (cd "$here/kwok" && go build -trimpath -ldflags "-s -w" -o "$1/$command" "sigs.k8s.io/kwok/cmd/$command")
    done
}

# `build.sh --folder NAME`: where the cache keeps component NAME for these wrappers and this Go.
if [ "${1:-}" = --folder ]; then
    echo "$cache/$2-$(key "$2")"
    exit 0
fi

# All of them, or those KUBEPAR_ENGINE_COMPONENTS names (the tests build one).
for component in ${KUBEPAR_ENGINE_COMPONENTS:-pulumi kubernetes-provider etcd kwok kubernetes}; do
    case $component in
    pulumi) build pulumi pulumi ;;
    kubernetes-provider) build kubernetes-provider pulumi-resource-kubernetes ;;
    etcd) build etcd etcd ;;
    kwok) build kwok kwok kwokctl ;;
    kubernetes) build kubernetes kube-apiserver kube-controller-manager kube-scheduler kubectl ;;
    *) echo "engine: no component $component" >&2; exit 2 ;;
    esac
done
if [ -z "${KUBEPAR_ENGINE_COMPONENTS:-}" ]; then "$bin/pulumi" version; fi
