"""The Flux toolkit on the cluster: the official release manifest for the pinned version, cut down to
the chosen controllers, moved into the configured namespace, and applied object by object so a
preview shows object-level diffs and a version bump updates objects in place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.schema_resources import SchemaResource, kubernetes_object
from flux.install import render_toolkit, resource_name
from flux.release import (
    InstallManifest,
    ManifestChecksumError,
    ManifestUnavailable,
    load_install_manifest,
    release_url,
)
from settings.model import ToolkitConfig

KubeObject = dict[str, Any]


def obtain_manifest(
    config: ToolkitConfig, *, offline: bool, cache_dir: Path
) -> InstallManifest | None:
    """The release manifest, or None when offline without one (only the offline plan runs so).

    Online, a missing manifest stops the run: applying a toolkit we could not read is never right."""
    try:
        return load_install_manifest(
            config.version,
            file=Path(config.manifests_file) if config.manifests_file else None,
            expected_sha256=config.manifests_sha256,
            cache_dir=cache_dir,
            allow_network=not offline,
        )
    except ManifestUnavailable as error:
        if offline:
            return None
        raise pulumi.RunError(str(error)) from None
    except (ManifestChecksumError, OSError) as error:
        raise pulumi.RunError(f"Flux {config.version} manifest: {error}") from None


@dataclass(frozen=True)
class ToolkitArgs:
    config: ToolkitConfig
    manifest: InstallManifest | None
    kubernetes_provider: k8s.Provider
    # Nodes must exist before controllers can run, and must outlive them on destroy so that
    # finalizers are served.
    depends_on: Sequence[pulumi.Resource]


class Toolkit(pulumi.ComponentResource):
    namespace: str
    namespaces: list[SchemaResource]
    crds: list[SchemaResource]
    controllers: list[SchemaResource]
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

        def declare(obj: KubeObject, depends_on: Sequence[pulumi.Resource]) -> SchemaResource:
            return kubernetes_object(
                resource_name(obj),
                obj,
                pulumi.ResourceOptions.merge(
                    base, pulumi.ResourceOptions(depends_on=list(depends_on))
                ),
            )

        namespaces = [
            declare(obj, args.depends_on) for obj in objects if obj["kind"] == "Namespace"
        ]
        self.namespaces = namespaces
        supporting: list[SchemaResource] = list(namespaces)
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
