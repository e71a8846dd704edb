"""The stack settings as the components see them: frozen dataclasses, and the names and limits the
parser checks them against. Nothing here reads configuration; `settings.parse` builds these from
raw values and `settings.load` from the running stack."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import pulumi

PROJECT: Final = "eks-gitops"

# EKS versions in standard or extended support on 2026-11-25 (the EKS "Kubernetes version lifecycle"
# page): 1.34-1.36 standard, 1.32-1.33 extended. 1.31 leaves extended support on 2026-11-26.
SUPPORTED_KUBERNETES_VERSIONS: Final = ("1.32", "1.33", "1.34", "1.35", "1.36")

# No region has more than six availability zones; the VPC address plan (blueprints/network.py) cuts
# room for six and keeps blocks spare.
MAX_ZONES: Final = 6

CONTROL_PLANE_LOG_TYPES: Final = ("api", "audit", "authenticator", "controllerManager", "scheduler")
DEPLOY_KEY_ALGORITHMS: Final = ("ecdsa-p384", "ecdsa-p256", "ed25519", "rsa-4096")
CAPACITY_TYPES: Final = ("ON_DEMAND", "SPOT")
AMI_TYPES: Final = (
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64",
)
# The EKS add-ons every cluster runs, each at a version the stack file pins.
# The agent that hands EKS Pod Identity credentials to pods (Flux's KMS and ECR roles) is one of them.
POD_IDENTITY_ADDON: Final = "eks-pod-identity-agent"
EKS_ADDONS: Final = ("vpc-cni", "kube-proxy", "coredns", "aws-ebs-csi-driver", POD_IDENTITY_ADDON)

# The Flux controllers a stack may install (`toolkit.components`), as the release labels them.
REQUIRED_FLUX_COMPONENTS: Final = ("source-controller", "kustomize-controller")
DEFAULT_FLUX_COMPONENTS: Final = (
    *REQUIRED_FLUX_COMPONENTS,
    "helm-controller",
    "notification-controller",
)
KNOWN_FLUX_COMPONENTS: Final = (
    *DEFAULT_FLUX_COMPONENTS,
    "image-reflector-controller",
    "image-automation-controller",
    "source-watcher",
)


def default_cluster_name(stack: str) -> str:
    return f"{PROJECT}-{stack}"


# How much of a wrong value an error shows.
_SHOWN_LENGTH: Final = 80


class ConfigError(pulumi.RunError):
    """A stack setting is missing or wrong. `pulumi.RunError` makes Pulumi print the message alone,
    without a traceback; the message names the key, the value and what is expected."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key = key
        shown = "(missing)" if value is MISSING else json.dumps(value, default=str)
        if len(shown) > _SHOWN_LENGTH:
            # A pasted certificate or a runaway list would bury the key and the fix.
            shown = f"{shown[:_SHOWN_LENGTH]}... ({len(shown)} characters)"
        super().__init__(f"config error: {key} = {shown}: expected {expected}")


class Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Final = Missing()


@dataclass(frozen=True)
class ExistingNetwork:
    vpc_id: str
    private_subnet_ids: tuple[str, ...]
    public_subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class NetworkConfig:
    vpc_cidr: str
    availability_zones: tuple[str, ...]
    """Zone names from the stack file, in subnet order; empty with an existing network."""
    single_nat_gateway: bool
    existing: ExistingNetwork | None


@dataclass(frozen=True)
class NodeGroupConfig:
    instance_types: tuple[str, ...]
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gib: int
    capacity_type: str
    ami_type: str
    metadata_hop_limit: int


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    kubernetes_version: str
    endpoint_public_access: bool
    public_access_cidrs: tuple[str, ...]
    log_types: tuple[str, ...]
    protect: bool
    admin_role_arns: tuple[str, ...]
    nodes: NodeGroupConfig
    deployer_role_arn: str
    """The role `pulumi up` runs as (CI's), granted cluster-admin whoever actually runs the program."""
    private_access_cidrs: tuple[str, ...]
    private_access_security_group_ids: tuple[str, ...]
    """Where a runner inside the VPC (or a network routed into it) reaches the private endpoint from."""
    addons: Mapping[str, str]
    """EKS add-on name (one of EKS_ADDONS) -> pinned add-on version."""


@dataclass(frozen=True)
class GitHubConfig:
    owner: str
    repository: str
    host: str
    create_repository: bool
    visibility: str
    known_hosts: tuple[str, ...]
    ssh_host: str
    ssh_port: int

    @property
    def api_url(self) -> str | None:
        """GitHub Enterprise Server's REST API; None lets the provider use api.github.com."""
        return None if self.host == "github.com" else f"https://{self.host}/api/v3/"

    @property
    def web_url(self) -> str:
        """The repository on the web, `https://HOST/OWNER/REPO`."""
        return f"https://{self.host}/{self.owner}/{self.repository}"

    @property
    def ssh_authority(self) -> str:
        """The SSH server in a URL: `host`, or `host:port` off port 22."""
        return self.ssh_host if self.ssh_port == 22 else f"{self.ssh_host}:{self.ssh_port}"

    @property
    def known_hosts_name(self) -> str:
        """The SSH server as known_hosts names it: `host`, or `[host]:port` off port 22."""
        return self.ssh_host if self.ssh_port == 22 else f"[{self.ssh_host}]:{self.ssh_port}"


@dataclass(frozen=True)
class ToolkitConfig:
    namespace: str
    version: str
    components: tuple[str, ...]
    manifests_file: str | None
    manifests_sha256: str | None


@dataclass(frozen=True)
class DeployKeyConfig:
    algorithm: str
    read_write: bool
    generation: int


@dataclass(frozen=True)
class SyncConfig:
    branch: str
    path: str
    interval: str
    kustomization_interval: str
    ready_timeout_seconds: int
    # The bootstrap Kustomization's `spec.timeout`: how long Flux waits for the tree to become
    # healthy, and on delete for what it applied to be gone.
    timeout: str


@dataclass(frozen=True)
class PolicyConfig:
    relax: tuple[str, ...]


@dataclass(frozen=True)
class WebhookConfig:
    """GitHub's push webhook to Flux's Receiver, so a push syncs at once instead of at the next poll."""

    enabled: bool
    hostname: str | None
    """A DNS name for the receiver: served by the NLB with `certificate_arn`, else by an existing
    ingress that routes it to the toolkit's `webhook-receiver` Service."""
    certificate_arn: str | None


@dataclass(frozen=True)
class GitHubAppConfig:
    app_id: int
    installation_id: int


# Secret stack settings holding the commit-status credential: a token, or a GitHub App's key.
GITHUB_STATUS_TOKEN_KEY: Final = "githubStatusToken"
GITHUB_APP_PRIVATE_KEY_KEY: Final = "githubAppPrivateKey"


@dataclass(frozen=True)
class NotificationsConfig:
    commit_statuses: bool
    github_app: GitHubAppConfig | None
    """Post statuses as this GitHub App; None posts them with the token `githubStatusToken`."""

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The secret settings these notifications need (none when statuses are off)."""
        if not self.commit_statuses:
            return ()
        return (GITHUB_APP_PRIVATE_KEY_KEY if self.github_app else GITHUB_STATUS_TOKEN_KEY,)


@dataclass(frozen=True)
class AppSecretConfig:
    """One Kubernetes Secret the synced applications read (`appSecrets`), filled from secret
    stack settings so that no credential is ever committed to the gitops tree."""

    name: str
    namespace: str
    keys: Mapping[str, str]
    """Secret data key -> the secret stack setting (in the project namespace) holding its value."""


@dataclass(frozen=True)
class SopsConfig:
    """`secrets.sops`: a KMS key kustomize-controller decrypts SOPS-encrypted Secrets with."""

    enabled: bool
    key_arn: str | None
    """An existing key's ARN; None has the stack create one, with the alias `sops_alias`."""


def sops_alias(cluster_name: str) -> str:
    """The alias of the SOPS key a stack creates, beside the cluster's `alias/<name>-secrets`."""
    return f"alias/{cluster_name}-sops"


@dataclass(frozen=True)
class EcrConfig:
    """`ecr`: whether source-controller may read the account's ECR repositories."""

    enabled: bool


@dataclass(frozen=True)
class StackConfig:
    stack: str
    environment: str
    is_production: bool
    """The environment's `production` in environments.yaml: the production rules apply."""
    region: str
    network: NetworkConfig
    cluster: ClusterConfig
    github: GitHubConfig
    toolkit: ToolkitConfig
    deploy_key: DeployKeyConfig
    sync: SyncConfig
    policy: PolicyConfig
    webhook: WebhookConfig
    notifications: NotificationsConfig
    app_secrets: tuple[AppSecretConfig, ...]
    sops: SopsConfig
    ecr: EcrConfig
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def sops_key_reference(self) -> str | None:
        """The KMS key `.sops.yaml` names for this stack (None without SOPS): an existing key's ARN,
        or the ARN of the alias the stack gives the key it creates. The alias ARN is known before
        `pulumi up` (region, the deployer role's account, the cluster name); the key's is not."""
        if not self.sops.enabled:
            return None
        if self.sops.key_arn is not None:
            return self.sops.key_arn
        _, partition, _, _, account, _ = self.cluster.deployer_role_arn.split(":", 5)
        return f"arn:{partition}:kms:{self.region}:{account}:{sops_alias(self.cluster.name)}"

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The secret settings this stack needs; any other one set is a leftover and refused."""
        named = (key for secret in self.app_secrets for key in secret.keys.values())
        return tuple(dict.fromkeys((*named, *self.notifications.secret_keys)))


# Secret stack settings the program itself knows: set with `pulumi config set --secret`, never
# written in a stack file in clear. The application secrets' keys are named by `appSecrets`.
NOTIFICATION_SECRET_KEYS: Final = (GITHUB_STATUS_TOKEN_KEY, GITHUB_APP_PRIVATE_KEY_KEY)
APP_SECRETS_KEY: Final = f"{PROJECT}:appSecrets"

# The Flux install manifest: a local copy instead of the download, and the SHA-256 it must have.
MANIFESTS_FILE_KEY: Final = f"{PROJECT}:toolkit.manifestsFile"
MANIFESTS_SHA256_KEY: Final = f"{PROJECT}:toolkit.manifestsSha256"

# Every top-level key the program understands; anything else under the project namespace is a typo.
KNOWN_KEYS: Final = (
    "environment",
    "network",
    "cluster",
    "github",
    "toolkit",
    "deployKey",
    "sync",
    "policy",
    "webhook",
    "notifications",
    "appSecrets",
    "secrets",
    "ecr",
    *NOTIFICATION_SECRET_KEYS,
)


@dataclass(frozen=True)
class SecretSettings:
    """Credentials from secret stack config, kept as Pulumi secrets end to end."""

    app_secrets: Mapping[str, Mapping[str, pulumi.Output[str]]]
    """Secret name -> data key -> value, for each entry of `appSecrets`."""
    commit_status_credential: pulumi.Output[str] | None
    """The token or the GitHub App's private key, whichever `notifications` uses; None when off."""


@dataclass(frozen=True)
class LoadedConfig:
    settings: StackConfig
    secrets: SecretSettings
