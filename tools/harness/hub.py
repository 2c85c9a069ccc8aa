"""engine hub's processes, run locally against a real control plane, as the stack declared them.

The hub runs the stack's own ``jupyterhub_config.py`` and ``hub.json``, read
from the ConfigMap in the cluster, with the hub image's JupyterHub, KubeSpawner
and idle culler (``.venv-hub``, the image's pins) and a kubeconfig holding a
token of the hub's own ServiceAccount: the API server enforces the declared
Role. configurable-http-proxy (npm, the chart's release) runs with the proxy
Deployment's own command. A session's single-user server runs from the
created pod's own environment. What differs from the cluster is named here:
every address is 127.0.0.1 on a free port (simulated pods have none), the
culler's timeout when a test shortens it, and a test client (a hub service
with an API token) that plays the admin.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from components.engines.hub import PROXY_API_PORT, PROXY_PORT
from components.ground.project import PROJECT_ROOT
from tools.harness.pods import free_port, stop

HUB_VENV = PROJECT_ROOT / ".venv-hub"
PROXY_BIN = PROJECT_ROOT / "build" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
ADMIN_SCOPES = ["admin:users", "admin:servers", "admin:groups", "tokens", "list:users", "read:users"]

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def require() -> None:
    missing = [str(path) for path in (HUB_VENV / "bin" / "jupyterhub", PROXY_BIN) if not path.exists()]
    if missing:
        raise RuntimeError(f"the hub's processes are not installed ({missing}): run `make venv`")


def _get(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


def _component(kubectl: Kubectl, namespace: str, component: str) -> dict[str, Any]:
    items = _get(kubectl, "deployments", "-n", namespace, "-l", f"app.kubernetes.io/component={component}")["items"]
    assert len(items) == 1, f"one {component} Deployment in {namespace}"
    return dict(items[0])


class LocalHub:
    """The hub and its proxy of a deployed hub stack, as local processes."""

    def __init__(
        self,
        kubectl: Kubectl,
        kubeconfig: Path,
        namespace: str,
        root: Path,
        settings: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``kubectl``: the admin's, on ``kubeconfig`` (reads the stack's objects, makes the hub's token).
        ``settings``: values of hub.json a test changes (the culler's timeout); ``env``: what another
        stack's Secret would add (an OAuth client)."""
        self.kubectl, self.kubeconfig, self.namespace, self.root = kubectl, kubeconfig, namespace, root
        self.overrides, self.extra_env = dict(settings or {}), dict(env or {})
        self.hub_port, self.proxy_port, self.api_port = free_port(), free_port(), free_port()
        self.session_ports: dict[str, int] = {}
        self.test_token = secrets.token_hex(32)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.hub_deployment = _component(kubectl, namespace, "hub")
        self.proxy_deployment = _component(kubectl, namespace, "proxy")
        scripts = [m for m in _get(kubectl, "configmaps", "-n", namespace)["items"] if "hub.json" in m.get("data", {})]
        assert len(scripts) == 1
        self.files: dict[str, str] = scripts[0]["data"]
        self.settings: dict[str, Any] = json.loads(self.files["hub.json"])
        secret_name = next(
            item["valueFrom"]["secretKeyRef"]["name"]
            for item in self._container(self.hub_deployment)["env"]
            if "secretKeyRef" in item.get("valueFrom", {})
        )
        data = _get(kubectl, "secret", secret_name, "-n", namespace)["data"]
        self.secret = {key: base64.b64decode(value).decode() for key, value in data.items()}

    @staticmethod
    def _container(deployment: dict[str, Any]) -> dict[str, Any]:
        return dict(deployment["spec"]["template"]["spec"]["containers"][0])

    @property
    def url(self) -> str:
        """The proxy's public door, where users log in."""
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def users_namespace(self) -> str:
        return str(self.settings["namespace"])

    def hub_account_kubeconfig(self) -> Path:
        """A kubeconfig that is the hub's ServiceAccount: a token of it, and the cluster's address and CA."""
        account = self.hub_deployment["spec"]["template"]["spec"]["serviceAccountName"]
        token = self.kubectl("create", "token", account, "-n", self.namespace, "--duration=2h").stdout.strip()
        admin = yaml.safe_load(self.kubeconfig.read_text())
        cluster = admin["clusters"][0]
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [cluster],
            "users": [{"name": "hub", "user": {"token": token}}],
            "contexts": [{"name": "hub", "context": {"cluster": cluster["name"], "user": "hub"}}],
            "current-context": "hub",
        }
        path = self.root / "hub-kubeconfig"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def _write_config(self) -> Path:
        settings = dict(self.settings)
        settings["hubUrl"] = f"http://127.0.0.1:{self.hub_port}"
        settings["proxyApiUrl"] = f"http://127.0.0.1:{self.api_port}"
        settings.update(self.overrides)
        (self.root / "hub.json").write_text(json.dumps(settings))
        (self.root / "jupyterhub_config.py").write_text(self.files["jupyterhub_config.py"])
        (self.root / "session-ports.json").write_text("{}")
        wrapper = self.root / "local_config.py"
        wrapper.write_text(
            "# The stack's config, then only what a local run needs (tools/harness/hub.py).\n"
            "import json\n"
            f"load_subconfig({str(self.root / 'jupyterhub_config.py')!r})\n"
            f"c.JupyterHub.hub_bind_url = 'http://127.0.0.1:{self.hub_port}'\n"
            f"PORTS = {str(self.root / 'session-ports.json')!r}\n"
            "def pod_url(spawner, pod):\n"
            "    with open(PORTS) as ports:\n"
            "        return 'http://127.0.0.1:%d' % json.load(ports)[pod['metadata']['name']]\n"
            "c.KubeSpawner.get_pod_url = pod_url\n"
            f"c.JupyterHub.services.append({{'name': 'kubepar-test', 'api_token': {self.test_token!r}}})\n"
            "c.JupyterHub.load_roles.append("
            f"{{'name': 'kubepar-test', 'scopes': {ADMIN_SCOPES!r}, 'services': ['kubepar-test']}})\n"
        )
        return wrapper

    def start(self) -> None:
        require()
        wrapper = self._write_config()
        hub_target = f"http://127.0.0.1:{self.hub_port}"
        declared_hub = f"http://{self.settings['hubUrl'].split('://', 1)[1]}"
        proxy_argv = [
            part.replace(declared_hub, hub_target)
            .replace(f"--port={PROXY_PORT}", f"--port={self.proxy_port}")
            .replace(f"--api-port={PROXY_API_PORT}", f"--api-port={self.api_port}")
            .replace("--ip=", "--ip=127.0.0.1")
            .replace("--api-ip=", "--api-ip=127.0.0.1")
            for part in self._container(self.proxy_deployment)["command"]
        ]
        assert proxy_argv[0] == "configurable-http-proxy"
        proxy_env = {"PATH": os.environ["PATH"], "CONFIGPROXY_AUTH_TOKEN": self.secret["proxy-token"]}
        self.proxy_process = self._start("proxy", [str(PROXY_BIN), *proxy_argv[1:]], proxy_env)
        hub = self._container(self.hub_deployment)
        env = {"PATH": f"{HUB_VENV / 'bin'}:{os.environ['PATH']}", "KUBECONFIG": str(self.hub_account_kubeconfig())}
        for item in hub["env"]:
            if "secretKeyRef" in item.get("valueFrom", {}):
                env[item["name"]] = self.secret[item["valueFrom"]["secretKeyRef"]["key"]]
            elif item["name"] == "KUBEPAR_HUB_SETTINGS":
                env[item["name"]] = str(self.root / "hub.json")
            elif "value" in item:
                env[item["name"]] = item["value"]
        # The declared command, with the wrapper for the config: tini -- jupyterhub --config <file>.
        command = hub["command"]
        assert command[:3] == ["tini", "--", "jupyterhub"]
        self.hub_argv, self.hub_env = (
            [str(HUB_VENV / "bin" / "jupyterhub"), "--config", str(wrapper)],
            {**env, **self.extra_env},
        )
        self.hub_process = self._start("hub", self.hub_argv, self.hub_env)
        self._wait_for_hub()

    def restart_hub(self) -> None:
        """Stop the hub process alone and start it again on its database, as a rescheduled hub pod does."""
        stop(self.hub_process)
        self.processes.remove(self.hub_process)
        self.hub_process = self._start("hub", self.hub_argv, self.hub_env)
        self._wait_for_hub()

    def _wait_for_hub(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/hub/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the hub did not answer through the proxy:\n{self.logs()}")

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv, env=env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-6000:]}\n" for path in sorted(self.root.glob("*.log"))
        )

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The hub's REST API as the test's admin service."""
        headers = {"Authorization": f"token {self.test_token}"}
        return requests.request(method, f"{self.url}/hub/api{path}", headers=headers, timeout=60, **kwargs)

    def sign_up(self, user: str, password: str) -> requests.Response:
        browser = requests.Session()
        browser.get(f"{self.url}/hub/signup", timeout=30)
        form = {"username": user, "signup_password": password, "signup_password_confirmation": password}
        return browser.post(
            f"{self.url}/hub/signup", data={**form, "_xsrf": browser.cookies.get("_xsrf", "")}, timeout=30
        )

    def log_in(self, user: str, password: str) -> requests.Session:
        """A browser session of ``user`` after the hub's login form (raises if the login fails)."""
        browser = requests.Session()
        browser.get(f"{self.url}/hub/login", timeout=30)
        form = {"username": user, "password": password, "_xsrf": browser.cookies.get("_xsrf", "")}
        answer = browser.post(f"{self.url}/hub/login", data=form, timeout=30, allow_redirects=False)
        if answer.status_code != 302 or not any(c.name.startswith("jupyterhub-session") for c in browser.cookies):
            raise AssertionError(f"{user} could not log in: {answer.status_code} {answer.text[-500:]}")
        return browser

    def approve(self, admin: requests.Session, user: str) -> requests.Response:
        """NativeAuthenticator's approval link, as a logged-in admin follows it."""
        return admin.get(f"{self.url}/hub/authorize/{user}", timeout=30)

    def expect_session(self, pod_name: str) -> int:
        """The local port the hub will reach ``pod_name``'s server on (simulated pods have no address)."""
        port = free_port()
        self.session_ports[pod_name] = port
        (self.root / "session-ports.json").write_text(json.dumps(self.session_ports))
        return port

    def start_session(self, pod: dict[str, Any], scripts: Path) -> subprocess.Popen[bytes]:
        """The pod's single-user server, from the created pod's own container, env and args."""
        name = pod["metadata"]["name"]
        container = next(c for c in pod["spec"]["containers"] if c["name"] == "notebook")
        home = self.root / "homes" / name
        home.mkdir(parents=True, exist_ok=True)
        env = {"PATH": f"{HUB_VENV / 'bin'}:{os.environ['PATH']}", "HOME": str(home), "TMPDIR": str(home)}
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
        # The pod's paths: the init container's packages are the local venv's; its scripts a folder here.
        env.pop("PYTHONPATH", None)
        if "JUPYTER_CONFIG_PATH" in env:
            env["JUPYTER_CONFIG_PATH"] = str(scripts)
        port = self.session_ports[name]
        prefix = env["JUPYTERHUB_SERVICE_PREFIX"]
        env["JUPYTERHUB_SERVICE_URL"] = f"http://127.0.0.1:{port}{prefix}"
        argv = [*container.get("command", []), *container.get("args", [])]
        assert argv[0] == "jupyterhub-singleuser", argv
        # The pod runs it as jovyan; a test machine may run as root, which Jupyter refuses unless told.
        as_root = ["--allow-root"] if os.geteuid() == 0 else []
        return self._start(f"session-{name}", [str(HUB_VENV / "bin" / argv[0]), *argv[1:], *as_root], env)

    def pod(self, name: str) -> dict[str, Any] | None:
        found = self.kubectl("get", "pod", name, "-n", self.users_namespace, "-o", "json", check=False)
        return dict(json.loads(found.stdout)) if found.returncode == 0 else None

    def spawn(self, user: str, profile: str, serve: bool = True) -> tuple[requests.Response, dict[str, Any] | None]:
        """Ask the hub for ``user``'s session of ``profile``, as the spawn page does; once its pod exists,
        serve it locally (``serve``). Returns the hub's answer and the pod as the API server had it."""
        name = f"session-{user}"
        self.expect_session(name)
        answer: dict[str, requests.Response] = {}
        thread = threading.Thread(
            target=lambda: answer.setdefault(
                "spawn", self.api("POST", f"/users/{user}/server", json={"profile": profile})
            )
        )
        thread.start()
        pod = None
        deadline = time.monotonic() + 60
        while thread.is_alive() and pod is None and time.monotonic() < deadline:
            pod = self.pod(name)
            time.sleep(0.1)
        if pod is not None and serve:
            self.start_session(pod, self.user_scripts())
        thread.join(timeout=180)
        return answer["spawn"], pod

    def user_scripts(self) -> Path:
        """The users' scripts ConfigMap as a folder (what a session pod mounts at its scripts path)."""
        folder = self.root / "user-scripts"
        if not folder.exists():
            folder.mkdir()
            data = _get(self.kubectl, "configmap", "kubepar-user-scripts", "-n", self.users_namespace)["data"]
            for key, text in data.items():
                (folder / key).write_text(text)
        return folder

    def ready(self, user: str) -> bool:
        return bool(self.api("GET", f"/users/{user}").json()["servers"].get("", {}).get("ready"))

    def memory_bytes(self) -> int:
        """Resident memory of the hub, the proxy and the hub's services (the idle culler), together."""
        return sum(_rss(pid) for pid in _tree([self.proxy_process.pid, self.hub_process.pid]))

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process)


def _tree(pids: list[int]) -> list[int]:
    """``pids`` and all their descendants."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    found, queue = [], list(pids)
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue += children.get(pid, [])
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
