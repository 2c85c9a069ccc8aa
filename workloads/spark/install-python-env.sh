#!/bin/sh
# kubepar's Python for a pod whose image has none (RStudio, for sparklyr's
# Spark Connect client): runs once per pod, in an init container of the
# official Python image.
#
# The image's interpreter lives in /usr/local and finds its standard library
# and libpython relative to its own binary, so a copy of /usr/local into the
# shared volume (KUBEPAR_PYTHON_DIR, mounted at the same path in the main
# container) runs there too. A virtualenv named KUBEPAR_PYTHON_ENV, under
# envs/, gets the pinned KUBEPAR_PYTHON_REQUIREMENTS (pyspark-client at the
# Spark server's exact version): pysparklyr finds it by that name and never
# downloads one at connect time. Fails (exit 1) naming what did not install.
set -eu
dir="${KUBEPAR_PYTHON_DIR:?set KUBEPAR_PYTHON_DIR to the shared volume}"
name="${KUBEPAR_PYTHON_ENV:?set KUBEPAR_PYTHON_ENV to the virtualenv name}"
requirements="${KUBEPAR_PYTHON_REQUIREMENTS:?set KUBEPAR_PYTHON_REQUIREMENTS}"
source_prefix="${KUBEPAR_PYTHON_SOURCE:-/usr/local}"
cp -R "$source_prefix/." "$dir/"
"$dir/bin/python3" -m venv "$dir/envs/$name"
echo "kubepar: installing $requirements into $dir/envs/$name"
# shellcheck disable=SC2086 # one word per requirement
if ! "$dir/envs/$name/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \
    --no-warn-script-location $requirements; then
    echo "kubepar: pip could not install $requirements into the RStudio pod's Python." >&2
    exit 1
fi
"$dir/envs/$name/bin/python" -c "import pyspark.sql.connect.session" \
    || { echo "kubepar: the Spark Connect client does not import; see above." >&2; exit 1; }
echo "kubepar: $name ready"
