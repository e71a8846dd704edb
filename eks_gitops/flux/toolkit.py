"""The Flux toolkit on the cluster: the official release manifest for the pinned version, cut down to
the chosen controllers, moved into the configured namespace, and applied object by object so a
preview shows object-level diffs and a version bump updates objects in place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1

from eks_gitops.flux.install import (
    KubeObject,
    kubernetes_type_token,
    render_toolkit,
    resource_name,
)
from eks_gitops.flux.release import InstallManifest


class ManifestObject(pulumi.CustomResource):
    """An object of the upstream install manifest, applied as released (less its `status`, which
    belongs to the cluster). Registered by token as the typed class for its kind would register it:
    the objects are data, read from a file the program does not write, so a typed class would only
    check their field names against the SDK at run time, and load the SDK's modules for every kind
    the release ships."""

    def __init__(self, name: str, obj: Mapping[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(
            kubernetes_type_token(str(obj["apiVersion"]), str(obj["kind"])),
            name,
            {key: value for key, value in obj.items() if key != "status"},
            opts,
        )


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
    namespace: str
    components: tuple[str, ...]
    manifest: InstallManifest | None
    """The release's install manifest; None declares no toolkit objects (the offline plan without
    one says so)."""


class Toolkit(pulumi.ComponentResource):
    """Declared with the Kubernetes provider and, as dependencies, the nodes: they must exist before
    controllers can run, and outlive them on destroy so that finalizers are served."""

    TYPE_TOKEN: ClassVar[str] = "eks-gitops:toolkit:Toolkit"

    namespace: str
    namespaces: list[core_v1.Namespace]
    crds: list[ManifestObject]
    controllers: list[ManifestObject]
    """Everything that has to be running before sync objects are useful (and gone after them)."""
    ready: list[pulumi.Resource]

    def __init__(
        self, name: str, args: ToolkitArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        self.namespace = args.namespace
        self.namespaces = []
        self.crds = []
        self.controllers = []
        self.ready = []
        if args.manifest is not None:
            self._apply(render_toolkit(args.manifest.text, args.components, args.namespace))
        self.register_outputs({"namespace": self.namespace})

    def _apply(self, objects: list[KubeObject]) -> None:
        def declare(obj: KubeObject, depends_on: Sequence[pulumi.Resource]) -> ManifestObject:
            return ManifestObject(
                resource_name(obj),
                obj,
                pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
            )

        namespaces = [
            core_v1.Namespace(
                resource_name(obj),
                metadata=_namespace_metadata(obj),
                opts=pulumi.ResourceOptions(parent=self),
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
            resource = declare(obj, namespaces if namespaced else [])
            supporting.append(resource)
            if obj["kind"] == "CustomResourceDefinition":
                self.crds.append(resource)
        # A controller starts after its CRDs, RBAC and service account exist, and is deleted before
        # them, while it can still release the finalizers it set.
        self.controllers = [
            declare(obj, supporting) for obj in objects if obj["kind"] == "Deployment"
        ]
        self.ready = [*supporting, *self.controllers]
