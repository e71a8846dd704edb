"""The bootstrap sync: the GitRepository and Kustomization that make Flux apply this repository's
cluster path, declared last and awaited until Flux reports them Ready, so a green `pulumi up` means
the cluster really synced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.meta import v1 as meta_v1
from pulumi_kubernetes.provider import Provider

from settings.model import GitHubConfig, SyncConfig

GIT_REPOSITORY_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZATION_API = "kustomize.toolkit.fluxcd.io/v1"


def repository_url(github: GitHubConfig) -> str:
    return f"ssh://git@{github.ssh_authority}/{github.owner}/{github.repository}"


def git_repository_spec(sync: SyncConfig, github: GitHubConfig, secret_name: str) -> dict[str, Any]:
    return {
        "interval": sync.interval,
        "ref": {"branch": sync.branch},
        "secretRef": {"name": secret_name},
        "url": repository_url(github),
    }


def kustomization_spec(sync: SyncConfig, source_name: str) -> dict[str, Any]:
    return {
        "interval": sync.kustomization_interval,
        "path": f"./{sync.path}",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": source_name},
    }


def ready_metadata(namespace: str, timeout_seconds: int) -> meta_v1.ObjectMetaArgs:
    """Named after the namespace as `flux bootstrap` names them, with the Kubernetes provider's
    annotations that make `pulumi up` wait until Flux reports the object Ready."""
    return meta_v1.ObjectMetaArgs(
        name=namespace,
        namespace=namespace,
        annotations={
            "pulumi.com/waitFor": "condition=Ready",
            "pulumi.com/timeoutSeconds": str(timeout_seconds),
        },
    )


@dataclass(frozen=True)
class SyncArgs:
    sync: SyncConfig
    github: GitHubConfig
    namespace: str
    secret_name: str
    kubernetes_provider: Provider
    # CRDs, controllers, the SSH secret, the deploy key and anything the synced path needs from
    # Pulumi: created before the sync, deleted after it, so controllers are still there to
    # release the sync objects' finalizers (and prune what they applied) on destroy.
    depends_on: Sequence[pulumi.Resource]


class Sync(pulumi.ComponentResource):
    path: str
    git_repository: CustomResource
    kustomization: CustomResource

    def __init__(
        self, name: str, args: SyncArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:sync:Sync", name, None, opts)
        source = git_repository_spec(args.sync, args.github, args.secret_name)
        kustomization = kustomization_spec(args.sync, source_name=args.namespace)
        self.path = kustomization["path"]
        base = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)
        self.git_repository = CustomResource(
            f"{name}-source",
            api_version=GIT_REPOSITORY_API,
            kind="GitRepository",
            metadata=ready_metadata(args.namespace, args.sync.ready_timeout_seconds),
            spec=source,
            opts=pulumi.ResourceOptions.merge(
                base, pulumi.ResourceOptions(depends_on=list(args.depends_on))
            ),
        )
        self.kustomization = CustomResource(
            f"{name}-kustomization",
            api_version=KUSTOMIZATION_API,
            kind="Kustomization",
            metadata=ready_metadata(args.namespace, args.sync.ready_timeout_seconds),
            spec=kustomization,
            opts=pulumi.ResourceOptions.merge(
                base, pulumi.ResourceOptions(depends_on=[*args.depends_on, self.git_repository])
            ),
        )
        self.register_outputs({"path": self.path, "url": source["url"]})
