"""Resources declared by their Pulumi type token, with inputs named as in the provider's schema.

Why not the SDKs' typed classes: a typed class whose inputs or outputs nest loads its whole SDK
package on import; for any Kubernetes kind that is the 1.3 MB `pulumi_kubernetes.core.v1._inputs`
and its kin, spent on classes the program never uses (docs/performance.md). Declared by token, a
resource registers exactly what its typed class would: the same type, the same inputs. AWS
resources use their typed classes again, so that mypy checks their arguments; so do providers, the
TLS key and the GitHub resources.

What keeps the names honest: tests/test_schema_resources.py checks every input of every resource
declared here, in every stack, against the typed SDK class for its token, and checks that the
typed class registers the same type and inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi


class SchemaResource(pulumi.CustomResource):
    """A provider resource registered by type token; inputs use the provider's (camelCase) names."""

    type_token: str

    def __init__(
        self,
        type_token: str,
        name: str,
        inputs: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
        *,
        outputs: Sequence[str] = (),
    ) -> None:
        # The SDK gives a resource an Output attribute for each property it registers; properties
        # the provider computes are registered as None so that they get one too.
        super().__init__(type_token, name, {**dict.fromkeys(outputs), **inputs}, opts)
        self.type_token = type_token

    def output(self, property_name: str) -> pulumi.Output[Any]:
        value = self.__dict__.get(property_name)
        if not isinstance(value, pulumi.Output):
            raise AttributeError(
                f"{self.type_token} has no input or declared output {property_name!r}"
            )
        return value


def kubernetes_type_token(api_version: str, kind: str) -> str:
    """The Kubernetes provider's token for a kind: the core group is spelled `core`."""
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{kind}"


def kubernetes_object(
    name: str, obj: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None
) -> SchemaResource:
    """A Kubernetes object applied as written; `status` belongs to the cluster, not to us."""
    return SchemaResource(
        kubernetes_type_token(str(obj["apiVersion"]), str(obj["kind"])),
        name,
        {key: value for key, value in obj.items() if key != "status"},
        opts,
    )


def opaque_secret(
    name: str,
    *,
    metadata: Mapping[str, str],
    string_data: pulumi.Output[Any],
    opts: pulumi.ResourceOptions,
) -> SchemaResource:
    """An Opaque Secret whose data stays secret in its outputs too, as the SDK's Secret class has it."""
    return kubernetes_object(
        name,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": dict(metadata),
            "type": "Opaque",
            "stringData": string_data,
        },
        pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"])
        ),
    )
