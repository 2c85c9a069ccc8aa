"""The newcomer's path: whatever a user types into a documented make target works or gets one line.

Runs make itself, with stand-ins on PATH for what is not here (a Pulumi CLI
that records its arguments, sudo and apt-get for .ci/run), so every check is
about what make and the scripts do with the user's input.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture
def bin_dir() -> Iterator[Path]:
    """A folder others can read (the .ci/run test runs as nobody), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="kubepar-make-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _stand_in(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _recording_pulumi(folder: Path, language_host: bool = True) -> Path:
    log = folder / "pulumi.log"
    # Each argument shell-quoted, so that the test reads back exactly what the CLI was given.
    (folder / "pulumi").write_text(f'#!/bin/bash\n{{ printf "%q " "$@"; echo; }} >> {log}\n')
    (folder / "pulumi").chmod(0o755)
    if language_host:
        _stand_in(folder, "pulumi-language-python", "exit 0")
    return log


# What an outer `make test` exports: a user's shell has none of it.
_MAKE_EXPORTS = ("PULUMI_BACKEND_URL", "SET", "STACK", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")


def make(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in _MAKE_EXPORTS}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env={**env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _system_path() -> str:
    """PATH without any pulumi on it: the system's folders and Python's."""
    return ":".join(p for p in os.environ["PATH"].split(":") if not (Path(p) / "pulumi").exists())


def test_up_without_a_pulumi_cli_says_what_to_do_before_installing_anything() -> None:
    done = make("up", "STACK=local", path=_system_path())
    assert done.returncode != 0
    assert "no Pulumi CLI on PATH" in done.stderr and "make up STACK=kwok" in done.stderr
    assert "pip" not in done.stdout and "venv" not in done.stdout


def test_up_installs_only_what_up_uses(bin_dir: Path) -> None:
    # checkov's environment (hundreds of MB) serves the tests, never `pulumi up`.
    _recording_pulumi(bin_dir)
    planned = make("-n", "-B", "up", "STACK=local", path=f"{bin_dir}:{os.environ['PATH']}")
    assert planned.returncode == 0, planned.stderr
    assert "requirements.txt" in planned.stdout and "policies/requirements.txt" in planned.stdout
    assert "checkov" not in planned.stdout


def test_the_engine_cli_alone_is_refused_for_a_cloud_stack(bin_dir: Path) -> None:
    _recording_pulumi(bin_dir, language_host=False)
    done = make("preview", "STACK=dev", path=f"{bin_dir}:{_system_path()}")
    assert done.returncode != 0
    assert "has no Python language host" in done.stderr and "STACK=kwok" in done.stderr
    assert not (bin_dir / "pulumi.log").exists()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # A value that looks like a flag reaches the CLI as a value.
        ("workers=-1", [["config", "set", "--stack", "t", "--", "kubepar:workers", "-1"]]),
        ("gcp:project=my-project", [["config", "set", "--stack", "t", "--", "gcp:project", "my-project"]]),
        # docs/costs.md's example: a quoted value with a space is one value.
        (
            'maintenanceWindow="TU,TH 20:00"',
            [["config", "set", "--stack", "t", "--", "kubepar:maintenanceWindow", "TU,TH 20:00"]],
        ),
        # A list keeps its items and their quotes: removed, then set item by item, typed.
        (
            'packages=["data.table", "ranger"]',
            [
                ["config", "rm", "--stack", "t", "--path", "kubepar:packages"],
                [
                    "config",
                    "set",
                    "--stack",
                    "t",
                    "--path",
                    "--type",
                    "string",
                    "--",
                    "kubepar:packages[0]",
                    "data.table",
                ],
                ["config", "set", "--stack", "t", "--path", "--type", "string", "--", "kubepar:packages[1]", "ranger"],
            ],
        ),
        (
            'sweeps=[{"name": "sim", "tasks": 100}]',
            [
                ["config", "rm", "--stack", "t", "--path", "kubepar:sweeps"],
                ["config", "set", "--stack", "t", "--path", "--type", "string", "--", "kubepar:sweeps[0].name", "sim"],
                ["config", "set", "--stack", "t", "--path", "--type", "int", "--", "kubepar:sweeps[0].tasks", "100"],
            ],
        ),
    ],
)
def test_config_passes_what_the_user_typed_to_the_cli_intact(
    bin_dir: Path, typed: str, expected: list[list[str]]
) -> None:
    log = _recording_pulumi(bin_dir)
    done = make("config", "STACK=t", f"SET={typed}", path=f"{bin_dir}:{os.environ['PATH']}")
    assert done.returncode == 0, done.stderr
    calls = [shlex.split(line) for line in log.read_text().splitlines()]
    assert calls[0] == ["stack", "select", "--create", "t"]
    assert calls[1:] == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ('packages=["data.table"', "is not valid JSON"),
        ("wokers=3", "did you mean kubepar:workers?"),
        ("workers", "is not KEY=VALUE"),
        ("", "nothing to set"),
    ],
)
def test_config_refuses_what_it_cannot_read_in_one_line(bin_dir: Path, typed: str, message: str) -> None:
    log = _recording_pulumi(bin_dir)
    done = make("config", "STACK=t", f"SET={typed}", path=f"{bin_dir}:{os.environ['PATH']}")
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("make config:")]
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    # Nothing was set.
    assert [line for line in log.read_text().splitlines() if line.startswith("config")] == []


def test_render_takes_bare_keys(tmp_path: Path) -> None:
    done = make("render", "STACK=local", "SET=workers=3", path=os.environ["PATH"])
    assert done.returncode == 0, done.stderr
    rendered = (ROOT / "build" / "render" / "local" / "kubernetes.yaml").read_text()
    assert "replicas: 3" in rendered
    refused = make("render", "STACK=local", "SET=wokers=3", path=os.environ["PATH"])
    assert refused.returncode != 0 and "did you mean kubepar:workers?" in refused.stderr


def test_backend_names_the_stacks_own_and_ci_refuses_a_stack_without_one() -> None:
    dev = make("backend", "STACK=dev", path=os.environ["PATH"])
    assert dev.stdout.strip() == "gs://kubepar-dev-pulumi-state/kubepar"
    local = make("backend", "STACK=local", path=os.environ["PATH"])
    assert local.stdout.strip() == f"file://{ROOT}/.pulumi-state?metadata=skip"
    ci = make("backend", "STACK=local", "CI_BACKEND=required", path=os.environ["PATH"])
    assert ci.returncode != 0 and "names no kubepar:stateBackend" in ci.stderr


def test_help_lists_the_documented_targets() -> None:
    listed = make("help", path=os.environ["PATH"]).stdout
    for target in ("up", "preview", "destroy", "test", "cluster", "config", "config-secret", "forward", "render"):
        assert f"make {target} " in listed, target


def test_ci_script_runs_only_the_package_installs_as_root(bin_dir: Path) -> None:
    # As a GitHub runner runs it: an ordinary user, sudo for apt alone, the user's own PATH for the rest.
    log = bin_dir / "calls.log"
    log.touch()
    log.chmod(0o666)
    _stand_in(bin_dir, "sudo", f'echo "sudo $*" >> {log}; shift; exec "$@"')
    _stand_in(bin_dir, "apt-get", f'echo "apt-get $* (uid $(id -u))" >> {log}')
    _stand_in(bin_dir, "make", f'echo "make $* (uid $(id -u), PATH $PATH)" >> {log}')
    # This machine's Python lives under /root, which nobody cannot read; the version check is not under test here.
    _stand_in(bin_dir, "python3", "exit 0")
    path = f"{bin_dir}:{os.environ['PATH']}"
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(ROOT / ".ci" / "run")],
        env={**os.environ, "PATH": path, "HOME": str(bin_dir), "GOCACHE": str(bin_dir / "go-cache")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    calls = log.read_text().splitlines()
    apt = [call for call in calls if call.startswith("apt-get")]
    assert len(apt) == 2 and all(call.endswith("(uid 65534)") for call in apt)  # the stand-in sudo keeps the uid
    assert [call.split()[1] for call in calls if call.startswith("sudo")] == ["--non-interactive"] * 2
    assert any("python3-venv" in call for call in apt)
    made = [call for call in calls if call.startswith("make")]
    assert [call.split()[1] for call in made] == ["venv", "test"]
    # make runs as the user, with the user's PATH (where setup-go put Go), not under sudo.
    assert all(f"PATH {path}" in call for call in made)


def test_ci_script_names_the_go_it_needs(bin_dir: Path) -> None:
    _stand_in(bin_dir, "go", "echo go1.24.4")
    done = subprocess.run(
        ["bash", str(ROOT / "engine" / "check-go.sh")],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    needed = max(
        (
            line.split()[1]
            for go_mod in (ROOT / "engine").glob("*/go.mod")
            for line in go_mod.read_text().splitlines()
            if line.startswith("go ")
        ),
        key=lambda version: tuple(int(part) for part in version.split(".")),
    )
    assert f"Go 1.24.4 at {bin_dir}/go is older than the {needed}" in done.stderr
    assert "actions/setup-go" in done.stderr


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("two", "configuration key 'workers' must be of type 'integer'; set a whole number"),
        ("-1", "kubepar:workers:"),
    ],
)
def test_a_config_error_through_make_preview_is_one_message_before_the_cli_runs(
    bin_dir: Path, value: str, said: str
) -> None:
    log = _recording_pulumi(bin_dir)
    name = f"mk{os.getpid() % 100000}"
    stack_file = ROOT / f"Pulumi.{name}.yaml"
    stack_file.write_text(f'config:\n  kubepar:platform: existing\n  kubepar:workers: "{value}"\n')
    try:
        done = make("preview", f"STACK={name}", path=f"{bin_dir}:{os.environ['PATH']}")
    finally:
        stack_file.unlink()
    assert done.returncode != 0
    said_lines = [line for line in done.stderr.splitlines() if line.startswith("stack:")]
    # Said once (kubepar lists every problem of a config under one heading).
    assert len(said_lines) == 1 and said in done.stderr, done.stderr
    assert done.stderr.count(said) == 1
    assert "Traceback" not in done.stderr
    assert not log.exists()  # the CLI never ran
