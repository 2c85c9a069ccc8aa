# kubepar's JupyterHub configuration: the hub image's JupyterHub, KubeSpawner and
# idle culler, driven by the settings file the stack renders beside it
# (KUBEPAR_HUB_SETTINGS: profiles, groups, admins, limits). Everything a user
# gets is data in that file; this file only wires it into the hub.
#
# Per user, the hub starts one session pod (KubeSpawner) and, once the pod
# exists, the objects of its profile (workers, the Service they dial, the
# NetworkPolicy that keeps them to their own user), each owned by the session
# pod: stopping or culling the session deletes the pod, and the garbage
# collector deletes the rest. The home claim is KubeSpawner's and outlives it.
# ruff: noqa: F821 (``c`` is the configuration object JupyterHub provides)
import json
import os
import sys

from tornado import web

with open(os.environ["KUBEPAR_HUB_SETTINGS"], encoding="utf-8") as settings_file:
    settings = json.load(settings_file)
profiles = settings["profiles"]
by_slug = {profile["slug"]: profile for profile in profiles}
admins = set(settings["admins"])
USER_LABEL = "hub.jupyter.org/username"
QUOTA = "kubepar-users"

# The hub: listens for the proxy and the sessions on 8081; the proxy is its own
# Deployment (configurable-http-proxy), reached on its API with the shared token
# (CONFIGPROXY_AUTH_TOKEN); the database lives in the working directory, on the
# hub's claim. JPY_COOKIE_SECRET and JUPYTERHUB_CRYPT_KEY come from the Secret.
c.JupyterHub.hub_bind_url = "http://:8081"
c.JupyterHub.hub_connect_url = settings["hubUrl"]
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = settings["proxyApiUrl"]
c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
# A hub restart leaves running sessions running.
c.JupyterHub.cleanup_servers = False
c.JupyterHub.allow_named_servers = False
c.JupyterHub.active_server_limit = settings["maxSessions"]
c.JupyterHub.concurrent_spawn_limit = min(settings["maxSessions"], 20)
c.JupyterHub.load_groups = {name: {"users": members} for name, members in settings["groups"].items()}
c.JupyterHub.template_vars = {
    "announcement_login": f"kubepar: sessions stop after {settings['idleSeconds'] // 60} idle minutes; "
    "your home folder stays."
}

# Who logs in. No default password: native accounts are created by sign-up and
# approved by an admin; OAuth admits the listed users and group members only.
c.Authenticator.admin_users = admins
kind = settings["authenticator"]
if kind == "native":
    c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = 12
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 600
    # Approval is the gate: an approved account may log in.
    c.Authenticator.allow_all = True
else:
    members = {user for users in settings["groups"].values() for user in users}
    c.Authenticator.allowed_users = set(settings["users"]) | members
    c.OAuthenticator.oauth_callback_url = settings["oauthCallbackUrl"]
    c.OAuthenticator.client_id = os.environ["OAUTH_CLIENT_ID"]
    c.OAuthenticator.client_secret = os.environ["OAUTH_CLIENT_SECRET"]
    if kind == "github":
        c.JupyterHub.authenticator_class = "oauthenticator.github.GitHubOAuthenticator"
    elif kind == "google":
        c.JupyterHub.authenticator_class = "oauthenticator.google.GoogleOAuthenticator"
    else:
        import urllib.request

        issuer = settings["oidcIssuer"].rstrip("/")
        with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=30) as answer:
            discovery = json.load(answer)
        c.JupyterHub.authenticator_class = "oauthenticator.generic.GenericOAuthenticator"
        c.GenericOAuthenticator.authorize_url = discovery["authorization_endpoint"]
        c.GenericOAuthenticator.token_url = discovery["token_endpoint"]
        c.GenericOAuthenticator.userdata_url = discovery["userinfo_endpoint"]
        c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
        c.GenericOAuthenticator.username_claim = "preferred_username"

# The idle culler: a hub service with exactly the rights it uses. A culled
# session's pod is deleted; its workers go with it (owner references).
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={settings['idleSeconds']}",
            f"--cull-every={max(1, min(300, settings['idleSeconds'] // 4))}",
            "--concurrency=5",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]


def visible(spawner):
    """The profiles this user may start: those of their groups, or open to all; admins see all."""
    groups = {group.name for group in spawner.user.groups}
    return [
        profile
        for profile in profiles
        if spawner.user.admin or not profile["groups"] or groups & set(profile["groups"])
    ]


def profile_list(spawner):
    return [
        {
            "slug": profile["slug"],
            "display_name": profile["display_name"],
            "description": profile["description"],
            "default": index == 0,
            "kubespawner_override": dict(profile["override"], default_url=profile["defaultUrl"]),
        }
        for index, profile in enumerate(visible(spawner))
    ]


def check_profile(spawner):
    """Refuse a profile outside the user's groups here, before any pod exists (not only hidden)."""
    open_to_user = [profile["slug"] for profile in visible(spawner)]
    wanted = spawner.user_options.get("profile") or (open_to_user[0] if open_to_user else None)
    if wanted is None:
        raise web.HTTPError(403, f"no profile is open to {spawner.user.name}; ask an admin to add you to a group")
    if wanted not in open_to_user:
        raise web.HTTPError(
            403,
            "profile {} is not open to {} (it is for the groups {}); ask an admin to add you to one".format(
                wanted,
                spawner.user.name,
                ", ".join(by_slug[wanted]["groups"]) if wanted in by_slug else "of no profile",
            ),
        )
    spawner.kubepar_profile = by_slug[wanted]


def _millis(value):
    text = str(value)
    return int(float(text[:-1])) if text.endswith("m") else int(float(text) * 1000)


_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "k": 1000, "M": 1000**2, "G": 1000**3}


def _bytes(value):
    text = str(value)
    for unit, factor in _UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(float(text))


def _requests(objects):
    """CPU (millis) and memory (bytes) the objects' pods ask for, init containers' peaks included."""
    cpu = memory = 0
    for item in objects:
        if item["kind"] != "Deployment":
            continue
        spec = item["spec"]["template"]["spec"]
        main = [container["resources"]["requests"] for container in spec["containers"]]
        init = [container["resources"]["requests"] for container in spec.get("initContainers", [])]
        pod_cpu = max([sum(_millis(r["cpu"]) for r in main), *(_millis(r["cpu"]) for r in init)])
        pod_memory = max([sum(_bytes(r["memory"]) for r in main), *(_bytes(r["memory"]) for r in init)])
        cpu += pod_cpu * item["spec"]["replicas"]
        memory += pod_memory * item["spec"]["replicas"]
    return cpu, memory


async def _fits(core, namespace, objects):
    """Refuse a session whose workers the users' quota cannot hold: it fails now, not with workers pending."""
    quota = await core.read_namespaced_resource_quota(QUOTA, namespace)
    hard, used = quota.status.hard or {}, quota.status.used or {}
    cpu, memory = _requests(objects)
    cpu_left = _millis(hard.get("requests.cpu", "0")) - _millis(used.get("requests.cpu", "0"))
    memory_left = _bytes(hard.get("requests.memory", "0")) - _bytes(used.get("requests.memory", "0"))
    if cpu > cpu_left or memory > memory_left:
        raise web.HTTPError(
            403,
            f"this session's workers need {cpu}m CPU and {memory // 1024**2} MiB; the users' quota ({QUOTA}, "
            f"sized to the pools' ceilings) has {max(0, cpu_left)}m CPU and {max(0, memory_left) // 1024**2} MiB "
            "left. Stop a session or choose a profile with fewer workers",
        )


async def create_user_objects(spawner, pod):
    """The profile's objects for this session, each owned by the session pod (garbage-collected with it)."""
    from kubernetes_asyncio.client.rest import ApiException
    from kubespawner.clients import shared_client

    profile = getattr(spawner, "kubepar_profile", None) or by_slug[profile_list(spawner)[0]["slug"]]
    meta = pod["metadata"]
    text = (
        json.dumps(profile["objects"]).replace("__POD__", meta["name"]).replace("__USER__", meta["labels"][USER_LABEL])
    )
    objects = json.loads(text)
    owner = {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"], "blockOwnerDeletion": False}
    namespace = spawner.namespace
    core = shared_client("CoreV1Api")
    apps = shared_client("AppsV1Api")
    network = shared_client("NetworkingV1Api")
    if profile["workers"]:
        await _fits(core, namespace, objects)
    calls = {
        "Deployment": (apps.create_namespaced_deployment, apps.delete_namespaced_deployment),
        "Service": (core.create_namespaced_service, core.delete_namespaced_service),
        "NetworkPolicy": (network.create_namespaced_network_policy, network.delete_namespaced_network_policy),
    }
    for item in objects:
        item["metadata"]["ownerReferences"] = [owner]
        create, delete = calls[item["kind"]]
        try:
            await create(namespace, item)
        except ApiException as error:
            if error.status != 409:
                raise
            # A leftover of the user's previous session, not yet collected.
            await delete(item["metadata"]["name"], namespace)
            await create(namespace, item)
        spawner.log.info("kubepar: created %s %s for %s", item["kind"], item["metadata"]["name"], spawner.user.name)


def rstudio_root(spawner, pod):
    """RStudio learns the path the proxy serves it under: /user/<name>/rstudio/."""
    from kubernetes_asyncio.client.models import V1EnvVar

    for container in pod.spec.containers:
        if container.name == "rstudio":
            container.env = [
                *(container.env or []),
                V1EnvVar(name="KUBEPAR_WWW_ROOT", value=spawner.server.base_url + "rstudio/"),
            ]
    return pod


c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.KubeSpawner.namespace = settings["namespace"]
c.KubeSpawner.pod_name_template = "session-{user_server}"
c.KubeSpawner.pvc_name_template = "home-{user_server}"
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.storage_capacity = settings["homeSize"]
c.KubeSpawner.storage_access_modes = ["ReadWriteOnce"]
c.KubeSpawner.service_account = "kubepar-user"
c.KubeSpawner.automount_service_account_token = False
c.KubeSpawner.port = 8888
c.KubeSpawner.cmd = ["jupyterhub-singleuser"]
c.KubeSpawner.allow_privilege_escalation = False
# kubepar's labels on sessions and home claims, so the namespace's NetworkPolicies select them
# (KubeSpawner's own name and component labels would otherwise replace these).
c.KubeSpawner.common_labels = {
    "app.kubernetes.io/name": "kubepar",
    "app.kubernetes.io/instance": settings["stack"],
    "app.kubernetes.io/managed-by": "kubepar-hub",
}
c.KubeSpawner.component_label = "session"
# The package installers run before the server: allow for them.
c.KubeSpawner.start_timeout = 900
c.KubeSpawner.http_timeout = 120
c.KubeSpawner.profile_list = profile_list
c.KubeSpawner.pre_spawn_hook = check_profile
c.KubeSpawner.after_pod_created_hook = create_user_objects
c.KubeSpawner.modify_pod_hook = rstudio_root
