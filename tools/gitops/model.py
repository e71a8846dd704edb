"""Objects, problems and the Flux kinds the validator knows about."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eks_gitops.flux.kinds import FLUX_KINDS
from tools.gitops.kustomize import OriginIndex

CLUSTERS_PATH = Path("gitops/aws/clusters")
RECORD_DIRNAME = "gitops-system"
# The generated record in RECORD_DIRNAME (`make render`): the sync objects and the toolkit lock.
SYNC_FILENAME = "gotk-sync.yaml"
LOCK_FILENAME = "toolkit.lock.yaml"

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "IngressClass",
        "StorageClass",
        "PriorityClass",
        "PersistentVolume",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "APIService",
    }
)


FLUX_GROUPS = frozenset(kind.group for kind in FLUX_KINDS.values())


def api_group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def is_flux(body: Mapping[str, Any]) -> bool:
    return api_group(str(body.get("apiVersion", ""))) in FLUX_GROUPS


ObjectKey = tuple[str, str | None, str]


@dataclass(frozen=True)
class Problem:
    file: Path
    object: str
    field: str
    message: str

    def render(self, root: Path) -> str:
        try:
            shown = self.file.resolve().relative_to(root.resolve())
        except ValueError:
            shown = self.file
        return f"{shown}: {self.object}: {self.field}: {self.message}"


_INDEX = re.compile(r"\[\d+\]$")


def last_key(field: str) -> str:
    """The innermost mapping key of a field path like `spec.valuesFrom[0].name`."""
    return _INDEX.sub("", field).rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Manifest:
    """One object that exists in a cluster, with where it comes from."""

    body: Mapping[str, Any]
    origin: OriginIndex | Path
    applied_by: str
    # Known only by identity (the generated record's object list): no spec to check.
    stub: bool = False

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        namespace = (self.body.get("metadata") or {}).get("namespace")
        return str(namespace) if namespace else None

    @property
    def key(self) -> ObjectKey:
        return (self.kind, self.namespace, self.name)

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    @property
    def label(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    def file(self, needle: str | None = None) -> Path:
        if isinstance(self.origin, Path):
            return self.origin
        return self.origin.locate(self.kind, self.name, needle)

    def problem(self, field: str, message: str, needle: str | None = None) -> Problem:
        return Problem(self.file(needle or last_key(field) + ":"), self.label, field, message)
