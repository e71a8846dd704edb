"""The SSH identity Flux pulls with: a TLS key pair, its public half registered as a deploy key on the
repository, and the Kubernetes Secret source-controller reads (`identity`, `identity.pub`,
`known_hosts`).

Rotation is one config value: `deployKey.generation` is part of the resource names, so raising it
declares a new key and deploy key, rewrites the Secret in place, and only then, at the end of the
update, deletes the old deploy key. Flux never holds a key GitHub has already dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_github as github
import pulumi_tls as tls
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1
from pulumi_kubernetes.provider import Provider

from blueprints.deploy_key import KEY_ALGORITHMS, OPENSSH_FORMAT_ALGORITHMS, known_hosts
from settings.model import DeployKeyConfig, GitHubConfig


@dataclass(frozen=True)
class DeployKeyArgs:
    config: DeployKeyConfig
    github: GitHubConfig
    repository: pulumi.Input[str]
    title: str
    namespace: str
    github_provider: pulumi.ProviderResource
    tls_provider: pulumi.ProviderResource
    kubernetes_provider: Provider
    # The namespace the Secret lives in has to exist first.
    depends_on: Sequence[pulumi.Resource]


class DeployKey(pulumi.ComponentResource):
    public_key: pulumi.Output[str]
    deploy_key: github.RepositoryDeployKey
    secret: core_v1.Secret

    def __init__(
        self, name: str, args: DeployKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:deploykey:DeployKey", name, None, opts)
        generation = f"{name}-{args.config.generation}"
        key = tls.PrivateKey(
            generation,
            **KEY_ALGORITHMS[args.config.algorithm],  # type: ignore[arg-type]
            opts=pulumi.ResourceOptions(parent=self, provider=args.tls_provider),
        )
        self.deploy_key = github.RepositoryDeployKey(
            generation,
            repository=args.repository,
            title=args.title,
            key=key.public_key_openssh.apply(str.strip),
            read_only=not args.config.read_write,
            opts=pulumi.ResourceOptions(parent=self, provider=args.github_provider),
        )
        host_keys = (
            list(args.github.known_hosts)
            if args.github.known_hosts
            else github.get_ssh_keys(
                opts=pulumi.InvokeOptions(parent=self, provider=args.github_provider)
            ).keys
        )
        identity = (
            key.private_key_openssh
            if args.config.algorithm in OPENSSH_FORMAT_ALGORITHMS
            else key.private_key_pem_pkcs8
        )
        # The SDK's Secret marks all of `stringData` secret, the public key and known_hosts too;
        # the plan still names the keys.
        self.secret = core_v1.Secret(
            name,
            # Named after its namespace, as `flux bootstrap` names the Secret it writes.
            metadata=meta_v1.ObjectMetaArgs(name=args.namespace, namespace=args.namespace),
            type="Opaque",
            string_data={
                "identity": identity,
                "identity.pub": key.public_key_openssh,
                "known_hosts": known_hosts(args.github.known_hosts_name, host_keys),
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.kubernetes_provider,
                # The Secret changes to the new key only once GitHub accepts it.
                depends_on=[*args.depends_on, self.deploy_key],
            ),
        )
        self.public_key = key.public_key_openssh
        self.secret_name: pulumi.Output[str] = self.secret.metadata.apply(
            lambda metadata: str(metadata.name)
        )
        self.register_outputs({"publicKey": self.public_key, "deployKeyId": self.deploy_key.id})
