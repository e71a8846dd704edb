"""Commit statuses per environment: the cluster's notification-controller posts a GitHub commit
status, named after the environment (flux.status), for every revision its Kustomizations apply or
fail to apply. Declared before the sync, so the first revision the cluster applies is reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1
from pulumi_kubernetes.provider import Provider

from flux.notification import (
    COMMIT_STATUS_NAME,
    NOTIFICATION_API,
    alert_spec,
    credential_data,
    provider_spec,
)
from settings.model import GitHubConfig, NotificationsConfig


@dataclass(frozen=True)
class CommitStatusArgs:
    config: NotificationsConfig
    github: GitHubConfig
    environment: str
    namespace: str
    credential: pulumi.Output[str]
    """The token or the GitHub App's private key, a Pulumi secret."""
    kubernetes_provider: Provider
    # The namespace, the notification CRDs and notification-controller.
    depends_on: Sequence[pulumi.Resource]


class CommitStatus(pulumi.ComponentResource):
    resources: list[pulumi.Resource]
    """Everything declared here, for the sync to wait on."""

    def __init__(
        self, name: str, args: CommitStatusArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:notifications:CommitStatus", name, None, opts)
        metadata = meta_v1.ObjectMetaArgs(name=COMMIT_STATUS_NAME, namespace=args.namespace)

        def options(*after: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(
                parent=self,
                provider=args.kubernetes_provider,
                depends_on=[*args.depends_on, *after],
            )

        secret = core_v1.Secret(
            f"{name}-credentials",
            metadata=metadata,
            type="Opaque",
            # The SDK's Secret marks all of `stringData` secret; the credential is one already.
            string_data=credential_data(args.config, args.github, args.credential),
            opts=options(),
        )
        provider = CustomResource(
            f"{name}-provider",
            api_version=NOTIFICATION_API,
            kind="Provider",
            metadata=metadata,
            spec=provider_spec(args.github, args.environment),
            opts=options(secret),
        )
        alert = CustomResource(
            f"{name}-alert",
            api_version=NOTIFICATION_API,
            kind="Alert",
            metadata=metadata,
            spec=alert_spec(args.namespace),
            opts=options(provider),
        )
        self.resources = [secret, provider, alert]
        self.register_outputs({"provider": COMMIT_STATUS_NAME, "alert": COMMIT_STATUS_NAME})
