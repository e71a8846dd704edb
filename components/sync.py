"""The bootstrap sync: the GitRepository and Kustomization that make Flux apply this repository's
cluster path, declared last and awaited until Flux reports them Ready, so a green `pulumi up` means
the cluster really synced; on destroy, awaited until Flux has removed everything they applied."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.meta import v1 as meta_v1
from pulumi_kubernetes.provider import Provider

from flux.sync import (
    GIT_REPOSITORY_API,
    KUSTOMIZATION_API,
    git_repository_spec,
    kustomization_spec,
    ready_annotations,
    repository_url,
)
from settings.model import GitHubConfig, SyncConfig


def _ready_metadata(namespace: str, timeout_seconds: int) -> meta_v1.ObjectMetaArgs:
    """Named after the namespace as `flux bootstrap` names them; `pulumi up` waits until Ready."""
    return meta_v1.ObjectMetaArgs(
        name=namespace, namespace=namespace, annotations=ready_annotations(timeout_seconds)
    )


def _with_status(
    args: pulumi.ResourceTransformationArgs,
) -> pulumi.ResourceTransformationResult:
    # The SDK's CustomResource resolves only the properties it declares (apiVersion, kind,
    # metadata, spec); naming `status` too (with no value, so nothing is sent) makes Pulumi resolve
    # the status the provider reads back from the cluster.
    return pulumi.ResourceTransformationResult({**args.props, "status": None}, args.opts)


def _last_applied_revision(status: dict[str, Any]) -> str:
    # The Kustomization is awaited until Ready, and by then kustomize-controller has recorded the
    # source revision it applied (`<branch>@sha1:<sha>`).
    return str(status["lastAppliedRevision"])


@dataclass(frozen=True)
class SyncArgs:
    config: SyncConfig
    github: GitHubConfig
    namespace: str
    # From the deploy key component, so the GitRepository follows the Secret it really wrote.
    secret_name: pulumi.Input[str]
    kubernetes_provider: Provider
    # CRDs, controllers, the SSH secret, the deploy key and anything the synced path needs from
    # Pulumi: created before the sync, deleted after it, so controllers are still there to
    # release the sync objects' finalizers (and prune what they applied) on destroy.
    depends_on: Sequence[pulumi.Resource]


class Sync(pulumi.ComponentResource):
    path: str
    git_repository: CustomResource
    kustomization: CustomResource
    synced_revision: pulumi.Output[str]
    """The revision the bootstrap Kustomization last applied, read once Flux reports it Ready."""

    def __init__(
        self, name: str, args: SyncArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:sync:Sync", name, None, opts)
        source = pulumi.Output.from_input(args.secret_name).apply(
            lambda secret_name: git_repository_spec(args.config, args.github, secret_name)
        )
        kustomization = kustomization_spec(args.config, source_name=args.namespace)
        self.path = kustomization["path"]
        base = pulumi.ResourceOptions(
            parent=self,
            provider=args.kubernetes_provider,
            # The provider waits this long for a delete when set, before the timeoutSeconds
            # annotation; readyTimeout is longer than the Flux timeout the Kustomization's
            # finalizer waits for, so Pulumi does not give up while Flux is still pruning.
            custom_timeouts=pulumi.CustomTimeouts(delete=f"{args.config.ready_timeout_seconds}s"),
        )
        self.git_repository = CustomResource(
            f"{name}-source",
            api_version=GIT_REPOSITORY_API,
            kind="GitRepository",
            metadata=_ready_metadata(args.namespace, args.config.ready_timeout_seconds),
            spec=source,
            opts=pulumi.ResourceOptions.merge(
                base, pulumi.ResourceOptions(depends_on=list(args.depends_on))
            ),
        )
        self.kustomization = CustomResource(
            f"{name}-kustomization",
            api_version=KUSTOMIZATION_API,
            kind="Kustomization",
            metadata=_ready_metadata(args.namespace, args.config.ready_timeout_seconds),
            spec=kustomization,
            opts=pulumi.ResourceOptions.merge(
                base,
                pulumi.ResourceOptions(
                    depends_on=[*args.depends_on, self.git_repository],
                    transformations=[_with_status],
                ),
            ),
        )
        status: pulumi.Output[dict[str, Any]] = vars(self.kustomization)["status"]
        self.synced_revision = status.apply(_last_applied_revision)
        self.register_outputs(
            {
                "path": self.path,
                "url": repository_url(args.github),
                "syncedRevision": self.synced_revision,
            }
        )
