"""The bootstrap sync: the GitRepository and Kustomization that make Flux apply this repository's
cluster path, declared last and awaited until Flux reports them Ready, so a green `pulumi up` means
the cluster really synced."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.schema_resources import SchemaResource, kubernetes_object
from settings.model import GitHubConfig, SyncConfig

GIT_REPOSITORY_API = "source.toolkit.fluxcd.io/v1"
KUSTOMIZATION_API = "kustomize.toolkit.fluxcd.io/v1"


def repository_url(github: GitHubConfig) -> str:
    return f"ssh://git@{github.ssh_authority}/{github.owner}/{github.repository}"


def render_sync_objects(
    sync: SyncConfig, github: GitHubConfig, namespace: str, secret_name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The GitRepository and Kustomization, named after the namespace as `flux bootstrap` names them."""
    metadata = {"name": namespace, "namespace": namespace}
    git_repository = {
        "apiVersion": GIT_REPOSITORY_API,
        "kind": "GitRepository",
        "metadata": dict(metadata),
        "spec": {
            "interval": sync.interval,
            "ref": {"branch": sync.branch},
            "secretRef": {"name": secret_name},
            "url": repository_url(github),
        },
    }
    kustomization = {
        "apiVersion": KUSTOMIZATION_API,
        "kind": "Kustomization",
        "metadata": dict(metadata),
        "spec": {
            "interval": sync.kustomization_interval,
            "path": f"./{sync.path}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": namespace},
        },
    }
    return git_repository, kustomization


def await_ready(obj: dict[str, Any], timeout_seconds: int) -> dict[str, Any]:
    """The object with the Kubernetes provider's annotations that make `pulumi up` wait for Ready."""
    metadata = dict(obj["metadata"])
    metadata["annotations"] = {
        **metadata.get("annotations", {}),
        "pulumi.com/waitFor": "condition=Ready",
        "pulumi.com/timeoutSeconds": str(timeout_seconds),
    }
    return {**obj, "metadata": metadata}


@dataclass(frozen=True)
class SyncArgs:
    sync: SyncConfig
    github: GitHubConfig
    namespace: str
    secret_name: str
    kubernetes_provider: k8s.Provider
    # CRDs, controllers, the SSH secret, the deploy key and anything the synced path needs from
    # Pulumi: created before the sync, deleted after it, so controllers are still there to
    # release the sync objects' finalizers (and prune what they applied) on destroy.
    depends_on: Sequence[pulumi.Resource]


class Sync(pulumi.ComponentResource):
    path: str
    git_repository: SchemaResource
    kustomization: SchemaResource

    def __init__(
        self, name: str, args: SyncArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:sync:Sync", name, None, opts)
        git_repository, kustomization = (
            await_ready(obj, args.sync.ready_timeout_seconds)
            for obj in render_sync_objects(args.sync, args.github, args.namespace, args.secret_name)
        )
        self.path = kustomization["spec"]["path"]
        base = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)
        self.git_repository = kubernetes_object(
            f"{name}-source",
            git_repository,
            pulumi.ResourceOptions.merge(
                base, pulumi.ResourceOptions(depends_on=list(args.depends_on))
            ),
        )
        self.kustomization = kubernetes_object(
            f"{name}-kustomization",
            kustomization,
            pulumi.ResourceOptions.merge(
                base, pulumi.ResourceOptions(depends_on=[*args.depends_on, self.git_repository])
            ),
        )
        self.register_outputs({"path": self.path, "url": git_repository["spec"]["url"]})
