"""Instant sync: GitHub posts every push to a Flux Receiver, which makes source-controller fetch the
bootstrap GitRepository at once instead of at its next poll (the poll stays, as the fallback).

The token is a random password kept in the Pulumi state: its inputs never change, so it is generated
once and every later run reads the same value. It is the Receiver's Secret and the webhook's HMAC
secret, and it salts the Receiver's path, which the program computes as notification-controller does
to give GitHub the full URL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import pulumi
import pulumi_github as github
import pulumi_random as random
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1

from eks_gitops.flux.kinds import api_version

RECEIVER_NAME: Final = "github"
TOKEN_SECRET_NAME: Final = "webhook-token"
# The key notification-controller reads the token from (receiver_controller.go, `token`).
TOKEN_KEY: Final = "token"
SERVICE_NAME: Final = "webhook-receiver-nlb"
# GitHub sends `ping` when the hook is created and `push` for every push; nothing else moves the
# branch Flux follows.
RECEIVER_EVENTS: Final = ("ping", "push")
# What the Flux install's `webhook-receiver` Service selects and targets: the notification-controller
# pods and their named container port 9292.
CONTROLLER_SELECTOR: Final = {"app": "notification-controller"}
CONTROLLER_PORT: Final = "http-webhook"

# Annotations of the AWS cloud provider's service controller, which EKS runs in its control plane
# (kubernetes/cloud-provider-aws, pkg/providers/v1/aws.go: ServiceAnnotationLoadBalancerType,
# ServiceAnnotationLoadBalancerCertificate, ServiceAnnotationLoadBalancerSSLPorts). Without a type
# it would create a Classic Load Balancer.
LOAD_BALANCER_TYPE: Final = "service.beta.kubernetes.io/aws-load-balancer-type"
SSL_CERTIFICATE: Final = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"
SSL_PORTS: Final = "service.beta.kubernetes.io/aws-load-balancer-ssl-ports"
HTTP_PORT: Final = 80
HTTPS_PORT: Final = 443


@dataclass(frozen=True)
class Exposure:
    """How GitHub reaches the receiver: through a load balancer the program declares (on its own
    DNS name, or on `hostname` with TLS from `certificate_arn`), or through an existing ingress that
    serves `hostname` (no certificate)."""

    hostname: str | None
    certificate_arn: str | None


def receiver_path(token: str, name: str, namespace: str) -> str:
    """The path notification-controller serves a Receiver on: `/hook/` and the hex SHA-256 of the
    token, the Receiver's name and its namespace, concatenated in that order."""
    digest = hashlib.sha256(f"{token}{name}{namespace}".encode()).hexdigest()
    return f"/hook/{digest}"


def receiver_spec(source_name: str) -> dict[str, Any]:
    """Reconciles the bootstrap GitRepository (named after the toolkit namespace, in it) whenever
    GitHub delivers a signed push."""
    return {
        "type": "github",
        "events": list(RECEIVER_EVENTS),
        "secretRef": {"name": TOKEN_SECRET_NAME},
        "resources": [
            {
                "apiVersion": api_version("GitRepository"),
                "kind": "GitRepository",
                "name": source_name,
            }
        ],
    }


def serves_tls(config: Exposure) -> bool:
    """Whether the load balancer terminates TLS itself: only with a certificate for the hostname."""
    return config.certificate_arn is not None


def needs_load_balancer(config: Exposure) -> bool:
    """A hostname without a certificate names an existing ingress, which already reaches the toolkit's
    `webhook-receiver` Service; otherwise the program exposes the receiver itself."""
    return config.hostname is None or serves_tls(config)


def service_annotations(config: Exposure) -> dict[str, str]:
    annotations = {LOAD_BALANCER_TYPE: "nlb"}
    if config.certificate_arn is not None:
        annotations[SSL_CERTIFICATE] = config.certificate_arn
        annotations[SSL_PORTS] = str(HTTPS_PORT)
    return annotations


@dataclass(frozen=True)
class Listener:
    """The load balancer's one listener; it forwards to the controllers' CONTROLLER_PORT over TCP."""

    name: str
    port: int


def load_balancer_listener(config: Exposure) -> Listener:
    """TLS on 443 with the certificate (the NLB speaks plain TCP to the pods), else plain HTTP on
    80."""
    if serves_tls(config):
        return Listener(name="https", port=HTTPS_PORT)
    return Listener(name="http", port=HTTP_PORT)


def webhook_base_url(config: Exposure, load_balancer_hostname: str | None) -> str:
    """Where GitHub posts to, before the Receiver's path: the configured hostname over HTTPS, else the
    load balancer's own DNS name over HTTP (AWS issues no certificate for it)."""
    if config.hostname is not None:
        return f"https://{config.hostname}"
    if not load_balancer_hostname:
        raise ValueError("the receiver's load balancer has no hostname yet")
    return f"http://{load_balancer_hostname}"


# Long enough to resist guessing the HMAC key; letters and digits only, so the token needs no quoting
# in a header, a form or a shell.
TOKEN_LENGTH = 40


@dataclass(frozen=True)
class WebhookArgs:
    namespace: str
    repository: pulumi.Input[str]
    exposure: Exposure


class Webhook(pulumi.ComponentResource):
    """Declared with the random, GitHub and Kubernetes providers and, as dependencies, the toolkit:
    notification-controller must serve the Receiver kind, and on destroy still run to release the
    Receiver's finalizer. Through the toolkit it also follows the network, so on destroy the load
    balancer's Service goes first: the internet gateway cannot be detached while the NLB holds public
    addresses in the VPC (EC2 DetachInternetGateway fails with DependencyViolation)."""

    TYPE_TOKEN: ClassVar[str] = "eks-gitops:webhook:Webhook"

    path: pulumi.Output[str]
    url: pulumi.Output[str]
    secret: core_v1.Secret
    receiver: CustomResource
    service: core_v1.Service | None
    repository_webhook: github.RepositoryWebhook

    def __init__(
        self, name: str, args: WebhookArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        token = random.RandomPassword(
            f"{name}-token",
            length=TOKEN_LENGTH,
            special=False,
            opts=child,
        )
        self.secret = core_v1.Secret(
            f"{name}-token",
            metadata=meta_v1.ObjectMetaArgs(name=TOKEN_SECRET_NAME, namespace=args.namespace),
            type="Opaque",
            string_data={TOKEN_KEY: token.result},
            opts=child,
        )
        self.receiver = CustomResource(
            f"{name}-receiver",
            api_version=api_version("Receiver"),
            kind="Receiver",
            metadata=meta_v1.ObjectMetaArgs(name=RECEIVER_NAME, namespace=args.namespace),
            spec=receiver_spec(source_name=args.namespace),
            # notification-controller reads the token when it reconciles the Receiver; without the
            # Secret it reports TokenNotFound and serves no path.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.secret]),
        )
        load_balancer_hostname: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        self.service = None
        if needs_load_balancer(args.exposure):
            listener = load_balancer_listener(args.exposure)
            self.service = core_v1.Service(
                f"{name}-service",
                metadata=meta_v1.ObjectMetaArgs(
                    name=SERVICE_NAME,
                    namespace=args.namespace,
                    annotations=service_annotations(args.exposure),
                ),
                spec=core_v1.ServiceSpecArgs(
                    type="LoadBalancer",
                    selector=dict(CONTROLLER_SELECTOR),
                    ports=[
                        core_v1.ServicePortArgs(
                            name=listener.name,
                            port=listener.port,
                            protocol="TCP",
                            target_port=CONTROLLER_PORT,
                        )
                    ],
                ),
                opts=child,
            )
            load_balancer_hostname = self.service.status.apply(_load_balancer_hostname)
        # The path is a digest of the token, not the token: it is shown in the plan and the stack
        # outputs so that a reviewer sees where GitHub posts, while the token stays secret.
        self.path = pulumi.Output.unsecret(
            token.result.apply(lambda value: receiver_path(value, RECEIVER_NAME, args.namespace))
        )
        self.url = pulumi.Output.all(load_balancer_hostname, self.path).apply(
            lambda parts: webhook_base_url(args.exposure, parts[0]) + parts[1]
        )
        self.repository_webhook = github.RepositoryWebhook(
            name,
            repository=args.repository,
            active=True,
            events=["push"],
            configuration=github.RepositoryWebhookConfigurationArgs(
                url=self.url,
                content_type="json",
                secret=token.result,
                insecure_ssl=False,
            ),
            # GitHub pings the URL on creation: the Receiver (and its load balancer) answer by then.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.receiver, *([self.service] if self.service else [])]
            ),
        )
        self.register_outputs({"path": self.path, "url": self.url})


def _load_balancer_hostname(status: Any) -> str | None:
    # The provider waits for a LoadBalancer Service's first ingress entry before it reports the
    # Service created (pulumi-kubernetes provider/pkg/await/service.go).
    ingress = (status.load_balancer.ingress or []) if status and status.load_balancer else []
    return ingress[0].hostname if ingress else None
