"""Credentials the synced applications read, created by Pulumi from secret stack config (the stack
file's `appSecrets` names each Secret and the settings its keys come from) so that no credential is
ever committed to the gitops tree in clear. They live in the toolkit namespace, beside the
HelmReleases that consume them through `valuesFrom`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1


@dataclass(frozen=True)
class AppSecret:
    namespace: str
    values: Mapping[str, pulumi.Output[str]]
    """Data key -> value; every value a Pulumi secret."""


@dataclass(frozen=True)
class AppCredentialsArgs:
    secrets: Mapping[str, AppSecret]
    """Secret name -> its namespace and values."""


class AppCredentials(pulumi.ComponentResource):
    TYPE_TOKEN: ClassVar[str] = "eks-gitops:credentials:AppCredentials"

    secrets: list[core_v1.Secret]

    def __init__(
        self, name: str, args: AppCredentialsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        self.secrets = [
            core_v1.Secret(
                secret_name,
                metadata=meta_v1.ObjectMetaArgs(name=secret_name, namespace=secret.namespace),
                type="Opaque",
                # Every value is already a Pulumi secret, and the SDK's Secret marks all of
                # `stringData` secret as well.
                string_data=dict(secret.values),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for secret_name, secret in sorted(args.secrets.items())
        ]
        self.register_outputs({"secretNames": sorted(args.secrets)})
