"""The Flux toolkit on the cluster, by one of two installers.

manifests: the official release manifest for the pinned version, cut down to the chosen controllers,
moved into the configured namespace, patched, and applied object by object so a preview shows
object-level diffs and a version bump updates objects in place.

operator: the Flux Operator's release manifest, moved into the configured namespace and applied the
same way, and a FluxInstance from which the operator installs (and keeps installed) the controllers.

Either way the toolkit namespace is the same resource, so a switch between installers never deletes
it (docs/installers.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1

from eks_gitops.flux import instance
from eks_gitops.flux.install import (
    KubeObject,
    kubernetes_type_token,
    order_for_apply,
    render_operator,
    render_toolkit,
    resource_name,
)
from eks_gitops.flux.patches import KustomizePatch, apply_patches
from eks_gitops.flux.release import InstallManifest
from eks_gitops.flux.sync import ready_annotations


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
class OperatorArgs:
    manifest: InstallManifest | None
    """The operator release's install manifest; None declares no operator objects (the offline plan
    without one says so)."""
    instance: instance.InstanceArgs
    ready_timeout_seconds: int
    """How long `pulumi up` waits for the instance to be Ready, and a delete for the uninstall."""


@dataclass(frozen=True)
class ToolkitArgs:
    namespace: str
    components: tuple[str, ...]
    manifest: InstallManifest | None
    """Flux's release manifest: what the manifests installer applies, and what the patches are
    checked against with either installer (the operator installs the same release). None declares
    no Flux objects (the offline plan without one says so)."""
    patches: tuple[KustomizePatch, ...] = ()
    operator: OperatorArgs | None = None
    """Set: install with the Flux Operator instead of applying Flux's manifest."""
    retain_on_delete: bool = False
    """Hand-over to the other installer: what this installer declared leaves the state, not the
    cluster, on the next run (Pulumi skips the delete of a resource recorded retainOnDelete)."""


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
    flux_instance: CustomResource | None
    """The operator installer's FluxInstance (in `ready`); None with the manifests installer."""

    def __init__(
        self, name: str, args: ToolkitArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        self.namespace = args.namespace
        self.namespaces = []
        self.crds = []
        self.controllers = []
        self.flux_instance = None
        self.ready = []
        self._retain = args.retain_on_delete
        # Patched with either installer, so a patch that selects nothing fails before anything is
        # declared, whichever installer would apply it.
        flux = (
            apply_patches(
                render_toolkit(args.manifest.text, args.components, args.namespace), args.patches
            )
            if args.manifest is not None
            else None
        )
        if args.operator is None:
            if flux is not None:
                self._apply(order_for_apply(flux))
        else:
            if args.operator.manifest is not None:
                self._apply(render_operator(args.operator.manifest.text, args.namespace))
            self._declare_instance(args.namespace, args.operator)
        self.register_outputs({"namespace": self.namespace})

    def _options(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self, depends_on=list(depends_on), retain_on_delete=self._retain or None
        )

    def _declare_instance(self, namespace: str, args: OperatorArgs) -> None:
        # Declared after every operator object, so it is created once the operator runs and deleted
        # while the operator still runs to uninstall Flux and release the instance's finalizer.
        self.flux_instance = CustomResource(
            f"{namespace}/{instance.NAME}",
            api_version=instance.API_VERSION,
            kind=instance.KIND,
            metadata=meta_v1.ObjectMetaArgs(
                name=instance.NAME,
                namespace=namespace,
                annotations=instance.instance_annotations(
                    args.instance, ready_annotations(args.ready_timeout_seconds)
                ),
            ),
            spec=instance.instance_spec(args.instance),
            opts=pulumi.ResourceOptions.merge(
                self._options(self.ready),
                pulumi.ResourceOptions(
                    custom_timeouts=pulumi.CustomTimeouts(
                        delete=f"{instance.delete_timeout_seconds(args.ready_timeout_seconds)}s"
                    ),
                ),
            ),
        )
        self.ready = [*self.ready, self.flux_instance]

    def _apply(self, objects: list[KubeObject]) -> None:
        def declare(obj: KubeObject, depends_on: Sequence[pulumi.Resource]) -> ManifestObject:
            return ManifestObject(resource_name(obj), obj, self._options(depends_on))

        namespaces = [
            core_v1.Namespace(
                resource_name(obj),
                metadata=_namespace_metadata(obj),
                # The namespace is the one object both installers declare alike: it is never
                # retained, never handed over, and outlives a switch in the state.
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
