"""The hub keys read directly: each refusal word for word, each bound on both sides, the quota's figures.

parse_hub runs on a Reader of raw values, as config passes them, so every message below is what a user
reads (after ``kubepar:<key>: ``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config.hub import parse_hub
from components.ground.reader import Reader
from components.ground.settings import HubProfile, HubSettings

SIZES = {"cpu": "1", "memory": "2Gi", "worker_cpu": "1", "worker_memory": "2Gi"}
GIB = 1024**3


def hub(**raw: Any) -> tuple[HubSettings, list[str]]:
    values = {"hubAdmins": ["teacher"], **raw}
    read = Reader({key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()})
    return parse_hub(read, SIZES), read.problems


def problems(**raw: Any) -> list[str]:
    return hub(**raw)[1]


def test_the_defaults_are_one_rstudio_profile_of_the_stacks_sizes() -> None:
    settings, found = hub()
    assert found == []
    assert settings == HubSettings(
        authenticator="native",
        admins=("teacher",),
        users=(),
        groups=(),
        profiles=(
            HubProfile(
                name="rstudio", session="rstudio", cpu="1", memory="2Gi", workers=0, worker_cpu="1", worker_memory="2Gi"
            ),
        ),
        idle_minutes=60,
        max_sessions=10,
        oidc_issuer=None,
    )


@pytest.mark.parametrize(
    ("admins", "message"),
    [
        ("teacher", "kubepar:hubAdmins: 'teacher' is not a list; set it in the stack file as a YAML list of strings"),
        (["ada", 7], """kubepar:hubAdmins: '["ada", 7]' is not a list of strings"""),
        (
            ["Ada"],
            "kubepar:hubAdmins: 'Ada' is not a user name the hub keeps as written; use lowercase letters, digits "
            "and . _ @ - (the hub lowercases names at login)",
        ),
        (["ada", "ada"], "kubepar:hubAdmins: 'ada' is listed twice"),
    ],
)
def test_user_lists_are_lowercase_names_each_once(admins: Any, message: str) -> None:
    assert message in problems(hubAdmins=admins)


@pytest.mark.parametrize("name", ["a", "ada.lovelace@example.org", "x_1-2", "9lives", "a" * 63])
def test_user_names_the_hub_keeps(name: str) -> None:
    assert problems(hubAdmins=[name]) == []


def test_no_admin_is_refused_saying_how_the_first_admin_gets_in() -> None:
    assert problems(hubAdmins=[]) == [
        "kubepar:hubAdmins: lists nobody, so nobody could run the hub; name at least one admin (the first admin "
        "signs up at <url>/hub/signup and is approved at once; every other sign-up waits for an admin)"
    ]
    oauth = problems(
        hubAdmins=[], hubAuthenticator="github", hubUsers=["ada"], hubOAuthClientId="x", hubOAuthClientSecret="y"
    )
    assert oauth == [
        "kubepar:hubAdmins: lists nobody, so nobody could run the hub; name at least one admin (admins approve "
        "nobody under OAuth, but they manage groups and stop sessions)"
    ]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        (["lab"], "kubepar:hubGroups[0]: 'lab' is not a mapping with name and members"),
        (
            [{"name": "Lab"}],
            "kubepar:hubGroups[0].name: 'Lab' is not a group name of lowercase letters, digits and '-'",
        ),
        (
            [{"name": "lab", "members": ["ada"]}, {"name": "lab", "members": []}],
            "kubepar:hubGroups[lab]: the group 'lab' is listed twice; list its members once",
        ),
        (
            [{"name": "lab", "membres": ["ada"]}],
            "kubepar:hubGroups[lab].membres: not a group setting, so it would do nothing; did you mean members?",
        ),
        ([{"name": "lab", "members": ["Ada"]}], "kubepar:hubGroups[lab].members: 'Ada' is not a user name"),
        ([{"name": "lab", "members": "ada"}], "kubepar:hubGroups[lab].members: 'ada' is not a list of user names"),
    ],
)
def test_each_group_problem_is_named_by_its_group(groups: list[Any], message: str) -> None:
    assert any(problem.startswith(message) for problem in problems(hubGroups=groups)), problems(hubGroups=groups)


def test_groups_are_kept_sorted_by_name() -> None:
    settings, found = hub(hubGroups=[{"name": "zoo", "members": ["b"]}, {"name": "art", "members": ["a", "c"]}])
    assert found == [] and settings.groups == (("art", ("a", "c")), ("zoo", ("b",)))


def profile(**fields: Any) -> list[dict[str, Any]]:
    return [{"name": "p", "session": "rstudio", **fields}]


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        (["p"], "kubepar:hubProfiles[0]: 'p' is not a mapping with name and session"),
        (
            [{"name": "P", "session": "rstudio"}],
            "kubepar:hubProfiles[0].name: 'P' is not a profile name of 1-32 lowercase letters, digits or '-', "
            "starting with a letter",
        ),
        (
            profile(session="vscode"),
            "kubepar:hubProfiles[p].session: 'vscode' is not a session kind; use rstudio (RStudio and R workers) "
            "or jupyterlab (JupyterLab and Dask workers)",
        ),
        (profile(workers=121), "kubepar:hubProfiles[p].workers: 121 is outside 0..120; use 0..120"),
        (
            [{"name": "p", "session": "jupyterlab", "workers": 201}],
            "kubepar:hubProfiles[p].workers: 201 is outside 0..200; use 0..200",
        ),
        (profile(groups="lab"), "kubepar:hubProfiles[p].groups: 'lab' is not a list of group names"),
        (
            profile(groups=["lab"]),
            "kubepar:hubProfiles[p].groups: 'lab' is not a group of hubGroups (none yet), so nobody but the admins "
            "would see this profile; add the group with its members to hubGroups, or remove it here",
        ),
        (
            [*profile(), *profile()],
            "kubepar:hubProfiles[p]: the name 'p' is used twice; each profile needs its own",
        ),
        (profile(workerCpu="x"), "kubepar:hubProfiles[p].workerCpu: 'x' is not a quantity"),
        (profile(workerMemory="x"), "kubepar:hubProfiles[p].workerMemory: 'x' is not a quantity"),
        (profile(cpu="x"), "kubepar:hubProfiles[p].cpu: 'x' is not a quantity"),
    ],
)
def test_each_profile_problem_is_named_by_its_profile(profiles: list[Any], message: str) -> None:
    found = problems(hubProfiles=profiles)
    assert any(problem.startswith(message) for problem in found), found


@pytest.mark.parametrize(("session", "workers"), [("rstudio", 120), ("jupyterlab", 200), ("rstudio", 0)])
def test_workers_up_to_each_session_kinds_limit(session: str, workers: int) -> None:
    settings, found = hub(hubProfiles=[{"name": "p", "session": session, "workers": workers}])
    assert found == [] and settings.profiles[0].workers == workers


def test_a_profile_takes_its_own_sizes_and_groups_or_the_stacks() -> None:
    raw = {
        "hubGroups": [{"name": "lab", "members": ["ada"]}, {"name": "empty", "members": []}],
        "hubProfiles": [
            {"name": "big", "session": "jupyterlab", "cpu": "2", "memory": "8Gi", "workers": 3, "workerCpu": "4",
             "workerMemory": "16Gi", "groups": ["lab"]},
            {"name": "small", "session": "rstudio"},
            {"name": "hidden", "session": "rstudio", "groups": ["empty"]},
        ],
    }  # fmt: skip
    settings, found = hub(**raw)
    assert found == [
        "kubepar:hubProfiles[hidden].groups: the group 'empty' has no members, so nobody but the admins would see "
        "this profile; add members to it in hubGroups"
    ]
    assert settings.profiles[0] == HubProfile(
        name="big", session="jupyterlab", cpu="2", memory="8Gi", workers=3, worker_cpu="4", worker_memory="16Gi",
        groups=("lab",),
    )  # fmt: skip
    assert settings.profiles[1].cpu == "1" and settings.profiles[1].worker_memory == "2Gi"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("hubIdleMinutes", 4, "kubepar:hubIdleMinutes: 4 is outside 5..10080; use 5..10080 minutes"),
        ("hubIdleMinutes", 10081, "kubepar:hubIdleMinutes: 10081 is outside 5..10080; use 5..10080 minutes"),
        ("hubMaxSessions", 0, "kubepar:hubMaxSessions: 0 is outside 1..500; use 1..500"),
        ("hubMaxSessions", 501, "kubepar:hubMaxSessions: 501 is outside 1..500; use 1..500"),
    ],
)
def test_idle_minutes_and_sessions_past_their_bounds(key: str, value: int, message: str) -> None:
    found = problems(**{key: str(value)})
    assert len(found) == 1 and found[0].startswith(message), found


@pytest.mark.parametrize(("key", "value"), [("hubIdleMinutes", 5), ("hubIdleMinutes", 10080), ("hubMaxSessions", 500)])
def test_idle_minutes_and_sessions_at_their_bounds(key: str, value: int) -> None:
    assert problems(**{key: str(value)}) == []


def test_oauth_needs_its_client_and_a_list_of_who_may_log_in() -> None:
    assert problems(hubAuthenticator="google") == [
        "kubepar:hubOAuthClientId: hubAuthenticator google needs it; set it with `make config-secret "
        "KEY=hubOAuthClientId`",
        "kubepar:hubOAuthClientSecret: hubAuthenticator google needs it; set it with `make config-secret "
        "KEY=hubOAuthClientSecret`",
        "kubepar:hubUsers: with google, only listed people may log in, and neither hubUsers nor hubGroups lists "
        "anyone besides the admins; list them (an empty list would let every account of the provider in)",
    ]
    client = {"hubOAuthClientId": "[secret]", "hubOAuthClientSecret": "[secret]"}
    assert problems(hubAuthenticator="github", hubUsers=["ada"], **client) == []
    assert problems(hubAuthenticator="github", hubGroups=[{"name": "lab", "members": ["ada"]}], **client) == []
    assert problems(hubAuthenticator="github", hubGroups=[{"name": "lab", "members": []}], **client) != []


@pytest.mark.parametrize(
    ("authenticator", "issuer", "message"),
    [
        ("oidc", "", "kubepar:hubOidcIssuer: None: hubAuthenticator oidc needs the provider's https:// issuer URL"),
        (
            "oidc",
            "http://id.example.org",
            "kubepar:hubOidcIssuer: 'http://id.example.org': hubAuthenticator oidc needs the provider's https:// "
            "issuer URL",
        ),
        ("oidc", "https://id.example.org", None),
        ("native", "https://id.example.org", "kubepar:hubOidcIssuer: only applies to hubAuthenticator oidc; remove it"),
    ],
)
def test_the_oidc_issuer_is_https_and_only_for_oidc(authenticator: str, issuer: str, message: str | None) -> None:
    oauth = {"hubOAuthClientId": "[secret]", "hubOAuthClientSecret": "[secret]", "hubUsers": ["ada"]}
    extra = oauth if authenticator != "native" else {}
    settings, found = hub(hubAuthenticator=authenticator, hubOidcIssuer=issuer, **extra)
    assert found == ([message] if message else [])
    if message is None:
        assert settings.oidc_issuer == issuer


QUANTITY = {
    "cpu": "'x' is not a quantity (expected a CPU quantity such as 1, 0.5 or 500m); use one such as 1 or 500m",
    "memory": "'x' is not a quantity (expected a memory quantity such as 2Gi or 512Mi); use one such as 2Gi",
}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("cpu", QUANTITY["cpu"]),
        ("workerCpu", QUANTITY["cpu"]),
        ("memory", QUANTITY["memory"]),
        ("workerMemory", QUANTITY["memory"]),
        ("workers", "'x' is not a whole number in 0..120; use 0..120"),
    ],
)
def test_a_profile_with_a_bad_size_says_so_and_is_not_kept(field: str, message: str) -> None:
    settings, found = hub(hubProfiles=[{"name": "p", "session": "rstudio", field: "x"}])
    assert found == [f"kubepar:hubProfiles[p].{field}: {message}"]
    assert settings.profiles == ()


def test_an_unknown_profile_field_is_named_as_a_profile_setting() -> None:
    assert problems(hubProfiles=profile(wrkers=1)) == [
        "kubepar:hubProfiles[p].wrkers: not a profile setting, so it would do nothing; did you mean workers?"
    ]


def test_a_user_list_that_is_no_list_is_the_only_problem() -> None:
    assert problems(hubAdmins="teacher") == [
        "kubepar:hubAdmins: 'teacher' is not a list; set it in the stack file as a YAML list of strings"
    ]
    assert problems(hubUsers=["Ada"]) == [
        "kubepar:hubUsers: 'Ada' is not a user name the hub keeps as written; use lowercase letters, digits and "
        ". _ @ - (the hub lowercases names at login)"
    ]


def test_an_unknown_group_names_the_groups_there_are() -> None:
    raw = {
        "hubGroups": [{"name": "lab", "members": ["ada"]}, {"name": "art", "members": ["bo"]}],
        "hubProfiles": profile(groups=["labs"]),
    }
    assert problems(**raw) == [
        "kubepar:hubProfiles[p].groups: 'labs' is not a group of hubGroups (art, lab), so nobody but the admins "
        "would see this profile; add the group with its members to hubGroups, or remove it here"
    ]
