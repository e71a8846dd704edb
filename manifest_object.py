"""The resource class for the objects of an upstream release manifest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from flux.install import kubernetes_type_token


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
