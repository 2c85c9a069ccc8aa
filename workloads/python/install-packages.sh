#!/bin/sh
# kubepar Python package installer: runs once per pod, in an init container.
#
# Installs the pinned requirements in KUBEPAR_PACKAGES (space-separated,
# name==version) under the prefix KUBEPAR_LIBRARY, whose site-packages the
# main container puts on PYTHONPATH. The Dask images would otherwise
# reinstall EXTRA_PIP_PACKAGES at every container start; this installs into a
# volume once per pod, with the same list on notebook, scheduler and workers.
#
# The image's own packages (dask, distributed, numpy, ...) are constraints:
# pip reuses them and may never replace them, so every pod keeps the engine's
# Dask. A requirement that needs another version fails, naming the conflict.
# Fails (exit 1) naming every requirement that could not be installed.
set -u
library="${KUBEPAR_LIBRARY:?set KUBEPAR_LIBRARY to the target folder}"
packages="${KUBEPAR_PACKAGES:-}"
mkdir -p "$library"
[ -z "$packages" ] && exit 0

log="$(mktemp "${TMPDIR:-/tmp}/kubepar-pip.XXXXXX")"
constraints="$(mktemp "${TMPDIR:-/tmp}/kubepar-image.XXXXXX")"
# KUBEPAR_REPLACE: image packages this install may replace (the hub's sessions pin the hub's own
# jupyterhub, whatever the notebook image holds); every other image package stays fixed.
replace="$(echo "${KUBEPAR_REPLACE:-}" | tr ' ' '|')"
python -m pip list --disable-pip-version-check --format=freeze 2>/dev/null \
    | { if [ -n "$replace" ]; then grep -v -i -E "^($replace)=="; else cat; fi; } >"$constraints"
echo "kubepar: installing $packages into $library (the image's $(wc -l <"$constraints") packages fixed)"
# shellcheck disable=SC2086 # one word per requirement
if python -m pip install --no-cache-dir --disable-pip-version-check --no-warn-script-location \
    --prefix "$library" --constraint "$constraints" $packages >"$log" 2>&1; then
    echo "kubepar: installed $packages"
    exit 0
fi
cat "$log" >&2
if grep -q "conflicting dependencies\|ResolutionImpossible" "$log"; then
    conflict="$(grep -A4 "The conflict is caused by" "$log" | tail -n +2 | sed 's/^ *//' | tr '\n' ';')"
    echo "kubepar: $packages would replace the Dask image's own packages, which kubepar keeps fixed:" \
        "$conflict Pin versions that work with daskVersion, or change daskVersion." >&2
    exit 1
fi
missing=""
for requirement in $packages; do
    name="${requirement%%==*}"
    name="${name%%[*}"
    if grep -qi "No matching distribution found for ${name}\b\|from versions: none.*${name}\|${name}.*(from versions: none)" "$log"; then
        missing="$missing $requirement"
    fi
done
if [ -n "$missing" ]; then
    echo "kubepar: package(s) not installed:${missing}. Check the names and versions in kubepar:packages." >&2
else
    echo "kubepar: pip failed installing $packages (see above)." >&2
fi
exit 1
