"""The per-type output table: what `RecordingMocks` answers for each resource type and invoke the
program declares, shaped like the real providers' outputs (ids, ARNs, endpoints, a CA certificate,
real key material, GitHub's SSH host keys). Every value derives from the stack, type and name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

from eks_gitops.flux import instance
from eks_gitops.flux.install import kubernetes_type_token
from eks_gitops.flux.kinds import api_version
from tools.offline.keys import cluster_ca_certificate, digest, hex_digest, tls_private_key_outputs
from tools.offline.wire import SECRET_SIG, SECRET_SIG_KEY, string_leaves, unwrap

ACCOUNT_ID = "123456789012"

# GitHub's published SSH host keys (https://api.github.com/meta, "ssh_keys"), what
# github.get_ssh_keys returns for github.com since the RSA key rotation of March 2023.
GITHUB_SSH_KEYS = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=",
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=",
)


# What the mock's EKS API reports about Kubernetes versions (DescribeClusterVersions): THE MOCK'S OWN
# DATA, a calendar as of 2026-12-06 shaped like EKS's (14 months of standard support from release,
# then 12 of extended), not read from AWS. 1.31 is past extended support, 1.32 to 1.34 are in
# extended support (1.34 since 2026-12-02), 1.35 and 1.36 in standard support; 1.35 is the default.
MOCK_VERSIONS_AS_OF = "2026-12-06"
# version -> (status, release date, end of standard support, end of extended support)
MOCK_CLUSTER_VERSIONS: dict[str, tuple[str, str, str, str]] = {
    "1.31": ("UNSUPPORTED", "2024-09-26", "2025-11-26", "2026-11-26"),
    "1.32": ("EXTENDED_SUPPORT", "2025-01-23", "2026-03-23", "2027-03-23"),
    "1.33": ("EXTENDED_SUPPORT", "2025-05-29", "2026-07-29", "2027-07-29"),
    "1.34": ("EXTENDED_SUPPORT", "2025-10-02", "2026-12-02", "2027-12-02"),
    "1.35": ("STANDARD_SUPPORT", "2026-01-27", "2027-03-27", "2028-03-27"),
    "1.36": ("STANDARD_SUPPORT", "2026-05-20", "2027-07-20", "2028-07-20"),
}
MOCK_DEFAULT_KUBERNETES_VERSION = "1.35"
# What the mock's EKS API reports about add-on versions per Kubernetes version
# (DescribeAddonVersions): THE MOCK'S OWN DATA as of MOCK_VERSIONS_AS_OF, not read from AWS.
# Kubernetes version -> add-on -> (the default version, the most recent version).
MOCK_ADDON_VERSIONS: dict[str, dict[str, tuple[str, str]]] = {
    "1.33": {
        "vpc-cni": ("v1.19.6-eksbuild.1", "v1.21.1-eksbuild.3"),
        "kube-proxy": ("v1.33.3-eksbuild.4", "v1.33.5-eksbuild.2"),
        "coredns": ("v1.12.1-eksbuild.2", "v1.12.4-eksbuild.1"),
        "aws-ebs-csi-driver": ("v1.48.0-eksbuild.1", "v1.55.0-eksbuild.1"),
        "eks-pod-identity-agent": ("v1.3.8-eksbuild.2", "v1.3.10-eksbuild.2"),
    },
    "1.34": {
        "vpc-cni": ("v1.20.4-eksbuild.2", "v1.21.1-eksbuild.3"),
        "kube-proxy": ("v1.34.0-eksbuild.2", "v1.34.3-eksbuild.1"),
        "coredns": ("v1.12.3-eksbuild.1", "v1.12.4-eksbuild.1"),
        "aws-ebs-csi-driver": ("v1.54.0-eksbuild.1", "v1.55.0-eksbuild.1"),
        "eks-pod-identity-agent": ("v1.3.9-eksbuild.3", "v1.3.10-eksbuild.2"),
    },
    "1.35": {
        "vpc-cni": ("v1.21.1-eksbuild.3", "v1.21.1-eksbuild.5"),
        "kube-proxy": ("v1.35.0-eksbuild.2", "v1.35.1-eksbuild.1"),
        "coredns": ("v1.13.2-eksbuild.1", "v1.13.2-eksbuild.3"),
        "aws-ebs-csi-driver": ("v1.55.0-eksbuild.1", "v1.56.0-eksbuild.1"),
        "eks-pod-identity-agent": ("v1.3.10-eksbuild.2", "v1.3.10-eksbuild.2"),
    },
    "1.36": {
        "vpc-cni": ("v1.21.1-eksbuild.5", "v1.22.0-eksbuild.1"),
        "kube-proxy": ("v1.36.0-eksbuild.1", "v1.36.0-eksbuild.3"),
        "coredns": ("v1.13.2-eksbuild.3", "v1.14.0-eksbuild.1"),
        "aws-ebs-csi-driver": ("v1.56.0-eksbuild.1", "v1.56.0-eksbuild.1"),
        "eks-pod-identity-agent": ("v1.3.10-eksbuild.2", "v1.3.10-eksbuild.2"),
    },
}


def _rfc3339(day: str) -> str:
    # The provider reports the API's timestamps as RFC 3339 strings (terraform-provider-aws
    # internal/service/eks/cluster_versions_data_source.go, timetypes.RFC3339).
    return f"{day}T00:00:00Z"


def cluster_versions_result(args: dict[str, Any], region: str) -> dict[str, Any]:
    """aws.eks.get_cluster_versions: DescribeClusterVersions over the mock's calendar. Like the
    API, versions past extended support are listed only with includeAll."""
    only = args.get("clusterVersionsOnlies") or list(MOCK_CLUSTER_VERSIONS)
    status_filter = args.get("versionStatus")
    versions = []
    for version in only:
        if version not in MOCK_CLUSTER_VERSIONS:
            continue
        status, released, standard_end, extended_end = MOCK_CLUSTER_VERSIONS[version]
        if status == "UNSUPPORTED" and not args.get("includeAll"):
            continue
        if status_filter and status != status_filter:
            continue
        default = version == MOCK_DEFAULT_KUBERNETES_VERSION
        if args.get("defaultOnly") and not default:
            continue
        versions.append(
            {
                "clusterType": "eks",
                "clusterVersion": version,
                "controlPlaneComponentConfigs": [],
                "controlPlaneScalingTiers": [],
                "defaultPlatformVersion": "eks.12",
                "defaultVersion": default,
                "endOfExtendedSupportDate": _rfc3339(extended_end),
                "endOfStandardSupportDate": _rfc3339(standard_end),
                "kubernetesPatchVersion": f"{version}.2",
                "releaseDate": _rfc3339(released),
                "versionStatus": status,
            }
        )
    return {**args, "clusterVersions": versions, "id": region, "region": region}


def addon_version_result(args: dict[str, Any], region: str) -> dict[str, Any]:
    """aws.eks.get_addon_version: the default version of an add-on on a Kubernetes version, or with
    mostRecent the newest (terraform-provider-aws internal/service/eks/addon_version_data_source.go,
    findAddonVersionByTwoPartKey). A pair the mock's EKS does not know fails, as the provider's
    empty-result error does."""
    addon, kubernetes = str(args.get("addonName")), str(args.get("kubernetesVersion"))
    known = MOCK_ADDON_VERSIONS.get(kubernetes, {}).get(addon)
    if known is None:
        raise LookupError(f"reading EKS Add-On version info ({addon}, {kubernetes}): empty result")
    default, most_recent = known
    return {
        **args,
        "id": addon,
        "region": region,
        "version": most_recent if args.get("mostRecent") else default,
    }


@dataclass(frozen=True)
class _Declared:
    """What a resource was declared with, as an output generator sees it."""

    region: str
    stack: str
    name: str
    inputs: dict[str, Any]
    token: str
    token_type: str = ""
    """The resource's type token."""

    @property
    def seed(self) -> str:
        """What generated material derives from: distinct per stack, as real clouds' values are."""
        return f"{self.stack}/{self.name}"

    @property
    def physical_name(self) -> str:
        # An explicit name wins; otherwise Pulumi auto-names: logical name plus 7 hex characters.
        return str(self.inputs.get("name") or f"{self.name}-{self.token[:7]}")

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if regional else ''}:{ACCOUNT_ID}:{resource}"


_Generated = tuple[str, dict[str, Any]]


def _prefixed_id(prefix: str, arn_kind: str | None = None) -> Callable[[_Declared], _Generated]:
    """EC2-style resources: an id like `vpc-0123...`, and an ARN where the real one has it."""

    def generate(d: _Declared) -> _Generated:
        resource_id = f"{prefix}-{d.token}"
        return resource_id, ({"arn": d.arn("ec2", f"{arn_kind}/{resource_id}")} if arn_kind else {})

    return generate


def _eip(d: _Declared) -> _Generated:
    octets = digest("eip", d.seed)
    resource_id = f"eipalloc-{d.token}"
    return resource_id, {
        "allocationId": resource_id,
        "publicIp": f"52.{octets[0]}.{octets[1]}.{octets[2] or 1}",
    }


def _launch_template(d: _Declared) -> _Generated:
    resource_id = f"lt-{d.token}"
    return resource_id, {"arn": d.arn("ec2", f"launch-template/{resource_id}"), "latestVersion": 1}


def _role(d: _Declared) -> _Generated:
    name = d.physical_name
    return name, {
        "arn": d.arn("iam", f"role/{name}", regional=False),
        "name": name,
        "uniqueId": f"AROA{d.token.upper()}",
    }


def _managed_policy(d: _Declared) -> _Generated:
    arn = d.arn("iam", f"policy/{d.physical_name}", regional=False)
    return arn, {"arn": arn, "policyId": f"ANPA{d.token.upper()}"}


def _uuid(d: _Declared, salt: str) -> str:
    return "-".join(
        (
            d.token[:8],
            *(hex_digest(f"{salt}{i}", d.seed, length=n) for i, n in enumerate((4, 4, 4, 12))),
        )
    )


def _kms_key(d: _Declared) -> _Generated:
    key_id = _uuid(d, "k")
    return key_id, {"arn": d.arn("kms", f"key/{key_id}"), "keyId": key_id}


def _kms_alias(d: _Declared) -> _Generated:
    alias = str(d.inputs.get("name", f"alias/{d.name}"))
    return alias, {"arn": d.arn("kms", alias)}


def _eks_cluster(d: _Declared) -> _Generated:
    hex_id = hex_digest("eks", d.seed, length=32).upper()
    name = d.physical_name
    return name, {
        "arn": d.arn("eks", f"cluster/{name}"),
        "endpoint": f"https://{hex_id}.gr7.{d.region}.eks.amazonaws.com",
        "certificateAuthority": {"data": cluster_ca_certificate(d.seed)},
        "identities": [
            {"oidcs": [{"issuer": f"https://oidc.eks.{d.region}.amazonaws.com/id/{hex_id}"}]}
        ],
        "platformVersion": "eks.12",
        "status": "ACTIVE",
        "clusterId": hex_digest("cid", d.seed, length=32),
        "vpcConfig": {
            **d.inputs.get("vpcConfig", {}),
            "clusterSecurityGroupId": f"sg-{hex_digest('csg', d.seed)}",
            "vpcId": f"vpc-{hex_digest('cvpc', d.seed)}",
        },
    }


def _node_group(d: _Declared) -> _Generated:
    cluster = d.inputs.get("clusterName", "cluster")
    name = f"{d.inputs.get('nodeGroupNamePrefix', d.name + '-')}{d.token[:26]}"
    return f"{cluster}:{name}", {
        "arn": d.arn("eks", f"nodegroup/{cluster}/{name}/{d.token[:8]}"),
        "status": "ACTIVE",
        "nodeGroupName": name,
    }


def _addon(d: _Declared) -> _Generated:
    cluster = d.inputs.get("clusterName", "cluster")
    addon = d.inputs.get("addonName", d.name)
    # EKS ends an add-on's ARN with a UUID of its own; the id is `cluster:addon`.
    return f"{cluster}:{addon}", {"arn": d.arn("eks", f"addon/{cluster}/{addon}/{_uuid(d, 'a')}")}


def _log_group(d: _Declared) -> _Generated:
    # The provider's arn for a log group leaves out the ":*" the CloudWatch Logs API appends.
    name = d.physical_name
    return name, {"arn": d.arn("logs", f"log-group:{name}")}


def _oidc_provider(d: _Declared) -> _Generated:
    issuer = str(d.inputs.get("url", "")).removeprefix("https://")
    arn = d.arn("iam", f"oidc-provider/{issuer}", regional=False)
    return arn, {"arn": arn}


def _access_entry(d: _Declared) -> _Generated:
    cluster = d.inputs.get("clusterName")
    return f"{cluster}:{d.inputs.get('principalArn')}", {
        "accessEntryArn": d.arn("eks", f"access-entry/{cluster}/{d.token[:8]}")
    }


def _pod_identity_association(d: _Declared) -> _Generated:
    # EKS names an association `a-` and 17 lowercase letters and digits; the provider's id is
    # `cluster,association-id` (aws eks create-pod-identity-association; pulumi import syntax).
    cluster = d.inputs.get("clusterName", "cluster")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    association_id = "a-" + "".join(
        alphabet[byte % len(alphabet)] for byte in digest("pia", d.seed)[:17]
    )
    return f"{cluster},{association_id}", {
        "associationArn": d.arn("eks", f"podidentityassociation/{cluster}/{association_id}"),
        "associationId": association_id,
    }


def _role_policy(d: _Declared) -> _Generated:
    # An inline policy's id is `role:policy`.
    return f"{d.inputs.get('role')}:{d.physical_name}", {"name": d.physical_name}


def _tls_private_key(d: _Declared) -> _Generated:
    outputs = tls_private_key_outputs(
        d.seed,
        str(d.inputs.get("algorithm", "RSA")),
        str(d.inputs.get("ecdsaCurve", "P224")),
        int(d.inputs.get("rsaBits", 2048)),
    )
    resource_id = outputs.pop("id")
    # The provider marks the private key outputs secret; so does the mock.
    secret_outputs = ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh")
    return resource_id, {
        key: {SECRET_SIG_KEY: SECRET_SIG, "value": value} if key in secret_outputs else value
        for key, value in outputs.items()
    }


def _deploy_key(d: _Declared) -> _Generated:
    return f"{d.inputs.get('repository')}:{int(d.token[:8], 16)}", {"etag": f'W/"{d.token}"'}


def _repository(d: _Declared) -> _Generated:
    name = d.physical_name
    return name, {
        "fullName": f"owner/{name}",
        "sshCloneUrl": f"git@github.com:owner/{name}.git",
        "nodeId": f"R_{d.token}",
        "repoId": int(d.token[:6], 16),
    }


def _branch(d: _Declared) -> _Generated:
    repository, branch = d.inputs.get("repository"), d.inputs.get("branch")
    # The provider reads the source branch's head as source_sha; the new branch points at it.
    head = hex_digest("head", d.seed, length=40)
    return f"{repository}:{branch}", {
        "ref": f"refs/heads/{branch}",
        "sha": head,
        "sourceSha": head,
        "etag": f'W/"{d.token}"',
    }


def _repository_file(d: _Declared) -> _Generated:
    # The id is `<repository>/<file>`; `ref` is the branch the file was read from.
    return f"{d.inputs.get('repository')}/{d.inputs.get('file')}", {
        "commitSha": hex_digest("commit", d.seed, length=40),
        "sha": hex_digest("blob", d.seed, length=40),
        "ref": d.inputs.get("branch", "main"),
    }


def _kubernetes_object(d: _Declared) -> _Generated:
    metadata = dict(d.inputs.get("metadata") or {})
    metadata.setdefault("name", d.name)
    metadata["uid"] = "-".join(
        (
            d.token[:8],
            d.token[8:12],
            "4" + d.token[12:15],
            "8" + hex_digest("u", d.seed, length=3),
            hex_digest("u2", d.seed, length=12),
        )
    )
    return "/".join(filter(None, (metadata.get("namespace"), metadata["name"]))), {
        "metadata": metadata
    }


def _kubernetes_service(d: _Declared) -> _Generated:
    resource_id, outputs = _kubernetes_object(d)
    if (d.inputs.get("spec") or {}).get("type") == "LoadBalancer":
        # The AWS cloud provider names the load balancer "a" + the Service's UID without dashes, cut
        # to 32 characters (k8s.io/cloud-provider cloud.go, DefaultLoadBalancerName); an NLB's DNS name appends a
        # hash and the region's elb domain.
        uid = str(outputs["metadata"]["uid"]).replace("-", "")
        hostname = (
            f"a{uid}"[:32] + f"-{hex_digest('nlb', d.seed, length=16)}.elb.{d.region}.amazonaws.com"
        )
        outputs["status"] = {"loadBalancer": {"ingress": [{"hostname": hostname}]}}
    return resource_id, outputs


# What the random provider's charset options choose from (pulumi_random/random_password.py, the
# `upper`, `lower`, `numeric` and `special` arguments): letters and digits, and these specials.
_SPECIAL_CHARACTERS = "!@#$%&*()-_=+[]{}<>:?"


def _random_password(d: _Declared) -> _Generated:
    alphabet = "".join(
        chars
        for option, chars in (
            ("upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            ("lower", "abcdefghijklmnopqrstuvwxyz"),
            ("numeric", "0123456789"),
            ("special", str(d.inputs.get("overrideSpecial") or _SPECIAL_CHARACTERS)),
        )
        if d.inputs.get(option, True)
    )
    length = int(d.inputs["length"])
    stream = b"".join(digest("password", d.seed, str(block)) for block in range(length // 32 + 1))
    result = "".join(alphabet[byte % len(alphabet)] for byte in stream[:length])
    # The provider's id is the literal "none"; `result` is a secret output. bcryptHash is left out:
    # nothing reads it, and no bcrypt implementation is installed to derive it honestly.
    return "none", {"result": {SECRET_SIG_KEY: SECRET_SIG, "value": result}}


def _repository_webhook(d: _Declared) -> _Generated:
    hook_id = int(d.token[:9], 16)
    return str(hook_id), {
        "url": f"https://api.github.com/repos/owner/{d.inputs.get('repository')}/hooks/{hook_id}",
        "etag": f'W/"{d.token}"',
    }


GIT_REPOSITORY = kubernetes_type_token(api_version("GitRepository"), "GitRepository")
KUSTOMIZATION = kubernetes_type_token(api_version("Kustomization"), "Kustomization")
FLUX_INSTANCE = kubernetes_type_token(instance.API_VERSION, instance.KIND)
# Flux's conditions carry a transition time; a fixed one keeps plans byte-identical.
_TRANSITION_TIME = "2026-01-01T00:00:00Z"


def _ready(reason: str, message: str) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": "True",
        "reason": reason,
        "message": message,
        "observedGeneration": 1,
        "lastTransitionTime": _TRANSITION_TIME,
    }


def _git_revision(d: _Declared) -> str:
    """The artifact revision source-controller records: `<branch>@sha1:<commit>`."""
    branch = (d.inputs.get("spec") or {}).get("ref", {}).get("branch", "main")
    return f"{branch}@sha1:{hex_digest('commit', d.seed, length=40)}"


def _flux_status(d: _Declared, sources: dict[tuple[str, str], str]) -> dict[str, Any] | None:
    """What a Ready GitRepository or Kustomization reports (the state `pulumi.com/waitFor` awaits):
    the Kustomization's applied revision is its GitRepository's artifact revision."""
    namespace = str((d.inputs.get("metadata") or {}).get("namespace", ""))
    if d.token_type == GIT_REPOSITORY:
        revision = _git_revision(d)
        sources[(namespace, str(d.inputs["metadata"]["name"]))] = revision
        return {
            "artifact": {"revision": revision, "path": f"gitrepository/{namespace}/{d.name}"},
            "conditions": [_ready("Succeeded", f"stored artifact for revision '{revision}'")],
            "observedGeneration": 1,
        }
    if d.token_type == KUSTOMIZATION:
        source = (d.inputs.get("spec") or {}).get("sourceRef", {})
        revision = sources[(str(source.get("namespace", namespace)), str(source.get("name")))]
        return {
            "lastAppliedRevision": revision,
            "lastAttemptedRevision": revision,
            "conditions": [_ready("ReconciliationSucceeded", f"Applied revision: {revision}")],
            "observedGeneration": 1,
        }
    if d.token_type == FLUX_INSTANCE:
        return _flux_instance_status(d)
    return None


def _flux_instance_status(d: _Declared) -> dict[str, Any]:
    """A Ready FluxInstance (flux-operator docs/api/v1/fluxinstance.md, "FluxInstance Status"): the
    distribution's revision `<version>@sha256:<digest>` and one entry per installed component."""
    distribution = d.inputs["spec"]["distribution"]
    tag = f"v{distribution['version']}"
    revision = f"{tag}@sha256:{hex_digest('distribution', d.seed, length=64)}"
    return {
        "conditions": [_ready("ReconciliationSucceeded", f"Reconciliation finished for {tag}")],
        "lastAppliedRevision": revision,
        "lastAttemptedRevision": revision,
        "components": [
            {
                "name": component,
                "repository": f"{distribution['registry']}/{component}",
                "tag": tag,
                "digest": f"sha256:{hex_digest(component, d.seed, length=64)}",
            }
            for component in d.inputs["spec"].get("components", [])
        ],
        "observedGeneration": 1,
    }


_OUTPUTS: dict[str, Callable[[_Declared], _Generated]] = {
    "aws:ec2/vpc:Vpc": _prefixed_id("vpc", "vpc"),
    "aws:ec2/subnet:Subnet": _prefixed_id("subnet", "subnet"),
    "aws:ec2/internetGateway:InternetGateway": _prefixed_id("igw", "internet-gateway"),
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/natGateway:NatGateway": _prefixed_id("nat"),
    "aws:ec2/routeTable:RouteTable": _prefixed_id("rtb", "route-table"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _prefixed_id("rtbassoc"),
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _prefixed_id(
        "sgr", "security-group-rule"
    ),
    "aws:iam/role:Role": _role,
    "aws:iam/policy:Policy": _managed_policy,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:eks/addon:Addon": _addon,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:eks/accessEntry:AccessEntry": _access_entry,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _pod_identity_association,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "tls:index/privateKey:PrivateKey": _tls_private_key,
    "github:index/repositoryDeployKey:RepositoryDeployKey": _deploy_key,
    "github:index/repository:Repository": _repository,
    "github:index/branch:Branch": _branch,
    "github:index/repositoryFile:RepositoryFile": _repository_file,
    "github:index/repositoryWebhook:RepositoryWebhook": _repository_webhook,
    "random:index/randomPassword:RandomPassword": _random_password,
    "kubernetes:core/v1:Service": _kubernetes_service,
}


MADE_UP_MIN_LENGTH = 8


class RecordingMocks(pulumi.runtime.Mocks):
    """Outputs shaped like the real providers' for the types this program declares; any other
    type gets an id and its inputs back, as a provider with no computed outputs would give."""

    def __init__(self, region: str, stack: str) -> None:
        self.region = region
        self.stack = stack
        # (namespace, name) of each GitRepository -> its artifact revision, for the Kustomizations.
        self.git_revisions: dict[tuple[str, str], str] = {}
        self.made_up: set[str] = set()
        """Every id and output string the mock invented (not one the resource was declared with),
        so a plan can tell a reader which values are not real."""

    def _invented(self, declared: _Declared, resource_id: str, outputs: dict[str, Any]) -> None:
        given = string_leaves(declared.inputs)
        # Short strings (`ACTIVE`, `eks.12`) would match inside genuine values by accident.
        self.made_up |= {
            leaf
            for leaf in string_leaves([resource_id, outputs]) - given
            if len(leaf) >= MADE_UP_MIN_LENGTH
        }

    def new_resource(
        self, args: pulumi_mocks.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        declared = _Declared(
            self.region,
            self.stack,
            args.name,
            unwrap(args.inputs),
            hex_digest(self.stack, args.typ, args.name),
            args.typ,
        )
        generate = _OUTPUTS.get(args.typ)
        if generate is None and args.typ.startswith("kubernetes:"):
            generate = _kubernetes_object
        if generate is None:
            resource_id = f"{args.name}-{declared.token[:8]}"
            self._invented(declared, resource_id, {})
            return resource_id, dict(args.inputs)
        resource_id, outputs = generate(declared)
        status = _flux_status(declared, self.git_revisions)
        if status is not None:
            outputs["status"] = status
        self._invented(declared, resource_id, outputs)
        return resource_id, {**args.inputs, **outputs}

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"
            return {
                "names": [f"{self.region}{letter}" for letter in letters[:3]],
                "zoneIds": [f"{self.region[:3]}{self.region[-1]}-az{i}" for i in range(1, 4)],
                "id": self.region,
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:eks/getClusterVersions:getClusterVersions":
            return cluster_versions_result(dict(args.args), self.region)
        if token == "aws:eks/getAddonVersion:getAddonVersion":
            return addon_version_result(dict(args.args), self.region)
        if token == "github:index/getSshKeys:getSshKeys":
            return {"keys": list(GITHUB_SSH_KEYS), "id": "github.com"}
        raise NotImplementedError(f"the mock engine has no answer for invoke {token}")
