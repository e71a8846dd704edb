"""Kustomize patches for the Flux controllers (`toolkit.patches`), applied by kustomize itself.

The Flux Operator applies them with kustomize (FluxInstance `.spec.kustomize.patches`, fluxcd/pkg
kustomize.Patch); for the release manifest, `kubectl kustomize` (kustomize built into kubectl) builds a
temporary kustomization of the rendered objects with the same patches, so both installers give a
patch the same meaning: a strategic merge patch or an RFC 6902 JSON patch, and a target selector.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from eks_gitops.flux.install import KubeObject, parse_manifest

KUBECTL: Final = "kubectl"
_RESOURCES_FILE: Final = "toolkit.yaml"


@dataclass(frozen=True)
class KustomizePatch:
    patch: str
    target: Mapping[str, str]
    """A kustomize selector: group, version, kind, name, labelSelector, annotationSelector."""

    def as_kustomize(self) -> dict[str, Any]:
        """The entry of a kustomization's `patches` (and of a FluxInstance's
        `.spec.kustomize.patches`, which has the same shape)."""
        return {"patch": self.patch, "target": dict(self.target)}


class KustomizeUnavailable(RuntimeError):  # noqa: N818
    """kubectl, which carries kustomize, is not on PATH."""


class PatchError(ValueError):
    """Patch `index` of the list cannot be applied, or changes nothing."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"patch {index}: {reason}")


def apply_patches(
    objects: Sequence[KubeObject], patches: Sequence[KustomizePatch]
) -> list[KubeObject]:
    """The objects with every patch applied, in order. Each patch must change something: kustomize
    skips a target that selects nothing without a word, so a patch with a typo in its target would
    silently do nothing. Raises PatchError naming the first patch that fails or changes nothing."""
    if not patches:
        return list(objects)
    current = _kustomize(objects, [])
    for index, patch in enumerate(patches):
        try:
            patched = _kustomize(current, [patch])
        except subprocess.CalledProcessError as error:
            reason = (error.stderr or "").strip().splitlines()
            raise PatchError(index, reason[-1] if reason else "kustomize failed") from None
        if patched == current:
            raise PatchError(
                index, f"its target {dict(patch.target)} matches no toolkit object it changes"
            )
        current = patched
    return current


def _kustomize(
    objects: Sequence[KubeObject], patches: Sequence[KustomizePatch]
) -> list[KubeObject]:
    with tempfile.TemporaryDirectory(prefix="eks-gitops-patches-") as directory:
        root = Path(directory)
        (root / _RESOURCES_FILE).write_text(yaml.safe_dump_all(list(objects), sort_keys=True))
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [_RESOURCES_FILE],
            "patches": [patch.as_kustomize() for patch in patches],
        }
        (root / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=True))
        try:
            built = subprocess.run(
                [KUBECTL, "kustomize", str(root)],
                check=True,
                capture_output=True,
                text=True,
            )
        except FileNotFoundError:
            raise KustomizeUnavailable(
                f"toolkit patches are applied with `{KUBECTL} kustomize`, and {KUBECTL} is not on PATH"
            ) from None
    return sorted(parse_manifest(built.stdout), key=_identity)


def _identity(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], metadata.get("namespace", ""), metadata["name"])
