#!/bin/sh
# kubepar system library installer: runs once per pod, in an init container, without root.
#
# Some R packages link a system library at run time that the rocker images
# do not have (redux needs hiredis). This fetches the image's own
# distribution package of each library named in KUBEPAR_SYSTEM_LIBRARIES
# (for "hiredis": the runtime package libhiredis<version> of the image's
# Ubuntu release, verified by apt against the image's keys), unpacks it into
# KUBEPAR_SYSTEM_LIBRARY, and the main container finds it on
# LD_LIBRARY_PATH. No custom image, no root: apt keeps its lists and cache in
# the pod's scratch space.
#
# Owns: fetching and unpacking. Not: the R packages (install-packages.R).
# Fails (exit 1) naming a library that has no such package.
set -eu

target="${KUBEPAR_SYSTEM_LIBRARY:?set KUBEPAR_SYSTEM_LIBRARY to the folder to unpack into}"
libraries="${KUBEPAR_SYSTEM_LIBRARIES:-}"
state="${TMPDIR:-/tmp}/kubepar-apt"
mkdir -p "$target" "$state/lists/partial" "$state/archives/partial"
[ -n "$libraries" ] || exit 0

apt_opts="-o Dir::State::Lists=$state/lists -o Dir::Cache=$state -o Dir::Cache::Archives=$state/archives -o Debug::NoLocking=true -o APT::Sandbox::User=$(id -un 2>/dev/null || echo root)"
echo "kubepar: looking up ${libraries} in the image's package lists"
# shellcheck disable=SC2086 # apt_opts is a list of options
apt-get $apt_opts -qq update
for library in $libraries; do
    # The runtime package: lib<name><soversion>, not -dev, -ssl or -dbg.
    # shellcheck disable=SC2086
    package="$(apt-cache $apt_opts pkgnames "lib${library}" | grep -E "^lib${library}[0-9][0-9.]*\$" | sort -V | tail -n 1 || true)"
    if [ -z "$package" ]; then
        echo "kubepar: no runtime package for the system library ${library} in this image's distribution" >&2
        exit 1
    fi
    (cd "$state" && apt-get $apt_opts -qq download "$package")
    dpkg-deb -x "$state/${package}"_*.deb "$target"
    echo "kubepar: unpacked ${package} into ${target}"
done
