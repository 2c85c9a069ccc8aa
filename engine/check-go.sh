#!/usr/bin/env bash
# Fails in one sentence when `go` is missing or older than the newest `go`
# line of the engine's wrapper modules (engine/*/go.mod): engine/build.sh
# builds with GOTOOLCHAIN=local, so Go would otherwise refuse with its own,
# less helpful words half-way through `make test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
need=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' "$here"/*/go.mod | sort -V | tail -n 1)
where="from https://go.dev/dl/, or in GitHub Actions actions/setup-go with go-version-file: engine/pulumi/go.mod"
if ! command -v go >/dev/null; then
    echo "engine: needs Go $need or newer on PATH ($where); under sudo, PATH loses it: run .ci/run as yourself" >&2
    exit 1
fi
have=$(go env GOVERSION)
have=${have#go}
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
    echo "engine: Go $have at $(command -v go) is older than the $need engine/*/go.mod ask for; install Go $need or newer ($where)" >&2
    exit 1
fi
