"""Credentials the synced applications read, created by Pulumi from secret stack config so that no
credential is ever committed to the gitops tree. They live in the toolkit namespace, beside the
HelmReleases that consume them through `valuesFrom`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.outputs import secret
from components.schema_resources import SchemaResource, opaque_secret

# Secret names the gitops tree refers to (gitops/base/sumologic).
SUMOLOGIC_SECRET = "sumologic-credentials"


@dataclass(frozen=True)
class AppCredentialsArgs:
    namespace: str
    secrets: Mapping[str, Mapping[str, pulumi.Output[str]]]
    """Secret name -> key -> value; every value a Pulumi secret."""
    kubernetes_provider: k8s.Provider
    depends_on: Sequence[pulumi.Resource]


class AppCredentials(pulumi.ComponentResource):
    secrets: list[SchemaResource]

    def __init__(
        self, name: str, args: AppCredentialsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:credentials:AppCredentials", name, None, opts)
        self.secrets = [
            opaque_secret(
                secret_name,
                metadata={"name": secret_name, "namespace": args.namespace},
                string_data=secret(pulumi.Output.all(**values)),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=args.kubernetes_provider,
                    depends_on=list(args.depends_on),
                ),
            )
            for secret_name, values in sorted(args.secrets.items())
        ]
        self.register_outputs({"secretNames": sorted(args.secrets)})
