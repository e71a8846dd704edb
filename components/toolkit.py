"""The Flux toolkit on the cluster: the official release manifest for the pinned version, cut down to
the chosen controllers, moved into the configured namespace, and applied object by object so a
preview shows object-level diffs and a version bump updates objects in place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1
from pulumi_kubernetes.provider import Provider

from flux.install import render_toolkit, resource_name
from flux.release import (
    InstallManifest,
    release_url,
)
from manifest_object import ManifestObject
from settings.model import ToolkitConfig

KubeObject = dict[str, Any]


def _namespace_metadata(obj: Mapping[str, Any]) -> meta_v1.ObjectMetaArgs:
    """The manifest's Namespace as the program declares it; anything beyond its name, labels and
    annotations would be silently dropped, so a release that adds more stops the run instead."""
    metadata = obj["metadata"]
    unexpected = sorted(
        {*obj} - {"apiVersion", "kind", "metadata"}
        | {*metadata} - {"name", "labels", "annotations"}
    )
    if unexpected:
        raise pulumi.RunError(f"Namespace {metadata['name']}: unexpected fields {unexpected}")
    return meta_v1.ObjectMetaArgs(
        name=metadata["name"],
        labels=metadata.get("labels"),
        annotations=metadata.get("annotations"),
    )


@dataclass(frozen=True)
class ToolkitArgs:
    config: ToolkitConfig
    manifest: InstallManifest | None
    kubernetes_provider: Provider
    # Nodes must exist before controllers can run, and must outlive them on destroy so that
    # finalizers are served.
    depends_on: Sequence[pulumi.Resource]


class Toolkit(pulumi.ComponentResource):
    namespace: str
    namespaces: list[core_v1.Namespace]
    crds: list[ManifestObject]
    controllers: list[ManifestObject]
    """Everything that has to be running before sync objects are useful (and gone after them)."""
    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: ToolkitArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        config = args.config
        manifest = args.manifest
        super().__init__(
            "eks-gitops:toolkit:Toolkit",
            name,
            {
                "version": config.version,
                "url": release_url(config.version),
                "namespace": config.namespace,
                "components": list(config.components),
                "expanded": manifest is not None,
                "manifestSha256": manifest.sha256 if manifest else None,
                "manifestPinned": config.manifests_sha256 is not None,
            },
            opts,
        )
        self.namespace = config.namespace
        self.namespaces = []
        self.crds = []
        self.controllers = []
        self.ready = []
        if manifest is not None:
            self._apply(render_toolkit(manifest.text, config.components, config.namespace), args)
        self.register_outputs({"namespace": self.namespace, "expanded": manifest is not None})

    def _apply(self, objects: list[KubeObject], args: ToolkitArgs) -> None:
        base = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)

        def options(depends_on: Sequence[pulumi.Resource]) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(
                base, pulumi.ResourceOptions(depends_on=list(depends_on))
            )

        def declare(obj: KubeObject, depends_on: Sequence[pulumi.Resource]) -> ManifestObject:
            return ManifestObject(resource_name(obj), obj, options(depends_on))

        namespaces = [
            core_v1.Namespace(
                resource_name(obj), metadata=_namespace_metadata(obj), opts=options(args.depends_on)
            )
            for obj in objects
            if obj["kind"] == "Namespace"
        ]
        self.namespaces = namespaces
        supporting: list[pulumi.Resource] = list(namespaces)
        for obj in objects:
            if obj["kind"] in ("Namespace", "Deployment"):
                continue
            namespaced = bool(obj["metadata"].get("namespace"))
            resource = declare(obj, namespaces if namespaced else args.depends_on)
            supporting.append(resource)
            if obj["kind"] == "CustomResourceDefinition":
                self.crds.append(resource)
        # A controller starts after its CRDs, RBAC and service account exist, and is deleted before
        # them, while it can still release the finalizers it set.
        self.controllers = [
            declare(obj, [*args.depends_on, *supporting])
            for obj in objects
            if obj["kind"] == "Deployment"
        ]
        self.ready = [*supporting, *self.controllers]
