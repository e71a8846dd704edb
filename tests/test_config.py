"""Stack config parsing: defaults, normalisation, and one clear error per bad value."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from eks_gitops.settings.model import ConfigError, StackConfig, WebhookConfig
from eks_gitops.settings.parse import format_go_duration, parse_go_duration, parse_stack_config
from tests.conftest import ENVIRONMENTS, stack_document

Raw = dict[str, Any]


def raw_config(stack: str) -> Raw:
    """What the program sees: the stack file's config, values JSON-decoded."""
    return json.loads(json.dumps(stack_document(stack)["config"]))


def minimal() -> Raw:
    return {
        "aws:region": "eu-west-1",
        "eks-gitops:environment": "dev",
        "eks-gitops:network": {"availabilityZones": ["eu-west-1a", "eu-west-1b"]},
        "eks-gitops:cluster": {
            "kubernetesVersion": "1.35",
            "deployerRoleArn": "arn:aws:iam::123456789012:role/platform-deployer",
            "privateAccessCidrs": ["10.100.8.0/24"],
            "nodes": {"instanceTypes": ["t3.large"], "minSize": 1, "desiredSize": 1, "maxSize": 2},
            "addons": {
                "vpc-cni": "v1.21.1-eksbuild.3",
                "kube-proxy": "v1.35.0-eksbuild.2",
                "coredns": "v1.13.2-eksbuild.1",
                "aws-ebs-csi-driver": "v1.55.0-eksbuild.1",
                "eks-pod-identity-agent": "v1.3.10-eksbuild.2",
            },
        },
        "eks-gitops:github": {"owner": "acme-platform", "repository": "eks-gitops"},
        "eks-gitops:toolkit": {"version": "v2.9.4"},
    }


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_stack_file_parses(stack: str) -> None:
    settings = parse_stack_config(raw_config(stack), stack)
    assert settings.environment == stack
    assert settings.sync.path == f"gitops/aws/clusters/{stack}"
    assert settings.tags == {"project": "eks-gitops", "stack": stack, "environment": stack}


def test_stacks_differ_where_environments_should() -> None:
    parsed = {stack: parse_stack_config(raw_config(stack), stack) for stack in ENVIRONMENTS}
    assert parsed["prod"].cluster.protect and not parsed["dev"].cluster.protect
    assert parsed["prod"].cluster.nodes.min_size > parsed["dev"].cluster.nodes.min_size
    assert parsed["prod"].sync.branch != parsed["dev"].sync.branch
    assert len({p.network.vpc_cidr for p in parsed.values()}) == 3
    assert len({p.cluster.name for p in parsed.values()}) == 3


def test_defaults_match_flux_bootstrap() -> None:
    settings = parse_stack_config(minimal(), "dev")
    assert settings.toolkit.namespace == "gitops-system"
    assert settings.toolkit.components == (
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
    )
    assert settings.sync.interval == "1m0s"
    assert settings.sync.kustomization_interval == "10m0s"
    assert settings.sync.branch == "main"
    assert settings.sync.timeout == "5m0s"
    assert settings.deploy_key.algorithm == "ecdsa-p384"
    assert settings.deploy_key.read_write is False
    assert settings.github.host == "github.com"
    assert settings.github.api_url is None
    assert settings.cluster.name == "eks-gitops-dev"
    assert settings.cluster.endpoint_public_access is False
    assert "audit" in settings.cluster.log_types
    assert settings.network.existing is None


def test_components_are_kept_in_a_canonical_order() -> None:
    raw = minimal()
    raw["eks-gitops:toolkit"]["components"] = [
        "image-reflector-controller",
        "kustomize-controller",
        "source-controller",
    ]
    assert parse_stack_config(raw, "dev").toolkit.components == (
        "source-controller",
        "kustomize-controller",
        "image-reflector-controller",
    )


def test_paths_are_normalised() -> None:
    raw = minimal()
    raw["eks-gitops:sync"] = {"path": "./gitops/aws/clusters/dev/"}
    assert parse_stack_config(raw, "dev").sync.path == "gitops/aws/clusters/dev"


def test_enterprise_host_uses_its_api_and_needs_host_keys() -> None:
    raw = minimal()
    raw["eks-gitops:github"]["host"] = "git.example.com"
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev")
    assert error.value.key == "eks-gitops:github.knownHosts"
    raw["eks-gitops:github"]["knownHosts"] = [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    ]
    settings = parse_stack_config(raw, "dev")
    assert settings.github.api_url == "https://git.example.com/api/v3/"


@pytest.mark.parametrize("bad", ["", "Gitops", "gitops_system", "-gitops", "gitops-", "a" * 64])
def test_a_namespace_must_be_a_kubernetes_name(bad: str) -> None:
    # A DNS-1123 label (Kubernetes "Object Names and IDs"): the toolkit is moved there as is.
    raw = minimal()
    raw["eks-gitops:toolkit"]["namespace"] = bad
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev")
    assert error.value.key == "eks-gitops:toolkit.namespace"


def _set(path: str, value: Any, then: Callable[[Raw], None] | None = None) -> Callable[[Raw], None]:
    def edit(raw: Raw) -> None:
        if then is not None:
            then(raw)
        key, *fields = path.split(".")
        target = raw
        for name in [key, *fields[:-1]]:
            target = target.setdefault(name, {})
        if fields:
            target[fields[-1]] = value
        else:
            raw[key] = value

    return edit


def _drop(path: str) -> Callable[[Raw], None]:
    def edit(raw: Raw) -> None:
        key, *fields = path.split(".")
        target = raw[key]
        for name in fields[:-1]:
            target = target[name]
        del target[fields[-1]]

    return edit


WEBHOOK_CERTIFICATE = (
    "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
)

BAD_VALUES = [
    ("region", _set("aws:region", "mars-1"), "aws:region"),
    (
        "version",
        _set("eks-gitops:cluster.kubernetesVersion", "1.9"),
        "eks-gitops:cluster.kubernetesVersion",
    ),
    (
        "min above max",
        _set("eks-gitops:cluster.nodes.minSize", 5),
        "eks-gitops:cluster.nodes.minSize",
    ),
    (
        "desired outside",
        _set("eks-gitops:cluster.nodes.desiredSize", 9),
        "eks-gitops:cluster.nodes.desiredSize",
    ),
    ("interval", _set("eks-gitops:sync.interval", "soon"), "eks-gitops:sync.interval"),
    ("sync timeout", _set("eks-gitops:sync.timeout", "an hour"), "eks-gitops:sync.timeout"),
    # kustomize-controller waits at least 30s whatever spec.timeout says
    # (fluxcd/kustomize-controller api/v1/kustomization_types.go, Kustomization.GetTimeout).
    ("sync timeout under 30s", _set("eks-gitops:sync.timeout", "20s"), "eks-gitops:sync.timeout"),
    # Pulumi must outwait Flux: the default timeout is 5m.
    (
        "ready as short as flux",
        _set("eks-gitops:sync.readyTimeout", "5m"),
        "eks-gitops:sync.readyTimeout",
    ),
    (
        "component",
        _set(
            "eks-gitops:toolkit.components",
            ["source-controller", "kustomize-controller", "flagger"],
        ),
        "eks-gitops:toolkit.components",
    ),
    (
        "required component",
        _set("eks-gitops:toolkit.components", ["source-controller"]),
        "eks-gitops:toolkit.components",
    ),
    ("owner", _drop("eks-gitops:github.owner"), "eks-gitops:github.owner"),
    ("owner shape", _set("eks-gitops:github.owner", "-acme"), "eks-gitops:github.owner"),
    (
        "repository",
        _set("eks-gitops:github.repository", "eks-gitops.git"),
        "eks-gitops:github.repository",
    ),
    ("cidr", _set("eks-gitops:network.vpcCidr", "10.0.0.0/33"), "eks-gitops:network.vpcCidr"),
    (
        "cidr host bits",
        _set("eks-gitops:network.vpcCidr", "10.0.0.1/16"),
        "eks-gitops:network.vpcCidr",
    ),
    (
        "instance types",
        _set("eks-gitops:cluster.nodes.instanceTypes", []),
        "eks-gitops:cluster.nodes.instanceTypes",
    ),
    (
        "instance type shape",
        _set("eks-gitops:cluster.nodes.instanceTypes", ["large"]),
        "eks-gitops:cluster.nodes.instanceTypes",
    ),
    (
        "boolean as count",
        _set("eks-gitops:cluster.nodes.minSize", True),
        "eks-gitops:cluster.nodes.minSize",
    ),
    (
        "unknown field",
        _set("eks-gitops:cluster.nodes.minimum", 1),
        "eks-gitops:cluster.nodes.minimum",
    ),
    ("unknown key", _set("eks-gitops:clustr", {}), "eks-gitops:clustr"),
    ("branch", _set("eks-gitops:sync.branch", "feature..x"), "eks-gitops:sync.branch"),
    ("path escapes", _set("eks-gitops:sync.path", "../other"), "eks-gitops:sync.path"),
    ("absolute path", _set("eks-gitops:sync.path", "/etc"), "eks-gitops:sync.path"),
    ("environment", _set("eks-gitops:environment", "staging"), "eks-gitops:environment"),
    ("flux version", _set("eks-gitops:toolkit.version", "2.9"), "eks-gitops:toolkit.version"),
    ("namespace", _set("eks-gitops:toolkit.namespace", "GitOps"), "eks-gitops:toolkit.namespace"),
    (
        "sha",
        _set("eks-gitops:toolkit.manifestsSha256", "abc"),
        "eks-gitops:toolkit.manifestsSha256",
    ),
    ("algorithm", _set("eks-gitops:deployKey.algorithm", "dsa"), "eks-gitops:deployKey.algorithm"),
    ("generation", _set("eks-gitops:deployKey.generation", 0), "eks-gitops:deployKey.generation"),
    (
        "hop limit",
        _set("eks-gitops:cluster.nodes.metadataHopLimit", 0),
        "eks-gitops:cluster.nodes.metadataHopLimit",
    ),
    (
        "log type",
        _set("eks-gitops:cluster.logTypes", ["audit", "everything"]),
        "eks-gitops:cluster.logTypes",
    ),
    (
        "cidrs without public",
        _set("eks-gitops:cluster.publicAccessCidrs", ["10.0.0.0/8"]),
        "eks-gitops:cluster.publicAccessCidrs",
    ),
    (
        "one zone",
        _set("eks-gitops:network.availabilityZones", ["eu-west-1a"]),
        "eks-gitops:network.availabilityZones",
    ),
    (
        "zone count, the old form",
        _set("eks-gitops:network.availabilityZones", 2),
        "eks-gitops:network.availabilityZones",
    ),
    (
        "zones of another region",
        _set("eks-gitops:network.availabilityZones", ["eu-central-1a", "eu-central-1b"]),
        "eks-gitops:network.availabilityZones",
    ),
    (
        "zone named twice",
        _set("eks-gitops:network.availabilityZones", ["eu-west-1a", "eu-west-1a", "eu-west-1b"]),
        "eks-gitops:network.availabilityZones",
    ),
    (
        "more zones than the address plan has room for",
        _set("eks-gitops:network.availabilityZones", [f"eu-west-1{z}" for z in "abcdefg"]),
        "eks-gitops:network.availabilityZones",
    ),
    (
        "zones besides existing subnets",
        _set(
            "eks-gitops:network.existing",
            {"vpcId": "vpc-0abc12345678", "privateSubnetIds": ["subnet-0abc12345678"]},
        ),
        "eks-gitops:network.availabilityZones",
    ),
    (
        "no zones",
        _drop("eks-gitops:network.availabilityZones"),
        "eks-gitops:network.availabilityZones",
    ),
    (
        "no deployer role",
        _drop("eks-gitops:cluster.deployerRoleArn"),
        "eks-gitops:cluster.deployerRoleArn",
    ),
    (
        "deployer session instead of role",
        _set(
            "eks-gitops:cluster.deployerRoleArn",
            "arn:aws:sts::123456789012:assumed-role/platform-deployer/ci",
        ),
        "eks-gitops:cluster.deployerRoleArn",
    ),
    (
        "private endpoint nobody can reach",
        _drop("eks-gitops:cluster.privateAccessCidrs"),
        "eks-gitops:cluster.privateAccessCidrs",
    ),
    (
        "private access from everywhere",
        _set("eks-gitops:cluster.privateAccessCidrs", ["0.0.0.0/0"]),
        "eks-gitops:cluster.privateAccessCidrs",
    ),
    (
        "runner security group shape",
        _set("eks-gitops:cluster.privateAccessSecurityGroupIds", ["runners"]),
        "eks-gitops:cluster.privateAccessSecurityGroupIds",
    ),
    ("section type", _set("eks-gitops:sync", "fast"), "eks-gitops:sync"),
    ("token in file", _set("github:token", "ghp_example"), "github:token"),
    ("webhook enabled", _set("eks-gitops:webhook.enabled", "yes"), "eks-gitops:webhook.enabled"),
    ("webhook field", _set("eks-gitops:webhook.host", "x.example.com"), "eks-gitops:webhook.host"),
    (
        "webhook hostname",
        _set("eks-gitops:webhook.hostname", "https://flux.example.com"),
        "eks-gitops:webhook.hostname",
    ),
    (
        "certificate without hostname",
        _set("eks-gitops:webhook.certificateArn", WEBHOOK_CERTIFICATE),
        "eks-gitops:webhook.certificateArn",
    ),
    (
        "certificate shape",
        _set(
            "eks-gitops:webhook",
            {"hostname": "flux.example.com", "certificateArn": "arn:aws:iam::123456789012:role/x"},
        ),
        "eks-gitops:webhook.certificateArn",
    ),
    # An NLB listener takes certificates from ACM in the load balancer's own region.
    (
        "certificate of another region",
        _set(
            "eks-gitops:webhook",
            {
                "hostname": "flux.example.com",
                "certificateArn": WEBHOOK_CERTIFICATE.replace("eu-west-1", "us-east-1"),
            },
        ),
        "eks-gitops:webhook.certificateArn",
    ),
    (
        "webhook without notification-controller",
        _set(
            "eks-gitops:webhook",
            {"enabled": True},
            then=_set(
                "eks-gitops:toolkit.components", ["source-controller", "kustomize-controller"]
            ),
        ),
        "eks-gitops:webhook.enabled",
    ),
    (
        "statuses without notification-controller",
        _set(
            "eks-gitops:notifications.commitStatuses",
            True,
            then=_set(
                "eks-gitops:toolkit.components", ["source-controller", "kustomize-controller"]
            ),
        ),
        "eks-gitops:notifications.commitStatuses",
    ),
    (
        "app id without installation id",
        _set("eks-gitops:notifications.githubAppId", 1234),
        "eks-gitops:notifications.githubAppInstallationId",
    ),
    (
        "installation id without app id",
        _set("eks-gitops:notifications.githubAppInstallationId", 5678),
        "eks-gitops:notifications.githubAppId",
    ),
    (
        "app id not a number",
        _set("eks-gitops:notifications.githubAppId", "1234"),
        "eks-gitops:notifications.githubAppId",
    ),
    (
        "app id zero",
        _set("eks-gitops:notifications.githubAppId", 0),
        "eks-gitops:notifications.githubAppId",
    ),
    (
        "token inside the notifications section",
        _set("eks-gitops:notifications.githubStatusToken", "ghp_example"),
        "eks-gitops:notifications.githubStatusToken",
    ),
]


@pytest.mark.parametrize(
    ("edit", "key"),
    [(edit, key) for _, edit, key in BAD_VALUES],
    ids=[case[0] for case in BAD_VALUES],
)
def test_a_bad_value_is_one_error_naming_its_key(edit: Callable[[Raw], None], key: str) -> None:
    raw = minimal()
    edit(raw)
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev")
    message = str(error.value)
    assert error.value.key == key
    assert message.startswith(f"config error: {key} = ")
    assert "expected" in message
    assert "\n" not in message


def test_the_webhook_is_on_outside_prod_unless_turned_off() -> None:
    assert parse_stack_config(minimal(), "dev").webhook == WebhookConfig(True, None, None)
    raw = minimal()
    raw["eks-gitops:environment"] = "prod"
    assert not parse_stack_config(raw, "prod").webhook.enabled
    raw["eks-gitops:webhook"] = {
        "enabled": True,
        "hostname": "flux.example.com",
        "certificateArn": WEBHOOK_CERTIFICATE,
    }
    assert parse_stack_config(raw, "prod").webhook == WebhookConfig(
        True, "flux.example.com", WEBHOOK_CERTIFICATE
    )
    raw = minimal()
    raw["eks-gitops:webhook"] = {"enabled": False}
    assert not parse_stack_config(raw, "dev").webhook.enabled
    # Without notification-controller nothing would serve the Receiver: off unless asked for.
    raw = minimal()
    raw["eks-gitops:toolkit"]["components"] = ["source-controller", "kustomize-controller"]
    assert not parse_stack_config(raw, "dev").webhook.enabled


def test_the_stack_files_enable_the_webhook_on_dev_and_qa_only() -> None:
    enabled = {
        stack: parse_stack_config(raw_config(stack), stack).webhook.enabled
        for stack in ENVIRONMENTS
    }
    assert enabled == {"dev": True, "qa": True, "prod": False}
    # prod says so in its file rather than relying on the default, so opting in is one edit.
    assert stack_document("prod")["config"]["eks-gitops:webhook"] == {"enabled": False}


def test_ready_timeout_must_outlast_the_flux_timeout() -> None:
    raw = minimal()
    raw["eks-gitops:sync"] = {"timeout": "20m", "readyTimeout": "15m"}
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev")
    assert error.value.key == "eks-gitops:sync.readyTimeout"
    assert "eks-gitops:sync.timeout (20m0s)" in str(error.value)
    raw["eks-gitops:sync"]["readyTimeout"] = "21m"
    sync = parse_stack_config(raw, "dev").sync
    assert (sync.timeout, sync.ready_timeout_seconds) == ("20m0s", 21 * 60)


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_stack_sets_both_sync_timeouts(stack: str) -> None:
    sync = stack_document(stack)["config"]["eks-gitops:sync"]
    assert "timeout" in sync and "readyTimeout" in sync


def test_the_stack_name_and_environment_must_agree() -> None:
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw_config("prod"), "dev")
    assert error.value.key == "eks-gitops:environment"


def test_the_token_never_appears_in_the_error() -> None:
    raw = minimal()
    raw["github:token"] = "ghp_supersecretvalue"
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev")
    assert "ghp_supersecretvalue" not in str(error.value)


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        ("1m", 60, "1m0s"),
        ("10m0s", 600, "10m0s"),
        ("1h30m", 5400, "1h30m0s"),
        ("90s", 90, "1m30s"),
        ("1.5h", 5400, "1h30m0s"),
    ],
)
def test_go_durations(text: str, seconds: int, canonical: str) -> None:
    nanos = parse_go_duration(text)
    assert nanos == seconds * 10**9
    assert format_go_duration(nanos) == canonical


@pytest.mark.parametrize("text", ["soon", "", "1", "m", "1 m", "-1m", "1d"])
def test_not_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_parsed_config_is_immutable() -> None:
    settings: StackConfig = parse_stack_config(minimal(), "dev")
    with pytest.raises(AttributeError):
        settings.cluster.protect = True  # type: ignore[misc]


def test_ssh_over_port_443_changes_the_url_and_known_hosts_names() -> None:
    raw = minimal()
    raw["eks-gitops:github"].update({"sshHost": "ssh.github.com", "sshPort": 443})
    github = parse_stack_config(raw, "dev").github
    assert github.ssh_authority == "ssh.github.com:443"
    assert github.known_hosts_name == "[ssh.github.com]:443"
    assert github.api_url is None
    default = parse_stack_config(minimal(), "dev").github
    assert default.ssh_authority == default.known_hosts_name == "github.com"


def test_commit_statuses_default_to_on_with_a_token() -> None:
    notifications = parse_stack_config(minimal(), "dev").notifications
    assert notifications.commit_statuses
    assert notifications.github_app is None
    assert notifications.secret_keys == ("githubStatusToken",)


def test_a_github_app_needs_its_private_key_and_no_token() -> None:
    raw = minimal()
    raw["eks-gitops:notifications"] = {"githubAppId": 1234, "githubAppInstallationId": 5678}
    settings = parse_stack_config(raw, "dev")
    assert settings.notifications.secret_keys == ("githubAppPrivateKey",)
    assert "githubStatusToken" not in settings.secret_keys


def test_statuses_are_on_wherever_notification_controller_runs() -> None:
    assert parse_stack_config(minimal(), "dev").notifications.commit_statuses
    raw = minimal()
    raw["eks-gitops:toolkit"]["components"] = ["source-controller", "kustomize-controller"]
    settings = parse_stack_config(raw, "dev")
    assert not settings.notifications.commit_statuses
    assert "githubStatusToken" not in settings.secret_keys


def test_statuses_off_need_no_credential_nor_notification_controller() -> None:
    raw = minimal()
    raw["eks-gitops:notifications"] = {"commitStatuses": False}
    raw["eks-gitops:toolkit"] = {
        "version": "v2.9.4",
        "components": ["source-controller", "kustomize-controller"],
    }
    settings = parse_stack_config(raw, "dev")
    assert settings.secret_keys == ()
