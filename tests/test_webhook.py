"""Instant sync through a GitHub webhook: the Receiver, its token Secret, the receiver's load balancer
and the repository webhook are planned where the stack enables them (dev and qa by default, prod when
it opts in), the webhook points at the path notification-controller will serve, and the token stays
secret everywhere but in the places that must hold it."""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gitops.flux.install import render_toolkit
from eks_gitops.flux.webhook import (
    SSL_CERTIFICATE,
    SSL_PORTS,
    Listener,
    load_balancer_listener,
    needs_load_balancer,
    receiver_path,
    receiver_spec,
    service_annotations,
    webhook_base_url,
)
from eks_gitops.settings.model import WebhookConfig
from tests.conftest import repo_plan
from tools.gitops.checks import schema_validator
from tools.offline.engine import RecordedResource
from tools.offline.wire import SECRET_MARK, is_secret
from tools.plan import Plan, write_plan

RECEIVER = "kubernetes:notification.toolkit.fluxcd.io/v1:Receiver"
SECRET = "kubernetes:core/v1:Secret"
SERVICE = "kubernetes:core/v1:Service"
TOKEN = "random:index/randomPassword:RandomPassword"
REPOSITORY_WEBHOOK = "github:index/repositoryWebhook:RepositoryWebhook"
WEBHOOK_COMPONENT = "eks-gitops:webhook:Webhook"
PARTS = (RECEIVER, SECRET, SERVICE, TOKEN, REPOSITORY_WEBHOOK)

CERTIFICATE = (
    "arn:aws:acm:eu-central-1:123456789012:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
)


def webhook_parts(plan: Plan) -> dict[str, RecordedResource]:
    """The webhook component's children, by type."""
    [component] = plan.run.of_type(WEBHOOK_COMPONENT)
    children = [resource for resource in plan.run.resources if resource.parent == component.urn]
    by_type = {resource.type: resource for resource in children}
    assert len(by_type) == len(children), [resource.type_and_name for resource in children]
    return by_type


def token_of(parts: dict[str, RecordedResource]) -> str:
    token = parts[SECRET].plain_inputs["stringData"]["token"]
    assert isinstance(token, str)
    return token


# ------------------------------------------------------------------------------ the receiver's path


def test_the_receiver_path_is_the_digest_of_token_name_and_namespace() -> None:
    # notification-controller docs/spec/v1/receivers.md, "Webhook Path": the path is
    # `/hook/sha256sum(token+name+namespace)`; api/v1/receiver_types.go, Receiver.GetWebhookPath,
    # hashes exactly `token + name + namespace` and prints the digest in lowercase hex.
    token, name, namespace = "aGVsbG8gd29ybGQgdG9rZW4", "github-receiver", "flux-system"
    # From coreutils: printf '%s' 'aGVsbG8gd29ybGQgdG9rZW4github-receiverflux-system' | sha256sum
    expected = "/hook/e84a1d74fbac93f1c9d82ee11344527600026da247d13a5a62cae2c8439ae23b"
    assert receiver_path(token, name, namespace) == expected
    assert expected == "/hook/" + hashlib.sha256((token + name + namespace).encode()).hexdigest()
    # The order matters: the parts reversed give another path.
    assert receiver_path(namespace, name, token) != expected


def test_the_path_changes_with_each_part() -> None:
    path = receiver_path("token", "github", "gitops-system")
    assert (
        len(
            {
                path,
                *(
                    receiver_path(*p)
                    for p in [
                        ("token2", "github", "gitops-system"),
                        ("token", "gitlab", "gitops-system"),
                        ("token", "github", "flux-system"),
                    ]
                ),
            }
        )
        == 4
    )
    assert re.fullmatch(r"/hook/[0-9a-f]{64}", path)


# ------------------------------------------------------------------------------- specs, pure


def test_the_receiver_reconciles_the_bootstrap_git_repository() -> None:
    spec = receiver_spec(source_name="gitops-system")
    assert spec["type"] == "github"
    assert spec["events"] == ["ping", "push"]
    assert spec["resources"] == [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "name": "gitops-system",
        }
    ]
    # receivers.md, "Secret reference": the Secret must hold the token under the key `token`.
    assert spec["secretRef"] == {"name": "webhook-token"}


def test_without_a_hostname_the_nlb_serves_plain_http() -> None:
    config = WebhookConfig(enabled=True, hostname=None, certificate_arn=None)
    assert needs_load_balancer(config)
    # kubernetes/cloud-provider-aws pkg/providers/v1/aws.go: `aws-load-balancer-type: nlb` makes the
    # service controller create a Network Load Balancer rather than a Classic one.
    assert service_annotations(config) == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb"
    }
    assert load_balancer_listener(config) == Listener(name="http", port=80)
    assert webhook_base_url(config, "a1-2.elb.eu-west-1.amazonaws.com") == (
        "http://a1-2.elb.eu-west-1.amazonaws.com"
    )
    with pytest.raises(ValueError):
        webhook_base_url(config, None)


def test_with_a_hostname_and_certificate_the_nlb_terminates_tls_on_443() -> None:
    config = WebhookConfig(enabled=True, hostname="flux.example.com", certificate_arn=CERTIFICATE)
    assert needs_load_balancer(config)
    annotations = service_annotations(config)
    # cloud-provider-aws aws.go: ServiceAnnotationLoadBalancerCertificate names the ACM certificate,
    # ServiceAnnotationLoadBalancerSSLPorts the ports that get a TLS listener (all when absent).
    assert annotations[SSL_CERTIFICATE] == CERTIFICATE
    assert annotations[SSL_PORTS] == "443"
    assert load_balancer_listener(config) == Listener(name="https", port=443)
    assert webhook_base_url(config, "ignored.elb.amazonaws.com") == "https://flux.example.com"


def test_a_hostname_alone_is_an_existing_ingress_and_gets_no_load_balancer() -> None:
    config = WebhookConfig(enabled=True, hostname="flux.example.com", certificate_arn=None)
    assert not needs_load_balancer(config)
    assert webhook_base_url(config, None) == "https://flux.example.com"


def test_the_schema_fixture_refuses_a_receiver_flux_would_refuse() -> None:
    validator = schema_validator("Receiver")
    good = {
        "apiVersion": "notification.toolkit.fluxcd.io/v1",
        "kind": "Receiver",
        "metadata": {"name": "github", "namespace": "gitops-system"},
        "spec": receiver_spec(source_name="gitops-system"),
    }
    assert list(validator.iter_errors(good)) == []
    broken: list[Callable[[dict[str, Any]], None]] = [
        lambda spec: spec.pop("secretRef"),
        lambda spec: spec.pop("resources"),
        lambda spec: spec.update(type="gihub"),
        lambda spec: spec["resources"][0].update(kind="Secret"),
        lambda spec: spec.update(event=["push"]),
    ]
    for breaking in broken:
        receiver = json.loads(json.dumps(good))
        breaking(receiver["spec"])
        assert list(validator.iter_errors(receiver)), receiver["spec"]


# ------------------------------------------------------------------------------------- the plans


@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_dev_and_qa_plan_the_webhook(stack: str) -> None:
    plan = repo_plan(stack)
    parts = webhook_parts(plan)
    assert sorted(parts) == sorted(PARTS)
    assert plan.settings.webhook.enabled
    receiver = parts[RECEIVER].plain_inputs
    namespace = plan.settings.toolkit.namespace
    # The Receiver names the bootstrap GitRepository the program declares, in the same namespace.
    [git_repository] = plan.run.of_type("kubernetes:source.toolkit.fluxcd.io/v1:GitRepository")
    source = git_repository.plain_inputs["metadata"]
    assert receiver["metadata"]["namespace"] == source["namespace"] == namespace
    assert receiver["spec"]["resources"][0]["name"] == source["name"]
    assert receiver["spec"]["secretRef"]["name"] == parts[SECRET].plain_inputs["metadata"]["name"]
    assert parts[SECRET].plain_inputs["metadata"]["namespace"] == namespace


def test_prod_plans_no_webhook_unless_it_opts_in(plan_edited: Callable[..., Plan]) -> None:
    plan = repo_plan("prod")
    assert not plan.settings.webhook.enabled
    assert plan.run.of_type(WEBHOOK_COMPONENT) == []
    assert [
        r.type_and_name
        for r in plan.run.resources
        if r.type in (RECEIVER, TOKEN, REPOSITORY_WEBHOOK)
        or (r.type == SERVICE and r.plain_inputs["spec"].get("type") == "LoadBalancer")
        or (r.type == SECRET and r.plain_inputs["metadata"]["name"] == "webhook-token")
    ] == []
    assert "webhookUrl" not in plan.outputs()

    def opt_in(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:webhook"] = {
            "enabled": True,
            "hostname": "flux-webhook.prod.example.com",
            "certificateArn": CERTIFICATE,
        }

    opted = plan_edited("prod", opt_in)
    parts = webhook_parts(opted)
    assert sorted(parts) == sorted(PARTS)
    annotations = parts[SERVICE].plain_inputs["metadata"]["annotations"]
    assert annotations[SSL_CERTIFICATE] == CERTIFICATE
    [listener] = parts[SERVICE].plain_inputs["spec"]["ports"]
    assert (listener["name"], listener["port"]) == ("https", 443)
    url = parts[REPOSITORY_WEBHOOK].plain_inputs["configuration"]["url"]
    namespace = opted.settings.toolkit.namespace
    name = parts[RECEIVER].plain_inputs["metadata"]["name"]
    assert url == "https://flux-webhook.prod.example.com" + receiver_path(
        token_of(parts), name, namespace
    )
    assert opted.outputs()["webhookUrl"] == url


@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_the_load_balancer_reaches_notification_controllers_receiver_port(stack: str) -> None:
    plan = repo_plan(stack)
    spec = webhook_parts(plan)[SERVICE].plain_inputs["spec"]
    assert spec["type"] == "LoadBalancer"
    [listener] = spec["ports"]
    assert {key: listener[key] for key in ("name", "port", "protocol")} == {
        "name": "http",
        "port": 80,
        "protocol": "TCP",
    }
    # Checked against the Deployment of the stack's Flux release: the selector picks its pods, and
    # the target port is one of its container ports, the one the receiver listens on. The manifests
    # installer applies it as rendered here; the operator installs the same release's manifests
    # (FluxInstance `.spec.distribution.version`, flux-operator docs/api/v1/fluxinstance.md).
    assert plan.manifest is not None
    [controller] = [
        obj
        for obj in render_toolkit(
            plan.manifest.text, plan.settings.toolkit.components, plan.settings.toolkit.namespace
        )
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "notification-controller"
    ]
    template = controller["spec"]["template"]
    assert spec["selector"].items() <= template["metadata"]["labels"].items()
    [port] = [
        port
        for container in template["spec"]["containers"]
        for port in container.get("ports", [])
        if port["name"] == listener["targetPort"]
    ]
    # The Flux install manifest's notification-controller serves receivers on 9292 (`http-webhook`).
    assert port["containerPort"] == 9292


@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_the_webhook_posts_json_to_the_receivers_path_with_the_token_as_secret(stack: str) -> None:
    plan = repo_plan(stack)
    parts = webhook_parts(plan)
    hook = parts[REPOSITORY_WEBHOOK]
    inputs = hook.plain_inputs
    assert inputs["repository"] == plan.settings.github.repository
    assert inputs["active"] is True
    # GitHub REST "Create a repository webhook": `config.content_type` json or form, `config.secret`
    # is the HMAC key of X-Hub-Signature-256, `insecure_ssl` "0" verifies the certificate.
    assert inputs["events"] == ["push"]
    configuration = inputs["configuration"]
    assert configuration["contentType"] == "json"
    assert configuration["insecureSsl"] is False
    token = token_of(parts)
    assert configuration["secret"] == token
    # Only the secret is hidden: the URL is reviewable in the plan.
    assert is_secret(hook.inputs["configuration"]["secret"])
    assert not is_secret(hook.inputs["configuration"]["url"])
    assert hook.redacted_inputs["configuration"]["secret"] == SECRET_MARK
    receiver = parts[RECEIVER].plain_inputs["metadata"]
    path = receiver_path(token, receiver["name"], receiver["namespace"])
    url = configuration["url"]
    assert url.endswith(path)
    # Without a hostname GitHub posts to the NLB's own DNS name, which the Service reports.
    assert re.fullmatch(
        rf"http://a[0-9a-f]{{31}}-[0-9a-f]{{16}}\.elb\.{plan.settings.region}\.amazonaws\.com{path}",
        url,
    )
    assert plan.outputs()["webhookUrl"] == url
    # The webhook waits for the Receiver and its load balancer, so GitHub's first ping is answered.
    assert {parts[RECEIVER].urn, parts[SERVICE].urn} <= set(hook.dependencies)


@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_the_token_is_random_stable_and_header_safe(stack: str) -> None:
    parts = webhook_parts(repo_plan(stack))
    token = parts[TOKEN]
    # pulumi-random generates `result` once, at create, and replaces it only when an input changes;
    # inputs fixed in the program keep the token across runs.
    assert token.plain_inputs["length"] >= 32
    assert token.plain_inputs["special"] is False
    assert set(token.plain_inputs) <= {"length", "special"}
    value = token_of(parts)
    assert len(value) == token.plain_inputs["length"]
    assert set(value) <= set(string.ascii_letters + string.digits)
    assert token.additional_secret_outputs == ["bcryptHash", "result"]


@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_the_plan_files_show_the_token_key_and_the_path_but_not_the_token(
    stack: str, tmp_path: Path
) -> None:
    plan = repo_plan(stack)
    parts = webhook_parts(plan)
    token = token_of(parts)
    target = write_plan(plan, tmp_path)
    manifests = list(yaml.safe_load_all((target / "manifests.yaml").read_text()))
    [secret] = [
        m for m in manifests if m["kind"] == "Secret" and m["metadata"]["name"] == "webhook-token"
    ]
    assert secret["stringData"] == {"token": SECRET_MARK}
    [receiver] = [m for m in manifests if m["kind"] == "Receiver"]
    # The planned Receiver is one the Flux CRD accepts (as far as the own-written schema says).
    assert list(schema_validator("Receiver").iter_errors(receiver)) == []
    outputs = json.loads((target / "outputs.json").read_text())
    metadata = parts[RECEIVER].plain_inputs["metadata"]
    assert outputs["webhookUrl"]["offline"].endswith(
        receiver_path(token, metadata["name"], metadata["namespace"])
    )
    for name in ("resources.json", "manifests.yaml", "outputs.json"):
        assert token not in (target / name).read_text(), name
