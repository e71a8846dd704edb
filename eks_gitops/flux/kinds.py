"""The Flux kinds, each at the one API version Flux v2.9 serves (beta versions of the source, helm
and kustomize kinds are gone, and notification serves Alert and Provider at v1beta3 only), and the
controller that serves it. Everything that writes or reads a Flux object takes its version here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class FluxKind:
    api_version: str
    controller: str

    @property
    def group(self) -> str:
        return self.api_version.split("/", 1)[0]


_SOURCE: Final = "source.toolkit.fluxcd.io/v1"
_NOTIFICATION: Final = "notification.toolkit.fluxcd.io"
_IMAGE: Final = "image.toolkit.fluxcd.io/v1"

FLUX_KINDS: Final[Mapping[str, FluxKind]] = {
    "GitRepository": FluxKind(_SOURCE, "source-controller"),
    "HelmRepository": FluxKind(_SOURCE, "source-controller"),
    "OCIRepository": FluxKind(_SOURCE, "source-controller"),
    "HelmChart": FluxKind(_SOURCE, "source-controller"),
    "Bucket": FluxKind(_SOURCE, "source-controller"),
    "ExternalArtifact": FluxKind(_SOURCE, "source-controller"),
    "Kustomization": FluxKind("kustomize.toolkit.fluxcd.io/v1", "kustomize-controller"),
    "HelmRelease": FluxKind("helm.toolkit.fluxcd.io/v2", "helm-controller"),
    "Alert": FluxKind(f"{_NOTIFICATION}/v1beta3", "notification-controller"),
    "Provider": FluxKind(f"{_NOTIFICATION}/v1beta3", "notification-controller"),
    "Receiver": FluxKind(f"{_NOTIFICATION}/v1", "notification-controller"),
    "ImageRepository": FluxKind(_IMAGE, "image-reflector-controller"),
    "ImagePolicy": FluxKind(_IMAGE, "image-reflector-controller"),
    "ImageUpdateAutomation": FluxKind(_IMAGE, "image-automation-controller"),
}


def api_version(kind: str) -> str:
    return FLUX_KINDS[kind].api_version
