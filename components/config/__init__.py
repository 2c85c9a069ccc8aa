"""Stack configuration: the only caller of ``pulumi.Config``.

Owns: reading this stack's config (and ``gcp:project``) once, checking the
password apart as a secret, refusing keys kubepar does not read, and
raising one ``pulumi.RunError`` that lists every problem, before any
resource exists. Does not: check values itself (workload.py, gke.py,
sweeps.py and each engine's plug-in do).
Invariant: ``load()`` returns complete settings or no stack is touched.
Defaults are written once, in ``Pulumi.yaml``.
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Any

import pulumi

from components.config.workload import parse
from components.ground.project import DEFAULTS, PROJECT
from components.ground.reader import ConfigError
from components.ground.settings import Settings, WorkloadSettings

__all__ = ["ConfigError", "load", "parse", "unknown_keys"]


# Read apart, as Pulumi secrets: the password first (checked for length), then the others.
SECRET_KEYS = ("password", "hubSecretSeed", "hubOAuthClientId", "hubOAuthClientSecret", "queuePassword")
# The queue's password goes into the server's config file as `requirepass <password>`.
QUEUE_PASSWORD = re.compile(r"[A-Za-z0-9]{24,}")
SET_SECRET = "[secret]"


def _plain_secret(key: str) -> list[str]:
    """A problem when a secret key that is set holds plain text."""
    full = f"{PROJECT}:{key}"
    if not pulumi.runtime.is_config_secret(full):
        return [f"{full}: stored in plain text; set it with `make config-secret STACK={pulumi.get_stack()} KEY={key}`"]
    return []


def _queue_password(workload: WorkloadSettings, value: str) -> list[str]:
    """Problems of a queuePassword that is set: the stack must run the queue, the server must take it whole."""
    full = f"{PROJECT}:queuePassword"
    if dict(workload.options).get("rBackend") != "redis":
        return [f"{full}: only the queue of rBackend redis uses it; remove it from Pulumi.<stack>.yaml"]
    if not QUEUE_PASSWORD.fullmatch(value):
        return [f"{full}: use 24 or more letters and digits (the server's config reads it as one word)"]
    return []


def unknown_keys(keys: list[str]) -> list[str]:
    """A problem per ``kubepar:`` key that kubepar does not read (a typo does nothing otherwise)."""
    known = set(DEFAULTS)
    problems = []
    for full in sorted(keys):
        project, _, key = full.partition(":")
        if project != PROJECT or key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f"did you mean {PROJECT}:{close[0]}?" if close else "see Pulumi.yaml for the keys kubepar reads"
        problems.append(f"{full}: not a kubepar setting, so it would do nothing; {hint} (remove or rename it)")
    return problems


def load() -> Settings:
    """Read this stack's config; raise one RunError listing every problem."""
    config = pulumi.Config(PROJECT)
    # The password is read apart: as a secret, and only once it is checked.
    raw: dict[str, str | None] = {key: config.get(key) for key in DEFAULTS if key not in SECRET_KEYS}
    # The other secrets that are set, read once: the checks ask whether one is (and the queue's
    # password is checked for what its server takes); no message ever shows a value.
    set_secrets = {
        key: str(value) for key in SECRET_KEYS[1:] if (value := pulumi.runtime.get_config(f"{PROJECT}:{key}"))
    }
    raw.update(dict.fromkeys(set_secrets, SET_SECRET))
    gcp_project = pulumi.Config("gcp").get("project")
    password_key = f"{PROJECT}:password"
    # Read without get_secret first, to check it before anything is created.
    password_raw: Any = pulumi.runtime.get_config(password_key) or None
    problems: list[str] = []
    try:
        settings = parse(
            raw,
            stack=pulumi.get_stack(),
            gcp_project=gcp_project,
            # Set by make and by CI; a bare `pulumi login` elsewhere is not visible here.
            backend_in_use=os.environ.get("PULUMI_BACKEND_URL"),
        )
    except ConfigError as errors:
        problems = list(errors.problems)
        settings = None
    problems += unknown_keys([*pulumi.runtime.config.CONFIG.get(), *pulumi.runtime.config.get_config_env()])
    for key in set_secrets:
        problems += _plain_secret(key)
    if "queuePassword" in set_secrets and settings is not None:
        problems += _queue_password(settings.workload, set_secrets["queuePassword"])
    if password_raw is not None:
        if not pulumi.runtime.is_config_secret(password_key):
            problems.append(
                f"{password_key}: stored in plain text; set it with "
                f"`make config-secret STACK={pulumi.get_stack()} KEY=password` (or remove it to generate one)"
            )
        elif len(str(password_raw)) < 12:
            problems.append(f"{password_key}: shorter than 12 characters; choose a longer one")
        elif any(not character.isprintable() for character in str(password_raw)):
            # rocker's init hands it to chpasswd as one line; a control character cuts or mangles it.
            problems.append(
                f"{password_key}: holds a newline or another control character, which the login would "
                "not take as typed; choose one of printable characters only"
            )
    if problems or settings is None:
        raise pulumi.RunError("invalid stack configuration, nothing was created:\n  " + "\n  ".join(problems))
    password = config.get_secret("password") if password_raw is not None else None
    for warning in settings.warnings:
        pulumi.log.warn(warning)
    secrets = {key: config.get_secret(key) for key in set_secrets}
    return Settings(
        secrets=secrets,
        stack=settings.stack,
        platform=settings.platform,
        kube_context=settings.kube_context,
        gke=settings.gke,
        workload=settings.workload,
        password=password,
        warnings=settings.warnings,
    )
