"""Application secrets are a mapping in the stack file (`appSecrets`): Secret name -> namespace and
data key -> secret stack setting. The settings it names are checked like the program's own secret
settings: needed and missing, written in clear, or set and unused, each refused in one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eks_gitops.settings.model import ConfigError
from eks_gitops.settings.parse import check_secrets, parse_stack_config
from tests.conftest import repo_plan
from tests.graph_support import graph_of
from tests.test_config import minimal
from tools.plan import Plan, PlanError

SECRET = "kubernetes:core/v1:Secret"
SUMOLOGIC = {
    "sumologic-credentials": {
        "namespace": "gitops-system",
        "keys": {"accessId": "sumologicAccessId", "accessKey": "sumologicAccessKey"},
    }
}


def with_app_secrets(value: object) -> dict[str, Any]:
    raw = minimal()
    raw["eks-gitops:appSecrets"] = value
    return raw


def refusal(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev")
    message = str(error.value)
    assert "\n" not in message
    return message


def test_the_mapping_names_the_secret_its_namespace_and_the_settings_of_its_keys() -> None:
    settings = parse_stack_config(with_app_secrets(SUMOLOGIC), "dev")
    [secret] = settings.app_secrets
    assert (secret.name, secret.namespace) == ("sumologic-credentials", "gitops-system")
    assert secret.keys == {"accessId": "sumologicAccessId", "accessKey": "sumologicAccessKey"}
    assert settings.secret_keys[:2] == ("sumologicAccessId", "sumologicAccessKey")
    # Without the mapping no application credential is needed at all.
    assert "sumologicAccessId" not in parse_stack_config(minimal(), "dev").secret_keys


@pytest.mark.parametrize(
    ("value", "key", "expected"),
    [
        ({"Bad_Name": {"keys": {"a": "b"}}}, "appSecrets.Bad_Name", "Kubernetes Secret name"),
        (
            {"s": {"namespace": "monitoring", "keys": {"a": "b"}}},
            "appSecrets.s.namespace",
            "toolkit",
        ),
        ({"s": {"keys": {}}}, "appSecrets.s.keys", "at least one data key"),
        ({"s": {"keys": {"a b": "x"}}}, "appSecrets.s.keys.a b", "Secret data keys"),
        ({"s": {"keys": {"a": "cluster"}}}, "appSecrets.s.keys.a", "secret stack setting"),
        ({"s": {"keys": {"a": "githubStatusToken"}}}, "appSecrets.s.keys.a", "of its own"),
        ({"s": {"keys": {"a": 3}}}, "appSecrets.s.keys.a", "a string"),
        ({"s": {"keys": {"a": "b"}, "type": "Opaque"}}, "appSecrets.s.type", "known keys"),
    ],
)
def test_a_wrong_entry_is_refused_in_one_line_naming_its_key(
    value: object, key: str, expected: str
) -> None:
    message = refusal(with_app_secrets(value))
    assert message.startswith(f"config error: eks-gitops:{key} = ")
    assert expected in message


def test_a_setting_named_by_the_mapping_is_known_and_any_other_is_a_typo() -> None:
    raw = with_app_secrets(SUMOLOGIC)
    raw["eks-gitops:sumologicAccessId"] = "in-clear"
    # Known to the parser (it never reads it); check_secrets refuses it in clear, see below.
    parse_stack_config(raw, "dev")
    raw["eks-gitops:sumologicAccesId"] = "typo"
    assert refusal(raw).startswith("config error: eks-gitops:sumologicAccesId = ")


NEEDED = ("sumologicAccessId", "sumologicAccessKey")


@pytest.mark.parametrize(
    ("present", "key", "expected"),
    [
        ({"sumologicAccessKey": True}, "sumologicAccessId", "pulumi config set --secret"),
        (
            {"sumologicAccessId": False, "sumologicAccessKey": True},
            "sumologicAccessId",
            "no credential in clear",
        ),
        (
            {"sumologicAccessId": True, "sumologicAccessKey": True, "datadogApiKey": True},
            "datadogApiKey",
            "pulumi config rm datadogApiKey",
        ),
    ],
)
def test_the_settings_the_mapping_names_are_checked_like_every_secret(
    present: dict[str, bool], key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        check_secrets(NEEDED, present)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"config error: eks-gitops:{key} = ")
    assert expected in message
    check_secrets(NEEDED, dict.fromkeys(NEEDED, True))


def test_the_sumologic_secret_is_planned_as_before_from_its_entry() -> None:
    # Same name, namespace and keys as the Secret the code used to declare, so its URN (in
    # tests/fixtures/urns) is unchanged and the gitops tree's valuesFrom still finds it.
    for stack in ("dev", "qa", "prod"):
        secret = graph_of(repo_plan(stack)).find(SECRET, "sumologic-credentials")
        assert secret.inputs["metadata"] == {
            "name": "sumologic-credentials",
            "namespace": "gitops-system",
        }
        assert set(secret.inputs["stringData"]) == {"accessId", "accessKey"}
        assert secret.urn.endswith(
            "eks-gitops:credentials:AppCredentials$kubernetes:core/v1:Secret::sumologic-credentials"
        )


def test_another_entry_plans_another_secret_and_needs_its_settings(
    plan_edited: Callable[..., Plan],
) -> None:
    def add_datadog(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:appSecrets"]["datadog-credentials"] = {
            "keys": {"apiKey": "datadogApiKey"}
        }

    plan = plan_edited("dev", add_datadog)
    secret = graph_of(plan).find(SECRET, "datadog-credentials")
    assert secret.inputs["metadata"]["namespace"] == "gitops-system"
    assert secret.inputs["stringData"] == {"apiKey": "plan-placeholder"}
    assert "datadogApiKey" in plan.settings.secret_keys

    def in_clear(document: dict[str, Any]) -> None:
        add_datadog(document)
        document["config"]["eks-gitops:datadogApiKey"] = "0123456789abcdef"

    with pytest.raises(PlanError) as error:
        plan_edited("dev", in_clear)
    assert str(error.value).startswith('config error: eks-gitops:datadogApiKey = "[redacted]"')
    assert "0123456789abcdef" not in str(error.value)

    def leftover(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:datadogApiKey"] = {"secure": "v1:AAAA"}

    with pytest.raises(PlanError) as error:
        plan_edited("dev", leftover)
    assert "pulumi config rm datadogApiKey" in str(error.value)


def test_the_programs_own_secret_settings_are_still_refused_when_left_over(
    plan_edited: Callable[..., Plan],
) -> None:
    # Statuses posted as an App: a token left in clear is refused as a credential in clear, not
    # ignored, whatever appSecrets names.
    def token_left_in_clear(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:notifications"] = {
            "githubAppId": 1234,
            "githubAppInstallationId": 5678,
        }
        document["config"]["eks-gitops:githubStatusToken"] = "github_pat_left_over"

    with pytest.raises(PlanError) as error:
        plan_edited("dev", token_left_in_clear)
    message = str(error.value)
    assert message.startswith('config error: eks-gitops:githubStatusToken = "[redacted]"')
    assert "github_pat_left_over" not in message
