"""The bootstrap sync objects, as `flux bootstrap` generates them (its `gotk-sync.yaml`): a
GitRepository for this repository over SSH and a Kustomization applying the cluster's path, both
named after the toolkit namespace. Pure: settings in, plain specs out."""

from __future__ import annotations

from typing import Any, Final

from settings.model import GitHubConfig, SyncConfig

GIT_REPOSITORY_API: Final = "source.toolkit.fluxcd.io/v1"
KUSTOMIZATION_API: Final = "kustomize.toolkit.fluxcd.io/v1"


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


def ready_annotations(timeout_seconds: int) -> dict[str, str]:
    """The Kubernetes provider's annotations that make `pulumi up` wait until Flux reports the
    object Ready, and for how long."""
    return {
        "pulumi.com/waitFor": "condition=Ready",
        "pulumi.com/timeoutSeconds": str(timeout_seconds),
    }
