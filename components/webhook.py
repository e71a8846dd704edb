"""Instant sync: GitHub posts every push to a Flux Receiver, which makes source-controller fetch the
bootstrap GitRepository at once instead of at its next poll (the poll stays, as the fallback).

The token is a random password kept in the Pulumi state: its inputs never change, so it is generated
once and every later run reads the same value. It is the Receiver's Secret and the webhook's HMAC
secret, and it salts the Receiver's path, which the program computes as notification-controller does
to give GitHub the full URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_github as github
import pulumi_random as random
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1
from pulumi_kubernetes.provider import Provider

from flux.receiver import (
    CONTROLLER_PORT,
    CONTROLLER_SELECTOR,
    RECEIVER_API,
    RECEIVER_NAME,
    SERVICE_NAME,
    TOKEN_KEY,
    TOKEN_SECRET_NAME,
    load_balancer_listener,
    needs_load_balancer,
    receiver_path,
    receiver_spec,
    service_annotations,
    webhook_base_url,
)
from settings.model import WebhookConfig

# Long enough to resist guessing the HMAC key; letters and digits only, so the token needs no quoting
# in a header, a form or a shell.
TOKEN_LENGTH = 40


@dataclass(frozen=True)
class WebhookArgs:
    config: WebhookConfig
    namespace: str
    repository: pulumi.Input[str]
    random_provider: pulumi.ProviderResource
    github_provider: pulumi.ProviderResource
    kubernetes_provider: Provider
    # The toolkit's namespace, CRDs and controllers: notification-controller must serve the Receiver
    # kind, and on destroy still run to release the Receiver's finalizer.
    depends_on: Sequence[pulumi.Resource]
    # What the load balancer's Service waits for: its namespace and the network only, so the NLB
    # provisions while the nodes and controllers come up rather than after them. On destroy it goes
    # before the network: the internet gateway cannot be detached while the NLB holds public
    # addresses in the VPC (EC2 DetachInternetGateway fails with DependencyViolation).
    service_depends_on: Sequence[pulumi.Resource]


class Webhook(pulumi.ComponentResource):
    path: pulumi.Output[str]
    url: pulumi.Output[str]
    secret: core_v1.Secret
    receiver: CustomResource
    service: core_v1.Service | None
    repository_webhook: github.RepositoryWebhook

    def __init__(
        self, name: str, args: WebhookArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:webhook:Webhook", name, None, opts)
        kubernetes = pulumi.ResourceOptions(
            parent=self, provider=args.kubernetes_provider, depends_on=list(args.depends_on)
        )
        token = random.RandomPassword(
            f"{name}-token",
            length=TOKEN_LENGTH,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, provider=args.random_provider),
        )
        self.secret = core_v1.Secret(
            f"{name}-token",
            metadata=meta_v1.ObjectMetaArgs(name=TOKEN_SECRET_NAME, namespace=args.namespace),
            type="Opaque",
            string_data={TOKEN_KEY: token.result},
            opts=kubernetes,
        )
        self.receiver = CustomResource(
            f"{name}-receiver",
            api_version=RECEIVER_API,
            kind="Receiver",
            metadata=meta_v1.ObjectMetaArgs(name=RECEIVER_NAME, namespace=args.namespace),
            spec=receiver_spec(source_name=args.namespace),
            # notification-controller reads the token when it reconciles the Receiver; without the
            # Secret it reports TokenNotFound and serves no path.
            opts=pulumi.ResourceOptions.merge(
                kubernetes, pulumi.ResourceOptions(depends_on=[self.secret])
            ),
        )
        load_balancer_hostname: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        self.service = None
        if needs_load_balancer(args.config):
            listener = load_balancer_listener(args.config)
            self.service = core_v1.Service(
                f"{name}-service",
                metadata=meta_v1.ObjectMetaArgs(
                    name=SERVICE_NAME,
                    namespace=args.namespace,
                    annotations=service_annotations(args.config),
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
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=args.kubernetes_provider,
                    depends_on=list(args.service_depends_on),
                ),
            )
            load_balancer_hostname = self.service.status.apply(_load_balancer_hostname)
        # The path is a digest of the token, not the token: it is shown in the plan and the stack
        # outputs so that a reviewer sees where GitHub posts, while the token stays secret.
        self.path = pulumi.Output.unsecret(
            token.result.apply(lambda value: receiver_path(value, RECEIVER_NAME, args.namespace))
        )
        self.url = pulumi.Output.all(load_balancer_hostname, self.path).apply(
            lambda parts: webhook_base_url(args.config, parts[0]) + parts[1]
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
                parent=self,
                provider=args.github_provider,
                depends_on=[self.receiver, *([self.service] if self.service else [])],
            ),
        )
        self.register_outputs({"path": self.path, "url": self.url})


def _load_balancer_hostname(status: Any) -> str | None:
    # The provider waits for a LoadBalancer Service's first ingress entry before it reports the
    # Service created (pulumi-kubernetes provider/pkg/await/service.go).
    ingress = (status.load_balancer.ingress or []) if status and status.load_balancer else []
    return ingress[0].hostname if ingress else None
