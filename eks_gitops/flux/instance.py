"""The FluxInstance the Flux Operator installs Flux from (operator installer): what it says, pure.

Facts of the operator this depends on (controlplaneio-fluxcd/flux-operator, api/v1/fluxinstance_types.go
and docs/api/v1/fluxinstance.md):
- one instance per cluster, named `flux` (a CEL rule refuses any other name), in the operator's
  namespace;
- `.spec.distribution.version` is a semver constraint; an exact version installs exactly that one;
- `.spec.wait` (default true) holds Ready until every object it applied is healthy, and the API is
  kstatus-compatible, so `pulumi.com/waitFor: condition=Ready` waits for a healthy Flux;
- the annotation `fluxcd.controlplane.io/reconcile: disabled` stops reconciling, and deleting a
  disabled instance removes its finalizer without uninstalling anything
  (internal/controller/fluxinstance_uninstaller.go: `obj.IsDisabled()` short-circuit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from eks_gitops.flux.patches import KustomizePatch

API_VERSION: Final = "fluxcd.controlplane.io/v1"
KIND: Final = "FluxInstance"
NAME: Final = "flux"
REGISTRY: Final = "ghcr.io/fluxcd"
CLUSTER_TYPE: Final = "aws"
RECONCILE_ANNOTATION: Final = "fluxcd.controlplane.io/reconcile"
# How long the operator waits for the objects it applied to become healthy (default 5m).
RECONCILE_TIMEOUT_ANNOTATION: Final = "fluxcd.controlplane.io/reconcileTimeout"
DISABLED: Final = "disabled"
# Deleting an instance waits up to 5m for the controllers to go and up to 5m for the CRDs
# (fluxinstance_uninstaller.go: two WaitForTermination calls with `Timeout: 5 * time.Minute`).
UNINSTALL_SECONDS: Final = 2 * 5 * 60


@dataclass(frozen=True)
class InstanceArgs:
    flux_version: str
    """The Flux release tag (v2.9.4), installed exactly."""
    components: tuple[str, ...]
    patches: tuple[KustomizePatch, ...]
    reconcile_timeout: str
    """A Go duration: how long the operator waits for the controllers to become healthy."""
    suspended: bool
    """Handing over to the manifests installer: the operator leaves Flux alone, and deleting the
    instance uninstalls nothing."""


def delete_timeout_seconds(ready_timeout_seconds: int) -> int:
    """How long Pulumi waits for the instance to be deleted: the stack's readyTimeout, and never
    less than the operator's uninstall may take."""
    return max(ready_timeout_seconds, UNINSTALL_SECONDS)


def distribution_version(release_tag: str) -> str:
    """The exact semver of a release tag: `v2.9.4` -> `2.9.4` (a constraint of one version)."""
    return release_tag.removeprefix("v")


def instance_spec(args: InstanceArgs) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "distribution": {
            "version": distribution_version(args.flux_version),
            "registry": REGISTRY,
        },
        "components": list(args.components),
        "cluster": {"type": CLUSTER_TYPE, "networkPolicy": True},
        "wait": True,
        # Stored Flux objects are moved to the newest API version after a minor upgrade, the
        # storage migration the manifests installer leaves to `flux migrate` (fluxinstance.md).
        "migrateResources": True,
    }
    if args.patches:
        spec["kustomize"] = {"patches": _patches(args.patches)}
    return spec


def instance_annotations(args: InstanceArgs, ready: dict[str, str]) -> dict[str, str]:
    annotations = {**ready, RECONCILE_TIMEOUT_ANNOTATION: args.reconcile_timeout}
    if args.suspended:
        annotations[RECONCILE_ANNOTATION] = DISABLED
    return annotations


def _patches(patches: Sequence[KustomizePatch]) -> list[dict[str, Any]]:
    return [patch.as_kustomize() for patch in patches]
