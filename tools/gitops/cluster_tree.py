"""What exists in one cluster: the generated record plus everything its Flux Kustomizations apply.

Starting from the bootstrap Kustomization in `gitops-system/gotk-sync.yaml`, each Flux
Kustomization whose source is this repository is followed: its path is built with kustomize, its
postBuild substitution applied as Flux applies it, and the Kustomizations it creates followed in turn.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eks_gitops.settings.environments import read_environments
from tools.gitops.kustomize import Builder, OriginIndex, kustomization_file, load_documents
from tools.gitops.model import (
    CLUSTER_SCOPED_KINDS,
    CLUSTERS_PATH,
    LOCK_FILENAME,
    RECORD_DIRNAME,
    SYNC_FILENAME,
    Manifest,
    ObjectKey,
    Problem,
    api_group,
)
from tools.gitops.substitution import (
    substitute,
    substitution_disabled,
    unresolved_variables,
)

KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"


@dataclass(frozen=True)
class ToolkitLock:
    stack: str
    flux_version: str
    namespace: str
    components: frozenset[str]
    objects: tuple[Mapping[str, Any], ...]


def read_lock(path: Path) -> ToolkitLock:
    data = yaml.safe_load(path.read_text()) or {}
    flux = data.get("flux") or {}
    return ToolkitLock(
        stack=str(data.get("stack", "")),
        flux_version=str(flux.get("version", "")),
        namespace=str(flux.get("namespace", "")),
        components=frozenset(flux.get("components") or ()),
        objects=tuple(data.get("objects") or ()),
    )


def cluster_dirs(root: Path) -> list[Path]:
    """Cluster directories, in promotion order, then any others by name."""
    clusters = root / CLUSTERS_PATH
    found = [p for p in clusters.iterdir() if p.is_dir()] if clusters.is_dir() else []
    order = {name: index for index, name in enumerate(read_environments(root).names)}
    return sorted(found, key=lambda p: (order.get(p.name, len(order)), p.name))


@dataclass
class ClusterTree:
    """What one cluster directory of gitops/ applies, followed through its Flux Kustomizations (not
    the EKS cluster: that is components.cluster.Cluster)."""

    name: str
    directory: Path
    lock: ToolkitLock | None
    manifests: dict[ObjectKey, Manifest] = field(default_factory=dict)
    followed: list[Manifest] = field(default_factory=list)
    build_dirs: set[Path] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    def find(self, kind: str, namespace: str | None, name: str) -> Manifest | None:
        return self.manifests.get((kind, namespace, name))

    def add(self, manifest: Manifest) -> None:
        existing = self.manifests.get(manifest.key)
        if existing is not None:
            self.problems.append(
                manifest.problem(
                    "metadata.name",
                    f"also applied by {existing.applied_by}; one object, one owner",
                    needle="name:",
                )
            )
            return
        self.manifests[manifest.key] = manifest


def is_flux_kustomization(body: Mapping[str, Any]) -> bool:
    return body.get("kind") == "Kustomization" and api_group(str(body.get("apiVersion", ""))) == (
        KUSTOMIZE_GROUP
    )


def _with_namespace(body: dict[str, Any], target_namespace: str | None) -> dict[str, Any]:
    """Flux puts namespaced objects into targetNamespace, or 'default' when they name none."""
    if body.get("kind") in CLUSTER_SCOPED_KINDS:
        return body
    metadata = body.setdefault("metadata", {})
    if target_namespace:
        metadata["namespace"] = target_namespace
    else:
        metadata.setdefault("namespace", "default")
    return body


def _config_data(manifest: Manifest) -> dict[str, str]:
    """The key/value pairs a ConfigMap or Secret offers to substituteFrom."""
    data: dict[str, str] = {}
    if manifest.kind == "Secret":
        for key, value in (manifest.body.get("data") or {}).items():
            try:
                data[str(key)] = base64.b64decode(str(value)).decode()
            except (binascii.Error, UnicodeDecodeError):
                data[str(key)] = ""
        data.update({str(k): str(v) for k, v in (manifest.body.get("stringData") or {}).items()})
    else:
        data.update({str(k): str(v) for k, v in (manifest.body.get("data") or {}).items()})
    return data


def _substitute_from(kustomization: Manifest) -> list[Mapping[str, Any]]:
    post_build = kustomization.spec.get("postBuild") or {}
    return [ref for ref in post_build.get("substituteFrom") or [] if isinstance(ref, Mapping)]


def _waiting_for_source(cluster: ClusterTree, kustomization: Manifest) -> bool:
    return any(
        not ref.get("optional")
        and cluster.find(str(ref.get("kind")), kustomization.namespace, str(ref.get("name")))
        is None
        for ref in _substitute_from(kustomization)
    )


def postbuild_variables(cluster: ClusterTree, kustomization: Manifest) -> dict[str, str] | None:
    """The variables Flux substitutes for this Kustomization, or None when it substitutes nothing.
    Inline `substitute` wins over `substituteFrom`; later substituteFrom entries win over earlier."""
    post_build = kustomization.spec.get("postBuild")
    if not isinstance(post_build, Mapping):
        return None
    variables: dict[str, str] = {}
    for ref in _substitute_from(kustomization):
        source = cluster.find(str(ref.get("kind")), kustomization.namespace, str(ref.get("name")))
        if source is not None:
            variables.update(_config_data(source))
    variables.update({str(k): str(v) for k, v in (post_build.get("substitute") or {}).items()})
    return variables


def kustomization_path(root: Path, kustomization: Manifest) -> Path:
    return (root / str(kustomization.spec.get("path") or "./")).resolve()


def _is_this_repository(cluster: ClusterTree, kustomization: Manifest, bootstrap_url: str) -> bool:
    ref = kustomization.spec.get("sourceRef") or {}
    namespace = ref.get("namespace") or kustomization.namespace
    source = cluster.find(str(ref.get("kind")), namespace, str(ref.get("name")))
    return source is not None and source.spec.get("url") == bootstrap_url


def _follow(
    root: Path, cluster: ClusterTree, kustomization: Manifest, builder: Builder
) -> list[Manifest]:
    """Build what a Kustomization applies, add it to the cluster, return the Kustomizations in it."""
    directory = kustomization_path(root, kustomization)
    shown = kustomization.spec.get("path") or "./"
    if not directory.is_relative_to(root.resolve()) or not directory.is_dir():
        cluster.problems.append(
            kustomization.problem("spec.path", f"{shown} is not a directory in this repository")
        )
        return []
    if kustomization_file(directory) is None:
        cluster.problems.append(
            kustomization.problem(
                "spec.path", f"{shown} has no kustomization.yaml; list what Flux applies explicitly"
            )
        )
        return []
    build = builder.build(directory)
    if build.error is not None:
        cluster.problems.append(
            kustomization.problem("spec.path", f"kustomize build of {shown} failed: {build.error}")
        )
        return []
    cluster.build_dirs.add(directory)
    index = OriginIndex.for_directory(directory)
    variables = postbuild_variables(cluster, kustomization)
    target_namespace = kustomization.spec.get("targetNamespace")
    found: list[Manifest] = []
    for text in build.documents:
        raw = yaml.safe_load(text)
        if not isinstance(raw, dict):
            continue
        if variables is not None and not substitution_disabled(raw):
            unbuilt = Manifest(raw, index, kustomization.label)
            cluster.problems.extend(
                unbuilt.problem(gap.field, gap.message, needle=gap.token)
                for gap in unresolved_variables(raw, variables)
            )
            raw = yaml.safe_load(substitute(text, variables).text)
        manifest = Manifest(_with_namespace(raw, target_namespace), index, kustomization.label)
        cluster.add(manifest)
        if is_flux_kustomization(manifest.body):
            found.append(manifest)
    return found


def expand_cluster(root: Path, directory: Path, builder: Builder) -> ClusterTree:
    record = directory / RECORD_DIRNAME
    lock_path, sync_path = record / LOCK_FILENAME, record / SYNC_FILENAME
    missing = [path for path in (lock_path, sync_path) if not path.is_file()]
    if missing:
        cluster = ClusterTree(directory.name, directory, None)
        cluster.problems.extend(
            Problem(path, "-", "-", "generated record missing; run `make render`")
            for path in missing
        )
        return cluster
    lock = read_lock(lock_path)
    cluster = ClusterTree(directory.name, directory, lock)
    synced = [Manifest(doc, sync_path, SYNC_FILENAME) for doc in load_documents(sync_path)]
    synced_keys = {m.key for m in synced}
    for entry in lock.objects:
        stub = Manifest(
            {
                "apiVersion": entry.get("apiVersion"),
                "kind": entry.get("kind"),
                "metadata": {k: entry[k] for k in ("name", "namespace") if k in entry},
            },
            lock_path,
            LOCK_FILENAME,
            stub=True,
        )
        if stub.key not in synced_keys:
            cluster.add(stub)
    for manifest in synced:
        cluster.add(manifest)
    bootstrap_urls = [m.spec.get("url") for m in synced if m.kind == "GitRepository"]
    bootstrap_url = str(bootstrap_urls[0]) if bootstrap_urls else ""

    pending = deque(m for m in synced if is_flux_kustomization(m.body))
    seen: set[ObjectKey] = set()
    deferred = 0
    while pending:
        kustomization = pending.popleft()
        # A substituteFrom source may come from a sibling not yet built; give it the chance.
        if _waiting_for_source(cluster, kustomization) and deferred < len(pending):
            pending.append(kustomization)
            deferred += 1
            continue
        deferred = 0
        if kustomization.key in seen or kustomization.spec.get("suspend"):
            continue
        seen.add(kustomization.key)
        if not _is_this_repository(cluster, kustomization, bootstrap_url):
            continue
        cluster.followed.append(kustomization)
        pending.extend(_follow(root, cluster, kustomization, builder))
    return cluster


def expand_clusters(root: Path, builder: Builder) -> list[ClusterTree]:
    return [expand_cluster(root, directory, builder) for directory in cluster_dirs(root)]


def cluster_directory(root: Path, name: str) -> Path:
    return root / CLUSTERS_PATH / name
