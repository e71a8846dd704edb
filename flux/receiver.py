"""The webhook that makes a push sync at once: a Flux Receiver for GitHub that reconciles the bootstrap
GitRepository, the Secret holding its token, and a LoadBalancer Service that exposes
notification-controller's receiver port to GitHub through an AWS Network Load Balancer. The
GitRepository keeps its interval, so a lost delivery only delays a sync until the next poll.
Pure: names and settings in, plain specs and strings out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from flux.sync import GIT_REPOSITORY_API
from settings.model import WebhookConfig

RECEIVER_API: Final = "notification.toolkit.fluxcd.io/v1"
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
            {"apiVersion": GIT_REPOSITORY_API, "kind": "GitRepository", "name": source_name}
        ],
    }


def serves_tls(config: WebhookConfig) -> bool:
    """Whether the load balancer terminates TLS itself: only with a certificate for the hostname."""
    return config.certificate_arn is not None


def needs_load_balancer(config: WebhookConfig) -> bool:
    """A hostname without a certificate names an existing ingress, which already reaches the toolkit's
    `webhook-receiver` Service; otherwise the program exposes the receiver itself."""
    return config.hostname is None or serves_tls(config)


def service_annotations(config: WebhookConfig) -> dict[str, str]:
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


def load_balancer_listener(config: WebhookConfig) -> Listener:
    """TLS on 443 with the certificate (the NLB speaks plain TCP to the pods), else plain HTTP on
    80."""
    if serves_tls(config):
        return Listener(name="https", port=HTTPS_PORT)
    return Listener(name="http", port=HTTP_PORT)


def webhook_base_url(config: WebhookConfig, load_balancer_hostname: str | None) -> str:
    """Where GitHub posts to, before the Receiver's path: the configured hostname over HTTPS, else the
    load balancer's own DNS name over HTTP (AWS issues no certificate for it)."""
    if config.hostname is not None:
        return f"https://{config.hostname}"
    if not load_balancer_hostname:
        raise ValueError("the receiver's load balancer has no hostname yet")
    return f"http://{load_balancer_hostname}"
