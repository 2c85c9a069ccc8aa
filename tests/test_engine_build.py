"""engine/build.sh: two builds at once share the cache instead of deleting each other's work.

Two clones on one machine, or a test beside a `make engine`, run build.sh at
the same time with one cache. The test plays the first build itself: it
holds the component's lock with a half-built folder, starts build.sh, and
finishes "its" build only then; build.sh must wait, leave the half-built
folder alone, and use the finished binary without building again.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT

BUILD = ROOT / "engine" / "build.sh"


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KUBEPAR_ENGINE_CACHE": str(tmp_path / "cache"),
        "KUBEPAR_ENGINE_BIN": str(tmp_path / "bin"),
        "KUBEPAR_ENGINE_COMPONENTS": "etcd",
    }


def test_a_second_build_waits_for_the_first_and_uses_its_binary(tmp_path: Path) -> None:
    env = _env(tmp_path)
    folder = Path(
        subprocess.run(
            ["bash", str(BUILD), "--folder", "etcd"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    assert folder.parent == tmp_path / "cache"
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(f"{folder}.partial")
    partial.mkdir()
    (partial / "etcd").write_text("#!/bin/sh\necho first-build-etcd\n")
    (partial / "etcd").chmod(0o755)
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        second = subprocess.Popen(
            ["bash", str(BUILD)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert second.stdout is not None
        # It says it waits, and waits: the half-built folder is still there.
        assert "another build of etcd is under way" in second.stdout.readline()
        assert second.poll() is None
        assert (partial / "etcd").exists()
        # The first build finishes as build.sh does: the folder moves into place.
        partial.rename(folder)
        fcntl.flock(lock, fcntl.LOCK_UN)
        rest = second.communicate(timeout=120)[0]
    assert second.returncode == 0, rest
    assert "building etcd" not in rest
    linked = tmp_path / "bin" / "etcd"
    assert linked.resolve() == (folder / "etcd").resolve()
    ran = subprocess.run([str(linked)], capture_output=True, text=True)
    assert ran.stdout == "first-build-etcd\n", (ran.stdout, ran.stderr, linked.read_text())
