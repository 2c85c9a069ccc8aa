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
import render

from tests.e2e import pods


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    files = {
        "kubeparprobe/__init__.py": b'def probe():\n    return "kubeparprobe answers"\n',
        "kubeparprobe-0.1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: kubeparprobe\nVersion: 0.1.0\n",
        "kubeparprobe-0.1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: kubepar-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "\n".join(_record_line(name, data) for name, data in files.items())
    record += "\nkubeparprobe-0.1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(folder / "kubeparprobe-0.1.0-py3-none-any.whl", "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("kubeparprobe-0.1.0.dist-info/RECORD", record)
    return folder


def container(capture: render.Capture, root: Path, wheelhouse: Path, init: bool) -> pods.LocalContainer:
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
    capture = render.run_program("dask-dev", {"kubepar:packages": ["kubeparprobe==0.1.0"]})
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


def test_unknown_package_fails_the_init_container_naming_it(tmp_path: Path, wheelhouse: Path) -> None:
    capture = render.run_program("dask-dev", {"kubepar:packages": ["kubeparprobe==0.1.0", "notapkg==1.0"]})
    installer = container(capture, tmp_path, wheelhouse, init=True)
    result = subprocess.run(installer.argv(), env=installer.process_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "kubepar: package(s) not installed: notapkg==1.0." in result.stderr
