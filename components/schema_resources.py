"""Resources declared by their Pulumi type token, with inputs named as in the provider's schema.

Why not the SDKs' typed classes: a typed class whose inputs or outputs nest loads its whole SDK
package on import. For this program that was all 185 modules of `pulumi_aws.ec2` (RouteTable,
NatGateway, LaunchTemplate), `pulumi_aws.eks` and `.iam`: time of every preview, update and plan
spent on classes the program never uses (docs/performance.md). Declared by token, a resource
registers exactly what its typed class would: the same type, the same inputs. Providers, the TLS
key, the GitHub resources and the Kubernetes objects the program writes keep their typed classes;
the objects of the Flux install manifest are data and registered by token in components/toolkit.py.

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


def aws_type_token(module: str, resource: str) -> str:
    """The AWS provider's token for a resource: `aws_type_token("ec2", "RouteTable")` is
    `aws:ec2/routeTable:RouteTable`."""
    return f"aws:{module}/{resource[0].lower()}{resource[1:]}:{resource}"


def aws_resource(
    module: str,
    resource: str,
    name: str,
    inputs: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    outputs: Sequence[str] = (),
) -> SchemaResource:
    return SchemaResource(aws_type_token(module, resource), name, inputs, opts, outputs=outputs)
