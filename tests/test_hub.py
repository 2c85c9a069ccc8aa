"""engine hub under the mock engine: its config checks, what it renders, and what it promises users.

The real hub runs in tests/engine/test_hub.py; here, every problem of the hub
keys is named by its key before anything exists, and the rendered settings
the hub reads hold the pods each profile promises.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from components import config
from components.ground import quantities
from components.ground.hub_rights import HUB_ROLE_RULES
from tests.conftest import OWN_RANGE, containers, only, program
from tools.harness.network import Address, Pod, connects

HUB = {
    "platform": "existing",
    "engine": "hub",
    "nodePools": "true",
    "systemMachineType": "e2-standard-4",
    "workerMachineType": "e2-standard-4",
    "workerPoolMaxNodes": "2",
    "hubAdmins": '["admin"]',
    "hubMaxSessions": "4",
    "hubProfiles": json.dumps([{"name": "rstudio", "session": "rstudio", "cpu": "1", "memory": "2Gi"}]),
}


def parse(**raw: Any) -> config.Settings:
    values = {**HUB, **raw}
    return config.parse({k: v for k, v in values.items() if v is not None}, stack="t", gcp_project=None)


def problems(**raw: Any) -> list[str]:
    with pytest.raises(config.ConfigError) as caught:
        parse(**raw)
    return caught.value.problems


def profiles(*entries: dict[str, Any]) -> str:
    return json.dumps(list(entries))


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"hubProfiles": profiles({"name": "x", "session": "shiny"})}, "hubProfiles[x].session", "not a session kind"),
        (
            {"hubProfiles": profiles({"name": "x", "session": "rstudio", "workers": 9, "workerCpu": "3"})},
            "hubProfiles[x].workers",
            "the worker pool has at most 2",
        ),
        (
            {"hubProfiles": profiles({"name": "x", "session": "rstudio", "workers": 1, "workerCpu": "6"})},
            "hubProfiles[x].workerCpu",
            "does not fit",
        ),
        ({"hubAdmins": "[]"}, "hubAdmins", "lists nobody"),
        (
            {"hubProfiles": profiles({"name": "x", "session": "rstudio", "groups": ["lab"]})},
            "hubProfiles[x].groups",
            "nobody but the admins would see",
        ),
        (
            {
                "hubGroups": json.dumps([{"name": "lab", "members": []}]),
                "hubProfiles": profiles({"name": "x", "session": "rstudio", "groups": ["lab"]}),
            },
            "hubProfiles[x].groups",
            "has no members",
        ),
        (
            {"hubProfiles": profiles({"name": "x", "session": "rstudio", "wrkers": 2})},
            "hubProfiles[x].wrkers",
            "did you mean workers",
        ),
        ({"hubProfiles": profiles({"name": "X Y", "session": "rstudio"})}, "hubProfiles[0].name", "not a profile name"),
        (
            {"hubProfiles": profiles({"name": "x", "session": "rstudio", "memory": "lots"})},
            "hubProfiles[x].memory",
            "not a quantity",
        ),
        ({"hubAdmins": '["Alice Smith"]'}, "hubAdmins", "not a user name"),
        ({"hubIdleMinutes": "0"}, "hubIdleMinutes", "outside"),
        ({"hubMaxSessions": "0"}, "hubMaxSessions", "outside"),
        ({"hubMaxSessions": "9"}, "hubMaxSessions", "Lower hubMaxSessions to"),
        ({"allowedSourceRanges": f'["{OWN_RANGE}"]'}, "allowedSourceRanges", "plain HTTP"),
        ({"hubDomain": "hub.example.org"}, "hubDomain", "no LoadBalancer"),
        ({"hubDomain": "not a domain", "allowedSourceRanges": f'["{OWN_RANGE}"]'}, "hubDomain", "not a DNS name"),
        ({"hubAuthenticator": "github", "hubUsers": '["ada"]'}, "hubOAuthClientId", "make config-secret"),
        ({"hubAuthenticator": "github"}, "hubUsers", "every account of the provider"),
        ({"hubAuthenticator": "oidc", "hubUsers": '["ada"]'}, "hubOidcIssuer", "issuer URL"),
        ({"hubOidcIssuer": "https://id.example.org"}, "hubOidcIssuer", "only applies"),
    ],
)
def test_every_hub_problem_is_named_by_its_key_with_the_fix(raw: dict[str, Any], key: str, words: str) -> None:
    found = [problem for problem in problems(**raw) if problem.startswith(f"kubepar:{key}:")]
    assert any(words in problem for problem in found), problems(**raw)


def test_the_session_limit_named_is_the_most_the_system_pool_holds() -> None:
    message = only([p for p in problems(hubMaxSessions="9") if p.startswith("kubepar:hubMaxSessions:")])
    most = int(re.search(r"Lower hubMaxSessions to (\d+)", message)[1])  # type: ignore[index]
    assert parse(hubMaxSessions=str(most)).workload.hub is not None
    assert any(p.startswith("kubepar:hubMaxSessions:") for p in problems(hubMaxSessions=str(most + 1)))


def test_other_engines_refuse_the_hub_keys() -> None:
    found = problems(engine="r", hubIdleMinutes="30")
    assert any(p.startswith("kubepar:hubIdleMinutes:") and "engine hub only" in p for p in found)


def test_without_profiles_everyone_gets_one_rstudio_profile_of_the_stacks_sizes() -> None:
    hub = parse(schedulerCpu="2", schedulerMemory="4Gi", hubMaxSessions="2", hubProfiles=None).workload.hub
    assert hub is not None
    assert [(p.name, p.session, p.cpu, p.memory, p.groups) for p in hub.profiles] == [
        ("rstudio", "rstudio", "2", "4Gi", ())
    ]


def test_the_users_quota_is_what_the_pools_hold_beside_the_hub() -> None:
    hub = parse().workload.hub
    assert hub is not None
    cpu, memory = hub.quota
    shape = quantities.machine_shape("e2-standard-4")
    assert shape is not None
    node_cpu, node_memory = quantities.allocatable(shape)
    # Two system nodes and two worker nodes, less the hub (500m, 1Gi) and the proxy (200m, 256Mi).
    assert cpu == 4 * node_cpu - 700
    assert memory == 4 * node_memory - 1280 * 1024**2


def settings_of(capture: Any) -> dict[str, Any]:
    scripts = [m for m in capture.kubernetes("ConfigMap") if "hub.json" in (m.get("data") or {})]
    return dict(json.loads(only(scripts)["data"]["hub.json"]))


@pytest.mark.parametrize("stack", ["hub", "kwok-hub"])
def test_every_pod_the_hub_starts_is_restricted_tokenless_and_on_its_pool(stack: str) -> None:
    settings = settings_of(program(stack))
    assert settings["profiles"]
    for profile in settings["profiles"]:
        override = profile["override"]
        assert override["node_selector"] == {"kubepar.dev/pool": "system"}
        pieces = [*override["init_containers"], *override["extra_containers"]]
        for container in pieces:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
        assert override["container_security_context"]["runAsNonRoot"] is True
        for item in profile["objects"]:
            if item["kind"] != "Deployment":
                continue
            spec = item["spec"]["template"]["spec"]
            assert spec["automountServiceAccountToken"] is False
            assert spec["serviceAccountName"] == "kubepar-user"
            pool = "workers" if item["metadata"]["name"].endswith("-wk") else "system"
            assert spec["nodeSelector"] == {"kubepar.dev/pool": pool}
            for container in containers(item):
                assert container["resources"]["requests"] == container["resources"]["limits"]
                assert container["securityContext"]["runAsNonRoot"] is True


def test_an_rstudio_session_serves_rstudio_on_loopback_only_behind_the_single_user_server() -> None:
    capture = program("kwok-hub")
    profile = next(p for p in settings_of(capture)["profiles"] if p["session"] == "rstudio")
    rstudio = only(profile["override"]["extra_containers"])
    assert rstudio["image"].startswith("rocker/rstudio:")
    assert "ports" not in rstudio  # nothing to publish: the single-user server reaches it on 127.0.0.1
    env = {item["name"]: item.get("value") for item in rstudio["env"]}
    assert env["DISABLE_AUTH"] == "true"
    assert env["KUBEPAR_SESSION_TIMEOUT_MINUTES"] == "30"  # hubIdleMinutes of the stack
    assert "PASSWORD" not in env
    user_scripts = only([m for m in capture.kubernetes("ConfigMap") if m["metadata"]["name"] == "kubepar-user-scripts"])
    door = user_scripts["data"]["rstudio-behind-hub.sh"]
    assert "www-address=127.0.0.1" in door
    assert '"port": 8787' in user_scripts["data"]["jupyter_server_config.py"]
    # Only the hub and the proxy reach a session, on the single-user port; nothing reaches 8787.
    policies = capture.kubernetes("NetworkPolicy")
    session = Pod(
        {
            "app.kubernetes.io/name": "kubepar",
            "app.kubernetes.io/instance": "kwok-hub",
            "app.kubernetes.io/component": "session",
        },
        "kubepar-hub-users",
    )
    proxy = Pod(
        {
            "app.kubernetes.io/name": "kubepar",
            "app.kubernetes.io/instance": "kwok-hub",
            "app.kubernetes.io/component": "proxy",
        },
        "kubepar-hub",
    )
    assert connects(policies, proxy, session, 8888)
    assert not connects(policies, proxy, session, 8787)
    other = Pod(
        {
            "app.kubernetes.io/name": "kubepar",
            "app.kubernetes.io/instance": "kwok-hub",
            "app.kubernetes.io/component": "worker",
        },
        "kubepar-hub-users",
    )
    assert not connects(policies, other, session, 8888)
    assert not connects(policies, session, Address("10.0.0.7"), 8888)


def test_the_hubs_role_is_exactly_the_shared_rules_and_its_secret_holds_no_plain_key() -> None:
    capture = program("kwok-hub")
    role = only(capture.kubernetes("Role"))
    assert [(r["apiGroups"][0], r["resources"][0], tuple(r["verbs"])) for r in role["rules"]] == list(HUB_ROLE_RULES)
    secret = only(capture.of_type("kubernetes:core/v1:Secret"))
    assert "stringData" in secret.secret_paths


def test_group_scoped_profiles_and_the_admin_list_reach_the_hubs_settings() -> None:
    settings = settings_of(program("kwok-hub"))
    assert settings["admins"] == ["admin"]
    assert settings["groups"] == {"lab": ["ada", "grace"]}
    assert {p["slug"]: p["groups"] for p in settings["profiles"]} == {"rstudio": [], "dask-lab": ["lab"]}
    assert settings["idleSeconds"] == 30 * 60 and settings["maxSessions"] == 4


def test_the_gke_hub_prices_the_idle_hub_and_one_session_of_each_profile() -> None:
    outputs = program("hub").outputs
    assert outputs["estimatedCost"]["nodes"]["worker"] == 0
    per_session = outputs["hubCost"]["usdPerHourPerSession"]
    assert set(per_session) == {"rstudio", "python-dask"}
    assert all(value > 0 for value in per_session.values())
    # python-dask's four 2-CPU workers need more of the worker pool than rstudio's four 1-CPU ones.
    assert per_session["python-dask"] > per_session["rstudio"]
    assert "firstLogin" in outputs and "signup" in outputs["firstLogin"]


DOOR = {"allowedSourceRanges": json.dumps([OWN_RANGE]), "hubDomain": "hub.example.org", "hubDnsZone": "hub-zone"}
DOOR_LABELS = {"app.kubernetes.io/name": "kubepar", "app.kubernetes.io/instance": "hub"}


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"hubDomain": "hub.example.org", "allowedSourceRanges": f'["{OWN_RANGE}"]'}, "hubDomain", "built on GKE"),
        ({"hubDnsZone": "hub-zone"}, "hubDnsZone", "only applies with hubDomain"),
    ],
)
def test_the_https_door_is_refused_where_it_cannot_be_built(raw: dict[str, Any], key: str, words: str) -> None:
    found = [problem for problem in problems(**raw) if problem.startswith(f"kubepar:{key}:")]
    assert found and words in found[0], problems(**raw)


def test_a_gke_door_needs_its_zone() -> None:
    with pytest.raises(Exception, match=r"kubepar:hubDnsZone: hubDomain hub\.example\.org needs the Cloud DNS"):
        program("hub", allowedSourceRanges=json.dumps([OWN_RANGE]), hubDomain="hub.example.org")


def test_the_https_door_is_a_tls_front_on_a_reserved_address_named_by_the_domain_within_the_ranges() -> None:
    capture = program("hub", **DOOR)
    assert capture.outputs["url"] == "https://hub.example.org"
    address = only(capture.of_type("gcp:compute/address:Address")).state["address"]
    public = only([s for s in capture.kubernetes("Service") if s["spec"]["type"] == "LoadBalancer"])
    assert public["metadata"]["labels"]["app.kubernetes.io/component"] == "https"
    assert public["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}]
    assert public["spec"]["loadBalancerIP"] == address
    assert public["spec"]["loadBalancerSourceRanges"] == [OWN_RANGE]
    record = only(capture.of_type("gcp:dns/recordSet:RecordSet")).inputs
    assert (record["name"], record["type"], record["rrdatas"], record["managedZone"]) == (
        "hub.example.org.",
        "A",
        [address],
        "hub-zone",
    )
    # The front's one right: the challenge's records in that zone, as a keyless Workload Identity account.
    grant = only(capture.of_type("gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember")).inputs
    email = "kubepar-hub-acme@kubepar-dev.iam.gserviceaccount.com"
    assert (grant["managedZone"], grant["role"], grant["member"]) == (
        "hub-zone",
        "roles/dns.admin",
        f"serviceAccount:{email}",
    )
    binding = only(capture.of_type("gcp:serviceaccount/iAMMember:IAMMember")).inputs
    assert binding["member"] == "serviceAccount:kubepar-dev.svc.id.goog[kubepar/kubepar-https]"
    account = only([a for a in capture.kubernetes("ServiceAccount") if a["metadata"]["name"] == "kubepar-https"])
    assert account["metadata"]["annotations"] == {"iam.gke.io/gcp-service-account": email}
    assert account["automountServiceAccountToken"] is False
    assert not capture.of_type("gcp:serviceaccount/key:Key")


def test_the_front_proves_the_name_by_dns_and_forwards_only_to_the_proxy() -> None:
    capture = program("hub", **DOOR)
    scripts = only([m for m in capture.kubernetes("ConfigMap") if "traefik.yaml" in (m.get("data") or {})])["data"]
    static, routes = yaml.safe_load(scripts["traefik.yaml"]), yaml.safe_load(scripts["traefik-routes.yaml"])
    acme = static["certificatesResolvers"]["letsencrypt"]["acme"]
    assert acme["dnsChallenge"] == {"provider": "gcloud"} and "httpChallenge" not in acme
    front = only(
        [
            d
            for d in capture.kubernetes("Deployment")
            if d["metadata"]["labels"]["app.kubernetes.io/component"] == "https"
        ]
    )
    mounts = {m["mountPath"] for m in front["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert acme["storage"].rsplit("/", 1)[0] in mounts  # on the front's claim: kept across restarts
    router = only(list(routes["http"]["routers"].values()))
    assert router["rule"] == "Host(`hub.example.org`)"
    assert routes["http"]["services"]["door"]["loadBalancer"]["servers"] == [
        {"url": "http://kubepar-proxy.kubepar.svc.cluster.local:8000"}
    ]
    env = {e["name"]: e.get("value") for e in front["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["GCE_PROJECT"], env["GCE_ZONE_ID"]) == ("kubepar-dev", "hub-zone")
    policies = capture.kubernetes("NetworkPolicy")
    https, proxy = (
        Pod({**DOOR_LABELS, "app.kubernetes.io/component": "https"}, "kubepar"),
        Pod({**DOOR_LABELS, "app.kubernetes.io/component": "proxy"}, "kubepar"),
    )
    user, stranger = Address("81.2.69.5"), Address("198.51.100.200")
    assert connects(policies, user, https, 8443) and not connects(policies, stranger, https, 8443)
    assert connects(policies, https, proxy, 8000) and not connects(policies, https, proxy, 8001)
    assert not connects(policies, user, proxy, 8000)  # the proxy has no public door of its own
    assert connects(policies, https, Address("169.254.169.254"), 80)
    assert not connects(policies, proxy, Address("169.254.169.254"), 80)
    from pulumi_policy import EnforcementLevel

    from tests.policies.helpers import violations

    assert violations(capture, EnforcementLevel.MANDATORY) == []


def test_the_hubs_r_packages_reach_r_pods_only() -> None:
    settings = settings_of(program("kwok-hub", packages='["data.table"]'))
    for profile in settings["profiles"]:
        for item in profile["objects"]:
            if item["kind"] != "Deployment":
                continue
            for container in item["spec"]["template"]["spec"].get("initContainers", []):
                env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
                if container["image"].startswith("rocker/"):
                    assert "data.table" in env.get("KUBEPAR_PACKAGES", ""), item["metadata"]["name"]
                else:
                    assert "data.table" not in env.get("KUBEPAR_PACKAGES", ""), item["metadata"]["name"]


@pytest.mark.parametrize("key", ["hubSecretSeed", "hubOAuthClientId", "hubOAuthClientSecret"])
def test_the_hubs_secrets_are_refused_in_plain_text(key: str) -> None:
    from tools import harness

    monitor = harness.RecordingMonitor(harness.RecordingMocks())
    with pytest.raises(Exception, match=f"kubepar:{key}: stored in plain text; set it with `make config-secret"):
        harness.run_program("kwok-hub", {f"kubepar:{key}": "typed-in-the-open"}, monitor=monitor)
    assert monitor.records == []


def test_a_seed_set_as_a_secret_replaces_the_generated_one_and_never_shows() -> None:
    seed = "a-seed-the-admin-chose-0123456789"
    capture = program("kwok-hub", hubSecretSeed={"secret": seed})
    assert not capture.of_type("random:index/randomId:RandomId")
    secret = only(capture.of_type("kubernetes:core/v1:Secret"))
    assert "stringData" in secret.secret_paths
    assert seed not in json.dumps(capture.outputs) and seed not in yaml.safe_dump_all(capture.kubernetes("ConfigMap"))


def test_the_hubs_keys_derive_from_the_seed_each_its_own_and_the_same_at_every_up() -> None:
    from components.k8s.hub import derive

    keys = {purpose: derive("seed", purpose) for purpose in ("cookie-secret", "crypt-key", "proxy-token")}
    assert len(set(keys.values())) == 3
    # 32 bytes as hex: what JupyterHub takes as its cookie secret and as a crypt key.
    assert all(len(key) == 64 and int(key, 16) >= 0 for key in keys.values())
    assert derive("seed", "crypt-key") == keys["crypt-key"] != derive("other seed", "crypt-key")
