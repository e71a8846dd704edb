"""The bootstrap sync: the GitRepository and Kustomization that make Flux apply this repository's
cluster path, declared last and awaited until Flux reports them Ready, so a green `pulumi up` means
the cluster really synced; on destroy, awaited until Flux has removed everything they applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.meta import v1 as meta_v1

from eks_gitops.flux.kinds import api_version

# Deleting the Kustomization deletes what it applied and holds its finalizer until all of it is
# gone (or `spec.timeout` passes); the default, MirrorPrune, deletes in the background and lets go
# at once, so the controllers would be deleted while child Kustomizations and HelmReleases still
# wait on them.
DELETION_POLICY: Final = "WaitForTermination"


def repository_url(ssh_authority: str, owner: str, repository: str) -> str:
    """The repository over SSH as `flux bootstrap` writes it: `ssh://git@HOST[:PORT]/OWNER/REPO`."""
    return f"ssh://git@{ssh_authority}/{owner}/{repository}"


@dataclass(frozen=True)
class SyncArgs:
    namespace: str
    """The toolkit namespace, which also names both objects, as `flux bootstrap` names them."""
    url: str
    branch: str
    path: str
    """The cluster's path in the repository, without `./`."""
    interval: str
    kustomization_interval: str
    timeout: str
    """The Kustomization's `spec.timeout`: how long Flux waits for the tree to become healthy, and
    on delete for what it applied to be gone."""
    ready_timeout_seconds: int
    """How long `pulumi up` waits for Ready (and a delete for Flux): longer than `timeout`."""
    secret_name: pulumi.Input[str]
    """From the deploy key component, so the GitRepository follows the Secret it really wrote."""


def git_repository_spec(args: SyncArgs, secret_name: str) -> dict[str, Any]:
    return {
        "interval": args.interval,
        "ref": {"branch": args.branch},
        "secretRef": {"name": secret_name},
        "url": args.url,
    }


def kustomization_spec(args: SyncArgs) -> dict[str, Any]:
    return {
        "deletionPolicy": DELETION_POLICY,
        "interval": args.kustomization_interval,
        "path": f"./{args.path}",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": args.namespace},
        "timeout": args.timeout,
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


class Sync(pulumi.ComponentResource):
    """Declared with the cluster's Kubernetes provider and, as dependencies, the CRDs, controllers,
    SSH Secret, deploy key and anything the synced path needs from Pulumi: created before the sync,
    deleted after it, so the controllers are still there to release the sync objects' finalizers
    (and prune what they applied) on destroy."""

    TYPE_TOKEN: ClassVar[str] = "eks-gitops:sync:Sync"

    path: str
    git_repository: CustomResource
    kustomization: CustomResource
    synced_revision: pulumi.Output[str]
    """The revision the bootstrap Kustomization last applied, read once Flux reports it Ready."""

    def __init__(
        self, name: str, args: SyncArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        source = pulumi.Output.from_input(args.secret_name).apply(
            lambda secret_name: git_repository_spec(args, secret_name)
        )
        kustomization = kustomization_spec(args)
        self.path = kustomization["path"]
        base = pulumi.ResourceOptions(
            parent=self,
            # The provider waits this long for a delete when set, before the timeoutSeconds
            # annotation; readyTimeout is longer than the Flux timeout the Kustomization's
            # finalizer waits for, so Pulumi does not give up while Flux is still pruning.
            custom_timeouts=pulumi.CustomTimeouts(delete=f"{args.ready_timeout_seconds}s"),
        )
        self.git_repository = CustomResource(
            f"{name}-source",
            api_version=api_version("GitRepository"),
            kind="GitRepository",
            metadata=_ready_metadata(args.namespace, args.ready_timeout_seconds),
            spec=source,
            opts=base,
        )
        self.kustomization = CustomResource(
            f"{name}-kustomization",
            api_version=api_version("Kustomization"),
            kind="Kustomization",
            metadata=_ready_metadata(args.namespace, args.ready_timeout_seconds),
            spec=kustomization,
            opts=pulumi.ResourceOptions.merge(
                base,
                pulumi.ResourceOptions(
                    depends_on=[self.git_repository],
                    transformations=[_with_status],
                ),
            ),
        )
        status: pulumi.Output[dict[str, Any]] = vars(self.kustomization)["status"]
        self.synced_revision = status.apply(_last_applied_revision)
        self.register_outputs(
            {
                "path": self.path,
                "url": args.url,
                "syncedRevision": self.synced_revision,
            }
        )
