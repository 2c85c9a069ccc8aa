"""End to end: the rendered Python package init container, against a local wheelhouse.

The test writes a tiny wheel and points pip at it instead of PyPI
(PIP_NO_INDEX, PIP_FIND_LINKS), the way the R test points R at a local
repository. Everything else is the rendered init container as declared.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import harness
from tools.harness import pods


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(folder: Path, name: str, requires: tuple[str, ...] = ()) -> None:
    dist_info = f"{name}-0.1.0.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    files = {
        f"{name}/__init__.py": f'def probe():\n    return "{name} answers"\n'.encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: kubepar-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "\n".join(_record_line(path, data) for path, data in files.items())
    record += f"\n{dist_info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{name}-0.1.0-py3-none-any.whl", "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
        wheel.writestr(f"{dist_info}/RECORD", record)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    _write_wheel(folder, "kubeparprobe", requires=("numpy",))
    # Needs a numpy the image does not have: installing it would replace the image's own.
    _write_wheel(folder, "kubeparconflict", requires=("numpy==1.0.0",))
    return folder


def container(capture: harness.Capture, root: Path, wheelhouse: Path, init: bool) -> pods.LocalContainer:
    bin_dir = str(Path(sys.executable).parent)
    return pods.LocalContainer(
        capture,
        "worker",
        root,
        init=init,
        env_overrides={
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheelhouse),
            "PIP_CONFIG_FILE": os.devnull,
        },
    )


def test_pinned_package_installs_once_and_imports_in_the_worker(tmp_path: Path, wheelhouse: Path) -> None:
    capture = harness.run_program("dask-dev", {"kubepar:packages": ["kubeparprobe==0.1.0"]})
    installer = container(capture, tmp_path, wheelhouse, init=True)
    result = subprocess.run(installer.argv(), env=installer.process_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kubepar: installed kubeparprobe==0.1.0" in result.stdout

    worker = container(capture, tmp_path, wheelhouse, init=False)
    loaded = subprocess.run(
        [sys.executable, "-c", "import kubeparprobe; print(kubeparprobe.probe())"],
        env=worker.process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == "kubeparprobe answers", loaded.stderr
    # Its dependency numpy came from the image, not into the pod's package folder.
    site = next((tmp_path / "pods").glob("*/kubepar-packages/lib/python*/site-packages"))
    assert (site / "kubeparprobe").is_dir()
    assert not list(site.glob("numpy*"))


def test_package_that_would_replace_the_images_numpy_fails_naming_the_conflict(
    tmp_path: Path, wheelhouse: Path
) -> None:
    capture = harness.run_program("dask-dev", {"kubepar:packages": ["kubeparconflict==0.1.0"]})
    installer = container(capture, tmp_path, wheelhouse, init=True)
    result = subprocess.run(installer.argv(), env=installer.process_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "would replace the Dask image's own packages" in result.stderr
    assert "numpy==1.0.0" in result.stderr.split("kubepar: ")[-1]


def test_unknown_package_fails_the_init_container_naming_it(tmp_path: Path, wheelhouse: Path) -> None:
    capture = harness.run_program("dask-dev", {"kubepar:packages": ["kubeparprobe==0.1.0", "notapkg==1.0"]})
    installer = container(capture, tmp_path, wheelhouse, init=True)
    result = subprocess.run(installer.argv(), env=installer.process_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "kubepar: package(s) not installed: notapkg==1.0." in result.stderr
