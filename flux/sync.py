"""The bootstrap sync objects, as `flux bootstrap` generates them (its `gotk-sync.yaml`): a
GitRepository for this repository over SSH and a Kustomization applying the cluster's path, both
named after the toolkit namespace. Unlike bootstrap's, the Kustomization waits for what it applies
to become healthy and, when deleted, for what it applied to be gone, each within `sync.timeout`.
Pure: settings in, plain specs out."""

from __future__ import annotations

from typing import Any, Final

from settings.model import GitHubConfig, SyncConfig

GIT_REPOSITORY_API: Final = "source.toolkit.fluxcd.io/v1"
KUSTOMIZATION_API: Final = "kustomize.toolkit.fluxcd.io/v1"
# Deleting the Kustomization deletes what it applied and holds its finalizer until all of it is
# gone (or `spec.timeout` passes); the default, MirrorPrune, deletes in the background and lets go
# at once, so the controllers would be deleted while child Kustomizations and HelmReleases still
# wait on them.
DELETION_POLICY: Final = "WaitForTermination"


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
        "deletionPolicy": DELETION_POLICY,
        "interval": sync.kustomization_interval,
        "path": f"./{sync.path}",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": source_name},
        "timeout": sync.timeout,
        # Ready only once everything applied, child Kustomizations included, is healthy; without it
        # Ready means "applied", and `pulumi up` would pass while the tree below fails.
        "wait": True,
    }


def ready_annotations(timeout_seconds: int) -> dict[str, str]:
    """The Kubernetes provider's annotations that make `pulumi up` wait until Flux reports the
    object Ready, and for how long (longer than `spec.timeout`, so Flux's verdict comes first)."""
    return {
        "pulumi.com/waitFor": "condition=Ready",
        "pulumi.com/timeoutSeconds": str(timeout_seconds),
    }
