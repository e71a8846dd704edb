"""The SSH identity Flux pulls with: a TLS key pair, its public half registered as a deploy key on the
repository, and the Kubernetes Secret source-controller reads (`identity`, `identity.pub`,
`known_hosts`).

GitHub cannot change a deploy key: every field of one forces its replacement, and GitHub refuses a
public key that is already registered ("key is already in use"), so a replacement can neither keep
the key nor add the new deploy key before the old one is gone. Instead, everything that would
replace the deploy key (`deployKey.generation`, the title with `sync.branch` and `sync.path`,
`deployKey.readWrite`, the repository, the key algorithm) is part of the key pair's and deploy key's
resource names: a change declares a new key pair and deploy key, rewrites the Secret in place, and
only then, at the end of the update, deletes the old deploy key. Flux never holds a key GitHub has
already dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_github as github
import pulumi_tls as tls
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1

from eks_gitops.settings.model import DeployKeyConfig, GitHubConfig

# tls.PrivateKey arguments per configured algorithm. ECDSA P-384 is what `flux bootstrap` generates.
KEY_ALGORITHMS: dict[str, dict[str, str | int]] = {
    "ecdsa-p384": {"algorithm": "ECDSA", "ecdsa_curve": "P384"},
    "ecdsa-p256": {"algorithm": "ECDSA", "ecdsa_curve": "P256"},
    "ed25519": {"algorithm": "ED25519"},
    "rsa-4096": {"algorithm": "RSA", "rsa_bits": 4096},
}

# source-controller (Go's x/crypto/ssh) reads an `identity` in PKCS#8 PEM and in OpenSSH format alike;
# OpenSSH reads PKCS#8 for RSA and ECDSA but rejects it for Ed25519 ("invalid format"). Keys of these
# algorithms go in OpenSSH format so the Secret also works with `ssh -i`; the others stay PKCS#8, as
# bootstrap writes them.
OPENSSH_FORMAT_ALGORITHMS = frozenset({"ed25519"})


def known_hosts(host: str, keys: Sequence[str]) -> str:
    """One `HOST TYPE KEY` line per host key (never several keys on a line: Flux 2.6.1 misread those)."""
    lines = []
    for key in keys:
        parts = key.split()
        if len(parts) < 2:
            raise ValueError(f"host key {key!r} is not 'TYPE BASE64'")
        lines.append(f"{host} {parts[0]} {parts[1]}")
    if not lines:
        raise ValueError(f"no SSH host keys for {host}")
    return "\n".join(lines) + "\n"


def deploy_key_title(
    cluster_name: str, namespace: str, branch: str, path: str, generation: int
) -> str:
    """Says which cluster a key belongs to; shaped like bootstrap's `<ns>-<branch>-<secret>-<path>`."""
    return f"{cluster_name}: {namespace}-{branch}-{namespace}-./{path} (key {generation})"


def key_resource_name(
    name: str, *, generation: int, title: str, read_only: bool, repository: str, algorithm: str
) -> str:
    """The name of the key pair and deploy key: `name-generation-digest`, the digest over every
    other input that replaces a deploy key (integrations/terraform-provider-github
    github/resource_github_repository_deploy_key.go: title, read_only, repository and key are all
    ForceNew; the key follows the algorithm). A change of any of them names a new key pair."""
    replaced_on = {
        "title": title,
        "readOnly": read_only,
        "repository": repository,
        "algorithm": algorithm,
    }
    digest = hashlib.sha256(json.dumps(replaced_on, sort_keys=True).encode()).hexdigest()[:8]
    return f"{name}-{generation}-{digest}"


@dataclass(frozen=True)
class DeployKeyArgs:
    config: DeployKeyConfig
    github: GitHubConfig
    repository: pulumi.Input[str]
    title: str
    namespace: str
    """The toolkit namespace: the Secret lives there (declare the component after it exists)."""


class DeployKey(pulumi.ComponentResource):
    TYPE_TOKEN: ClassVar[str] = "eks-gitops:deploykey:DeployKey"

    public_key: pulumi.Output[str]
    deploy_key: github.RepositoryDeployKey
    secret: core_v1.Secret

    def __init__(
        self, name: str, args: DeployKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        read_only = not args.config.read_write
        key_name = key_resource_name(
            name,
            generation=args.config.generation,
            title=args.title,
            read_only=read_only,
            repository=f"{args.github.owner}/{args.github.repository}",
            algorithm=args.config.algorithm,
        )
        # The names before they carried the digest: a stack created then adopts its key pair and
        # deploy key under the new names instead of replacing them.
        named = pulumi.ResourceOptions(
            parent=self, aliases=[pulumi.Alias(name=f"{name}-{args.config.generation}")]
        )
        key = tls.PrivateKey(
            key_name,
            **KEY_ALGORITHMS[args.config.algorithm],  # type: ignore[arg-type]
            opts=named,
        )
        self.deploy_key = github.RepositoryDeployKey(
            key_name,
            repository=args.repository,
            title=args.title,
            key=key.public_key_openssh.apply(str.strip),
            read_only=read_only,
            opts=named,
        )
        host_keys = (
            list(args.github.known_hosts)
            if args.github.known_hosts
            else github.get_ssh_keys(opts=pulumi.InvokeOptions(parent=self)).keys
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
            # The Secret changes to the new key only once GitHub accepts it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.deploy_key]),
        )
        self.public_key = key.public_key_openssh
        self.secret_name: pulumi.Output[str] = self.secret.metadata.apply(
            lambda metadata: str(metadata.name)
        )
        self.register_outputs({"publicKey": self.public_key, "deployKeyId": self.deploy_key.id})
