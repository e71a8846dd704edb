"""Parse and validate raw stack settings (keys as in the stack file, values JSON-decoded) into
`settings.model.StackConfig`. Pure: every rule is testable without the Pulumi engine, and every
error is one `ConfigError` naming the key."""

from __future__ import annotations

import difflib
import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Final, TypeVar

import pulumi

from eks_gitops.settings.environments import ENVIRONMENTS_FILENAME, Environments, read_environments
from eks_gitops.settings.model import (
    AMI_TYPES,
    APP_SECRETS_KEY,
    CAPACITY_TYPES,
    CONTROL_PLANE_LOG_TYPES,
    DEFAULT_FLUX_COMPONENTS,
    DEPLOY_KEY_ALGORITHMS,
    EKS_ADDONS,
    KNOWN_FLUX_COMPONENTS,
    KNOWN_KEYS,
    LOG_RETENTION_DAYS,
    MAX_ZONES,
    MISSING,
    NOTIFICATION_SECRET_KEYS,
    OPERATOR_INSTALLER,
    PATCH_TARGET_KEYS,
    PROJECT,
    REQUIRED_FLUX_COMPONENTS,
    SUPPORT_TYPES,
    TOOLKIT_INSTALLERS,
    AppSecretConfig,
    ClusterConfig,
    ConfigError,
    ControllerPatch,
    DeployKeyConfig,
    EcrConfig,
    ExistingNetwork,
    GitHubAppConfig,
    GitHubConfig,
    Missing,
    NetworkConfig,
    NodeGroupConfig,
    NotificationsConfig,
    OperatorConfig,
    PolicyConfig,
    SecretSettings,
    SopsConfig,
    StackConfig,
    SyncConfig,
    ToolkitConfig,
    WebhookConfig,
    default_cluster_name,
)

_REGION = re.compile(
    r"^[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-\d$"
)
_GO_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns))+$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns)")
_GITHUB_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$"
)
_RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
_KUBERNETES_VERSION = re.compile(r"^1\.\d{2}$")
_AWS_ID = {
    "vpc": re.compile(r"^vpc-[0-9a-f]{8,17}$"),
    "subnet": re.compile(r"^subnet-[0-9a-f]{8,17}$"),
    "security group": re.compile(r"^sg-[0-9a-f]{8,17}$"),
}
_ACM_CERTIFICATE_ARN = re.compile(
    r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$"
)
_KMS_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$"
)
# Kubernetes object names (DNS subdomains) and Secret data keys.
_DNS_SUBDOMAIN = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_SECRET_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
# A stack setting's name as `pulumi config set` takes it, without the `project:` prefix.
_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_KNOWN_HOST_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) [A-Za-z0-9+/]+={0,2}$"
)
# Go's time.Duration is an int64 count of nanoseconds (about 2562047h); ParseDuration refuses more.
MAX_GO_DURATION_NANOS: Final = 2**63 - 1
_DURATION_NANOS = {
    "h": 3600 * 10**9,
    "m": 60 * 10**9,
    "s": 10**9,
    "ms": 10**6,
    "us": 10**3,
    "µs": 10**3,
    "ns": 1,
}


T = TypeVar("T")


class _Section:
    """One config object (e.g. `eks-gitops:cluster`), read field by field so that every error names
    the full key path and every unknown field is reported."""

    def __init__(self, key: str, raw: object) -> None:
        if raw is MISSING or raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(key, raw, "an object")
        self.key = key
        self.raw: Mapping[str, object] = raw
        self.read: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self.key}.{name}"

    def value(self, name: str, kind: type[T], default: T | Missing = MISSING) -> T:
        self.read.add(name)
        value = self.raw.get(name, MISSING)
        if value is MISSING or value is None:
            if isinstance(default, Missing):
                raise ConfigError(self.path(name), MISSING, f"a {_type_name(kind)} (required)")
            return default
        if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            raise ConfigError(
                self.path(name),
                value,
                "a string: quote it in the stack file (YAML reads an unquoted 1.30 as the number "
                '1.3; write "1.30")',
            )
        # bool is an int subclass: `minSize: true` must not pass as 1.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(self.path(name), value, f"a {_type_name(kind)}")
        return value

    def strings(self, name: str, default: Sequence[str] | Missing = MISSING) -> tuple[str, ...]:
        values = self.value(
            name, list, list(default) if not isinstance(default, Missing) else MISSING
        )
        for item in values:
            if not isinstance(item, str) or not item:
                raise ConfigError(self.path(name), values, "a list of non-empty strings")
        return tuple(values)

    def section(self, name: str) -> _Section:
        self.read.add(name)
        return _Section(self.path(name), self.raw.get(name, MISSING))

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.read)
        if unknown:
            raise ConfigError(
                self.path(unknown[0]),
                self.raw[unknown[0]],
                _known_keys(unknown[0], sorted(self.read)),
            )


def _known_keys(unknown: str, known: Sequence[str]) -> str:
    """What an unknown key should have been: the known keys, and the likeliest of them."""
    # 0.5 catches a slip (`clustr`) and a synonym sharing most letters (`minimum` for minSize).
    guess = difflib.get_close_matches(unknown, known, n=1, cutoff=0.5)
    return f"one of the known keys {list(known)}" + (f"; did you mean {guess[0]}?" if guess else "")


_TYPE_NAMES: Final[dict[type, str]] = {
    str: "string",
    int: "whole number",
    bool: "boolean (true/false)",
    list: "list",
    dict: "object",
}


def _type_name(kind: type) -> str:
    return _TYPE_NAMES.get(kind, kind.__name__)


def _check(ok: bool, key: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(key, value, expected)


def parse_go_duration(text: str) -> int:
    """Nanoseconds in a Go duration string (`1m`, `10m0s`, `1h30m`); ValueError when it is not one."""
    if not _GO_DURATION.match(text):
        raise ValueError(text)
    # Exact arithmetic: through float, a long run of digits became infinity and int() raised
    # OverflowError instead of the config error.
    nanos = sum(
        int(Fraction(amount) * _DURATION_NANOS[unit])
        for amount, unit in _GO_DURATION_PART.findall(text)
    )
    if nanos > MAX_GO_DURATION_NANOS:
        raise ValueError(text)
    return nanos


def format_go_duration(nanos: int) -> str:
    """The canonical spelling Go's time.Duration.String() gives whole-second durations (`1m0s`, `1h0m0s`)."""
    seconds = nanos // 10**9
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _duration(section: _Section, name: str, default: str, minimum_seconds: int = 1) -> int:
    key = section.path(name)
    text = section.value(name, str, default)
    try:
        nanos = parse_go_duration(text)
    except ValueError:
        raise ConfigError(
            key, text, "a Go duration such as 1m, 10m0s or 1h30m (at most 2562047h)"
        ) from None
    _check(nanos % 10**9 == 0, key, text, "a whole number of seconds")
    _check(nanos >= minimum_seconds * 10**9, key, text, f"at least {minimum_seconds}s")
    return nanos // 10**9


def _cidr(key: str, value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        raise ConfigError(key, value, "an IPv4 CIDR block such as 10.20.0.0/16") from None


def normalise_repo_path(key: str, value: str) -> str:
    """A path inside the repository, without `./` or a trailing slash; never absolute or escaping."""
    cleaned = value.strip()
    if cleaned.startswith("./"):
        cleaned = cleaned[2:]
    cleaned = cleaned.rstrip("/")
    parts = cleaned.split("/")
    _check(
        bool(cleaned)
        and not cleaned.startswith("/")
        and all(p not in ("", ".", "..") for p in parts),
        key,
        value,
        "a relative path inside the repository such as gitops/aws/clusters/dev",
    )
    return cleaned


def _valid_branch(name: str) -> bool:
    # The subset of git-check-ref-format that matters for a branch name typed into a stack file.
    forbidden = (" ", "~", "^", ":", "?", "*", "[", "\\", "..", "@{", "//")
    return (
        bool(name)
        and not any(token in name for token in forbidden)
        and not name.startswith(("-", "/", "."))
        and not name.endswith((".lock", "/", "."))
        and all(ord(ch) > 0x20 and ord(ch) != 0x7F for ch in name)
    )


def _parse_zones(section: _Section, region: str) -> tuple[str, ...]:
    """The zones the subnets go to, named in the stack file: a lookup of the zones available at the
    time would shift every subnet along when a zone is impaired (see docs/configuration.md)."""
    key = section.path("availabilityZones")
    zones = section.strings("availabilityZones")
    for zone in zones:
        _check(
            zone[:-1] == region and "a" <= zone[-1] <= "z",
            key,
            zone,
            f"availability zone names of aws:region {region}, such as {region}a",
        )
    _check(len(set(zones)) == len(zones), key, list(zones), "each zone named once")
    _check(
        2 <= len(zones) <= MAX_ZONES,
        key,
        list(zones),
        f"2 to {MAX_ZONES} zones (EKS needs two; the VPC address plan has room for {MAX_ZONES})",
    )
    return zones


def _parse_network(section: _Section, region: str) -> NetworkConfig:
    cidr = section.value("vpcCidr", str, "10.0.0.0/16")
    network = _cidr(section.path("vpcCidr"), cidr)
    _check(
        16 <= network.prefixlen <= 20, section.path("vpcCidr"), cidr, "a prefix between /16 and /20"
    )
    single_nat = section.value("singleNatGateway", bool, False)
    existing: ExistingNetwork | None = None
    zones: tuple[str, ...] = ()
    if section.raw.get("existing") is not None:
        stray = section.raw.get("availabilityZones")
        _check(
            stray is None,
            section.path("availabilityZones"),
            stray,
            "no zones with network.existing: the existing subnets decide where nodes run",
        )
        section.read.add("availabilityZones")
        sub = section.section("existing")
        vpc_id = sub.value("vpcId", str)
        _check(
            bool(_AWS_ID["vpc"].match(vpc_id)),
            sub.path("vpcId"),
            vpc_id,
            "a VPC id such as vpc-0abc1234",
        )
        private = sub.strings("privateSubnetIds")
        public = sub.strings("publicSubnetIds", ())
        for name, ids in (("privateSubnetIds", private), ("publicSubnetIds", public)):
            for subnet in ids:
                _check(
                    bool(_AWS_ID["subnet"].match(subnet)),
                    sub.path(name),
                    subnet,
                    "subnet ids such as subnet-0abc1234",
                )
        _check(
            len(private) >= 1, sub.path("privateSubnetIds"), list(private), "at least one subnet id"
        )
        sub.finish()
        existing = ExistingNetwork(vpc_id, private, public)
    else:
        zones = _parse_zones(section, region)
        section.read.add("existing")
    section.finish()
    return NetworkConfig(str(network), zones, single_nat, existing)


def _parse_nodes(section: _Section) -> NodeGroupConfig:
    instance_types = section.strings("instanceTypes")
    _check(
        len(instance_types) >= 1,
        section.path("instanceTypes"),
        list(instance_types),
        "at least one instance type",
    )
    for instance_type in instance_types:
        _check(
            bool(_INSTANCE_TYPE.match(instance_type)),
            section.path("instanceTypes"),
            instance_type,
            "EC2 instance types such as m6i.large",
        )
    min_size = section.value("minSize", int)
    desired = section.value("desiredSize", int)
    max_size = section.value("maxSize", int)
    _check(min_size >= 0, section.path("minSize"), min_size, "0 or more")
    _check(max_size >= 1, section.path("maxSize"), max_size, "1 or more")
    _check(min_size <= max_size, section.path("minSize"), min_size, f"at most maxSize ({max_size})")
    _check(
        min_size <= desired <= max_size,
        section.path("desiredSize"),
        desired,
        f"between minSize ({min_size}) and maxSize ({max_size})",
    )
    disk = section.value("diskSizeGiB", int, 50)
    _check(20 <= disk <= 16384, section.path("diskSizeGiB"), disk, "20 to 16384")
    capacity = section.value("capacityType", str, "ON_DEMAND")
    _check(
        capacity in CAPACITY_TYPES,
        section.path("capacityType"),
        capacity,
        f"one of {list(CAPACITY_TYPES)}",
    )
    ami_type = section.value("amiType", str, AMI_TYPES[0])
    _check(ami_type in AMI_TYPES, section.path("amiType"), ami_type, f"one of {list(AMI_TYPES)}")
    hop_limit = section.value("metadataHopLimit", int, 2)
    _check(1 <= hop_limit <= 64, section.path("metadataHopLimit"), hop_limit, "1 to 64")
    section.finish()
    return NodeGroupConfig(
        instance_types, min_size, desired, max_size, disk, capacity, ami_type, hop_limit
    )


def _parse_addons(section: _Section, kubernetes_version: str) -> dict[str, str]:
    versions = {}
    for name in EKS_ADDONS:
        version = section.value(name, str)
        _check(
            bool(_ADDON_VERSION.match(version)),
            section.path(name),
            version,
            "an EKS add-on version such as v1.20.4-eksbuild.2 "
            f"(aws eks describe-addon-versions --addon-name {name})",
        )
        versions[name] = version
    # EKS builds kube-proxy once per Kubernetes minor, so a Kubernetes upgrade has to move it too.
    # The error names the whole map: the mismatch is between it and kubernetesVersion.
    _check(
        versions["kube-proxy"].startswith(f"v{kubernetes_version}."),
        section.key,
        versions,
        f"add-on versions for kubernetesVersion {kubernetes_version}, kube-proxy among them "
        f"(v{kubernetes_version}.N-eksbuild.N): move the add-ons with the Kubernetes version",
    )
    section.finish()
    return versions


# Control-plane logs (the audit log among them) are kept three months unless the stack says otherwise.
DEFAULT_LOG_RETENTION_DAYS: Final = 90


def _parse_cluster(section: _Section, stack: str, region: str) -> ClusterConfig:
    name = section.value("name", str, default_cluster_name(stack))
    _check(
        bool(_CLUSTER_NAME.match(name)),
        section.path("name"),
        name,
        "letters, digits, - and _, at most 100",
    )
    version = section.value("kubernetesVersion", str)
    # Spelling only: whether EKS offers the version, and until when, the program asks EKS.
    _check(
        bool(_KUBERNETES_VERSION.match(version)),
        section.path("kubernetesVersion"),
        version,
        'a Kubernetes minor version such as "1.35", quoted',
    )
    # Required: extended support costs six times the control-plane fee, so each stack says so.
    support_type = section.value("supportType", str, "")
    _check(
        support_type in SUPPORT_TYPES,
        section.path("supportType"),
        support_type or MISSING,
        f"one of {list(SUPPORT_TYPES)}, what EKS does at the end of standard support "
        "(STANDARD upgrades the cluster, EXTENDED keeps it at the extended-support fee)",
    )
    public = section.value("endpointPublicAccess", bool, False)
    cidrs = section.strings("publicAccessCidrs", ())
    for cidr in cidrs:
        _cidr(section.path("publicAccessCidrs"), cidr)
    _check(
        public or not cidrs,
        section.path("publicAccessCidrs"),
        list(cidrs),
        "no CIDRs while endpointPublicAccess is false",
    )
    log_types = section.strings("logTypes", ("api", "audit", "authenticator"))
    for log_type in log_types:
        _check(
            log_type in CONTROL_PLANE_LOG_TYPES,
            section.path("logTypes"),
            log_type,
            f"control-plane log types from {list(CONTROL_PLANE_LOG_TYPES)}",
        )
    retention = section.value("logRetentionDays", int, DEFAULT_LOG_RETENTION_DAYS)
    _check(
        retention in LOG_RETENTION_DAYS,
        section.path("logRetentionDays"),
        retention,
        f"a retention CloudWatch Logs accepts: {', '.join(map(str, LOG_RETENTION_DAYS))}",
    )
    log_key = section.value("logKmsKeyArn", str, "") or None
    if log_key is not None:
        match = _KMS_KEY_ARN.match(log_key)
        # CloudWatch Logs encrypts a log group only with a key of its own region, named by key ARN.
        _check(
            match is not None and match["region"] == region,
            section.path("logKmsKeyArn"),
            log_key,
            f"the ARN of a KMS key in aws:region {region}, such as "
            f"arn:aws:kms:{region}:123456789012:key/12345678-1234-1234-1234-123456789012",
        )
    admins = section.strings("adminRoleArns", ())
    for arn in admins:
        _check(bool(_ROLE_ARN.match(arn)), section.path("adminRoleArns"), arn, "IAM role ARNs")
    deployer = section.value("deployerRoleArn", str)
    _check(
        bool(_ROLE_ARN.match(deployer)),
        section.path("deployerRoleArn"),
        deployer,
        "the ARN of the IAM role `pulumi up` runs as, such as CI's deploy role",
    )
    private_cidrs = section.strings("privateAccessCidrs", ())
    for cidr in private_cidrs:
        _check(
            _cidr(section.path("privateAccessCidrs"), cidr).prefixlen > 0,
            section.path("privateAccessCidrs"),
            cidr,
            "the runner's own range, not every address",
        )
    groups = section.strings("privateAccessSecurityGroupIds", ())
    for group in groups:
        _check(
            bool(_AWS_ID["security group"].match(group)),
            section.path("privateAccessSecurityGroupIds"),
            group,
            "security group ids such as sg-0abc1234",
        )
    # The private endpoint admits only what the cluster security group lets in, and that group
    # admits only itself: without a rule for the runner, `pulumi up` times out on the first object.
    _check(
        public or bool(private_cidrs) or bool(groups),
        section.path("privateAccessCidrs"),
        list(private_cidrs),
        "the CIDRs (or privateAccessSecurityGroupIds) `pulumi up` runs from while "
        "endpointPublicAccess is false, or nothing can reach the cluster's API",
    )
    protect = section.value("protect", bool, False)
    nodes = _parse_nodes(section.section("nodes"))
    addons = _parse_addons(section.section("addons"), version)
    section.finish()
    return ClusterConfig(
        name=name,
        kubernetes_version=version,
        endpoint_public_access=public,
        public_access_cidrs=cidrs,
        log_types=tuple(sorted(set(log_types), key=CONTROL_PLANE_LOG_TYPES.index)),
        protect=protect,
        admin_role_arns=admins,
        nodes=nodes,
        deployer_role_arn=deployer,
        private_access_cidrs=private_cidrs,
        private_access_security_group_ids=groups,
        addons=addons,
        support_type=support_type,
        log_retention_days=retention,
        log_kms_key_arn=log_key,
    )


def _parse_github(section: _Section) -> GitHubConfig:
    owner = section.value("owner", str)
    _check(
        bool(_GITHUB_LOGIN.match(owner)),
        section.path("owner"),
        owner,
        "a GitHub user or organisation name",
    )
    repository = section.value("repository", str)
    _check(
        bool(_REPOSITORY.match(repository))
        and repository not in (".", "..")
        and not repository.endswith(".git"),
        section.path("repository"),
        repository,
        "a repository name (letters, digits, . _ -, without .git)",
    )
    host = section.value("host", str, "github.com")
    _check(
        bool(_HOSTNAME.match(host)),
        section.path("host"),
        host,
        "a host name such as github.example.com",
    )
    create = section.value("createRepository", bool, False)
    visibility = section.value("visibility", str, "private")
    _check(
        visibility in ("private", "internal", "public"),
        section.path("visibility"),
        visibility,
        "private, internal or public",
    )
    known_hosts = section.strings("knownHosts", ())
    for line in known_hosts:
        _check(
            bool(_KNOWN_HOST_KEY.match(line)),
            section.path("knownHosts"),
            line,
            "host keys as 'TYPE BASE64' (e.g. 'ssh-ed25519 AAAA...')",
        )
    _check(
        host == "github.com" or bool(known_hosts),
        section.path("knownHosts"),
        list(known_hosts),
        f"the SSH host keys of {host} (GitHub's published keys only cover github.com)",
    )
    # Where port 22 is blocked, GitHub also serves SSH on ssh.github.com:443.
    ssh_host = section.value("sshHost", str, host)
    _check(
        bool(_HOSTNAME.match(ssh_host)),
        section.path("sshHost"),
        ssh_host,
        "a host name such as ssh.github.com",
    )
    ssh_port = section.value("sshPort", int, 22)
    _check(1 <= ssh_port <= 65535, section.path("sshPort"), ssh_port, "a TCP port, 1 to 65535")
    section.finish()
    return GitHubConfig(
        owner, repository, host, create, visibility, known_hosts, ssh_host, ssh_port
    )


def _parse_toolkit(section: _Section) -> ToolkitConfig:
    namespace = section.value("namespace", str, "gitops-system")
    _check(
        bool(_DNS_LABEL.match(namespace)),
        section.path("namespace"),
        namespace,
        "a Kubernetes namespace name",
    )
    version = section.value("version", str)
    _check(
        bool(_RELEASE_TAG.match(version)),
        section.path("version"),
        version,
        "a Flux release tag such as v2.9.4",
    )
    components = section.strings("components", DEFAULT_FLUX_COMPONENTS)
    known = KNOWN_FLUX_COMPONENTS
    for component in components:
        _check(
            component in known,
            section.path("components"),
            component,
            f"component names from {list(known)}",
        )
    for required in REQUIRED_FLUX_COMPONENTS:
        _check(
            required in components,
            section.path("components"),
            list(components),
            f"a list that includes {required}",
        )
    _check(
        len(set(components)) == len(components),
        section.path("components"),
        list(components),
        "no repeated names",
    )
    manifests_file, sha = _manifest_source(section)
    installer = section.value("installer", str, TOOLKIT_INSTALLERS[0])
    _check(
        installer in TOOLKIT_INSTALLERS,
        section.path("installer"),
        installer,
        f"one of {list(TOOLKIT_INSTALLERS)}",
    )
    operator = _parse_operator(section.section("operator"))
    _check(
        operator is not None or installer != OPERATOR_INSTALLER,
        section.path("operator.version"),
        MISSING,
        f"the Flux Operator release tag (such as v0.61.0) with installer {OPERATOR_INSTALLER}",
    )
    patches = _parse_patches(section)
    hand_over = section.value("handOver", bool, False)
    section.finish()
    ordered = tuple(name for name in known if name in components)
    return ToolkitConfig(
        namespace,
        version,
        ordered,
        manifests_file,
        sha,
        installer=installer,
        operator=operator,
        patches=patches,
        hand_over=hand_over,
    )


def _manifest_source(section: _Section) -> tuple[str | None, str | None]:
    """`manifestsFile` and `manifestsSha256` of a release manifest (Flux's or the operator's)."""
    manifests_file = section.value("manifestsFile", str, "") or None
    sha = section.value("manifestsSha256", str, "") or None
    if sha is not None:
        _check(
            bool(_SHA256.match(sha)),
            section.path("manifestsSha256"),
            sha,
            "64 lowercase hex digits",
        )
    return manifests_file, sha


def _parse_operator(section: _Section) -> OperatorConfig | None:
    if not section.raw:
        return None
    version = section.value("version", str)
    _check(
        bool(_RELEASE_TAG.match(version)),
        section.path("version"),
        version,
        "a Flux Operator release tag such as v0.61.0 (an exact version, no range)",
    )
    manifests_file, sha = _manifest_source(section)
    section.finish()
    return OperatorConfig(version, manifests_file, sha)


def _parse_patches(section: _Section) -> tuple[ControllerPatch, ...]:
    raw = section.value("patches", list, [])
    patches = []
    for index, item in enumerate(raw):
        entry = _Section(f"{section.path('patches')}[{index}]", item)
        patch = entry.value("patch", str)
        _check(
            bool(patch.strip()),
            entry.path("patch"),
            patch,
            "a strategic merge patch or an RFC 6902 JSON patch, as YAML text",
        )
        target = entry.section("target")
        selector = {key: target.value(key, str, "") for key in PATCH_TARGET_KEYS}
        target.finish()
        chosen = {key: value for key, value in selector.items() if value}
        _check(
            bool(chosen),
            target.key,
            dict(target.raw),
            f"an object with at least one of {list(PATCH_TARGET_KEYS)} (the patch's objects are "
            "in the toolkit namespace, so no namespace)",
        )
        entry.finish()
        patches.append(ControllerPatch(patch, chosen))
    return tuple(patches)


def _parse_deploy_key(section: _Section) -> DeployKeyConfig:
    algorithm = section.value("algorithm", str, "ecdsa-p384")
    _check(
        algorithm in DEPLOY_KEY_ALGORITHMS,
        section.path("algorithm"),
        algorithm,
        f"one of {list(DEPLOY_KEY_ALGORITHMS)}",
    )
    read_write = section.value("readWrite", bool, False)
    generation = section.value("generation", int, 1)
    _check(
        generation >= 1,
        section.path("generation"),
        generation,
        "1 or more (raise it by one to rotate the key)",
    )
    section.finish()
    return DeployKeyConfig(algorithm, read_write, generation)


def _parse_sync(section: _Section, environment: str) -> SyncConfig:
    branch = section.value("branch", str, "main")
    _check(_valid_branch(branch), section.path("branch"), branch, "a git branch name")
    path = normalise_repo_path(
        section.path("path"), section.value("path", str, f"gitops/aws/clusters/{environment}")
    )
    interval = _duration(section, "interval", "1m")
    kustomization_interval = _duration(section, "kustomizationInterval", "10m")
    ready_timeout = _duration(section, "readyTimeout", "10m", minimum_seconds=30)
    # kustomize-controller never waits less than 30s (Kustomization.GetTimeout), so a shorter value
    # would not be the timeout Flux uses.
    timeout = _duration(section, "timeout", "5m", minimum_seconds=30)
    # Pulumi must outwait Flux: on `up` Flux reports the tree's health within `timeout`, and on
    # destroy it releases the Kustomization within `timeout`.
    _check(
        ready_timeout > timeout,
        section.path("readyTimeout"),
        section.value("readyTimeout", str, "10m"),
        f"longer than {section.path('timeout')} ({format_go_duration(timeout * 10**9)})",
    )
    section.finish()
    return SyncConfig(
        branch=branch,
        path=path,
        interval=format_go_duration(interval * 10**9),
        kustomization_interval=format_go_duration(kustomization_interval * 10**9),
        ready_timeout_seconds=ready_timeout,
        timeout=format_go_duration(timeout * 10**9),
    )


def _parse_policy(section: _Section) -> PolicyConfig:
    # Which ids exist and which production may waive is the policy package's to say (policy.enforce).
    relax = section.strings("relax", ())
    section.finish()
    return PolicyConfig(tuple(dict.fromkeys(relax)))


def _parse_webhook(
    section: _Section, production: bool, region: str, toolkit: ToolkitConfig
) -> WebhookConfig:
    # On where changes are tried (dev, qa) a push should sync at once; prod opts in explicitly, as
    # the receiver is an endpoint open to the internet. notification-controller serves the Receiver:
    # a stack without it has no webhook unless it asks for one, which the check below refuses.
    served = "notification-controller" in toolkit.components
    enabled = section.value("enabled", bool, not production and served)
    hostname = section.value("hostname", str, "") or None
    if hostname is not None:
        _check(
            bool(_HOSTNAME.match(hostname)) and "." in hostname,
            section.path("hostname"),
            hostname,
            "a fully qualified host name such as flux-webhook.dev.example.com",
        )
    certificate = section.value("certificateArn", str, "") or None
    if certificate is not None:
        match = _ACM_CERTIFICATE_ARN.match(certificate)
        _check(
            match is not None,
            section.path("certificateArn"),
            certificate,
            "an ACM certificate ARN such as "
            f"arn:aws:acm:{region}:123456789012:certificate/12345678-1234-1234-1234-123456789012",
        )
        assert match is not None
        # A load balancer can only use a certificate from ACM in its own region.
        _check(
            match["region"] == region,
            section.path("certificateArn"),
            certificate,
            f"a certificate in aws:region {region}",
        )
        _check(
            hostname is not None,
            section.path("certificateArn"),
            certificate,
            "a certificate only together with webhook.hostname, the name it is issued for",
        )
    _check(
        not enabled or served,
        section.path("enabled"),
        enabled,
        "false unless toolkit.components includes notification-controller",
    )
    section.finish()
    return WebhookConfig(enabled, hostname, certificate)


def _positive_or_none(section: _Section, name: str) -> int | None:
    if section.raw.get(name) is None:
        section.read.add(name)
        return None
    number = section.value(name, int)
    _check(number > 0, section.path(name), number, "a positive whole number")
    return number


def _parse_notifications(section: _Section, toolkit: ToolkitConfig) -> NotificationsConfig:
    # The Provider and Alert are served by notification-controller; without it they would sit
    # there unreconciled and no status would ever be posted. Like the webhook, then: on by default
    # where the controller runs, refused where it does not.
    served = "notification-controller" in toolkit.components
    commit_statuses = section.value("commitStatuses", bool, served)
    _check(
        not commit_statuses or served,
        section.path("commitStatuses"),
        commit_statuses,
        "false while toolkit.components leaves out notification-controller",
    )
    app_id = _positive_or_none(section, "githubAppId")
    installation_id = _positive_or_none(section, "githubAppInstallationId")
    _check(
        (app_id is None) == (installation_id is None),
        section.path("githubAppInstallationId" if app_id else "githubAppId"),
        MISSING,
        "both githubAppId and githubAppInstallationId, or neither (then githubStatusToken is used)",
    )
    section.finish()
    app = (
        GitHubAppConfig(app_id, installation_id)
        if app_id is not None and installation_id is not None
        else None
    )
    return NotificationsConfig(commit_statuses, app)


def _parse_app_secrets(section: _Section, toolkit: ToolkitConfig) -> tuple[AppSecretConfig, ...]:
    """`appSecrets`: Secret name -> {namespace, keys: {data key -> secret stack setting}}."""
    secrets = []
    for name in sorted(section.raw):
        _check(
            bool(_DNS_SUBDOMAIN.match(name)),
            section.path(name),
            section.raw[name],
            "entries named by a Kubernetes Secret name (lowercase letters, digits, - and .)",
        )
        entry = section.section(name)
        # The sync waits for these Secrets, and no namespace but the toolkit's exists before Flux's
        # first sync creates the others: a Secret elsewhere could never be created in time.
        namespace = entry.value("namespace", str, toolkit.namespace)
        _check(
            namespace == toolkit.namespace,
            entry.path("namespace"),
            namespace,
            f"{toolkit.namespace}, the toolkit namespace (the only one there before the first "
            "sync); HelmReleases read it with valuesFrom from there",
        )
        keys = entry.section("keys")
        _check(bool(keys.raw), keys.key, dict(keys.raw), "at least one data key")
        settings: dict[str, str] = {}
        for data_key in sorted(keys.raw):
            setting = keys.value(data_key, str)
            _check(
                bool(_SECRET_DATA_KEY.match(data_key)),
                keys.path(data_key),
                setting,
                "Secret data keys of letters, digits, -, _ and .",
            )
            _check(
                setting not in NOTIFICATION_SECRET_KEYS,
                keys.path(data_key),
                setting,
                "a setting of its own: the commit-status credential is no application's",
            )
            _check(
                bool(_CONFIG_KEY.match(setting)) and setting not in KNOWN_KEYS,
                keys.path(data_key),
                setting,
                "the name of a secret stack setting (pulumi config set --secret NAME), "
                "not one of the program's own keys",
            )
            settings[data_key] = setting
        keys.finish()
        entry.finish()
        secrets.append(AppSecretConfig(name, namespace, settings))
    section.finish()
    return tuple(secrets)


def app_secret_settings(raw: object) -> frozenset[str]:
    """The secret stack settings an `appSecrets` value names, read leniently: the unknown-key check
    runs before the section itself is validated, and must not call them typos."""
    if not isinstance(raw, Mapping):
        return frozenset()
    return frozenset(
        setting
        for entry in raw.values()
        if isinstance(entry, Mapping) and isinstance(entry.get("keys"), Mapping)
        for setting in entry["keys"].values()
        if isinstance(setting, str)
    )


def _parse_sops(section: _Section) -> SopsConfig:
    enabled = section.value("enabled", bool, False)
    key_arn = section.value("keyArn", str, "") or None
    if key_arn is not None:
        # IAM matches a KMS key by its key ARN: an alias ARN in a policy's Resource grants nothing.
        _check(
            bool(_KMS_KEY_ARN.match(key_arn)),
            section.path("keyArn"),
            key_arn,
            "a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/"
            "1234abcd-12ab-34cd-56ef-1234567890ab (not an alias)",
        )
        _check(
            enabled,
            section.path("keyArn"),
            key_arn,
            "a key only together with enabled: true",
        )
    section.finish()
    return SopsConfig(enabled, key_arn)


def _parse_secrets(section: _Section) -> SopsConfig:
    sops = _parse_sops(section.section("sops"))
    section.finish()
    return sops


def _parse_ecr(section: _Section) -> EcrConfig:
    enabled = section.value("enabled", bool, False)
    section.finish()
    return EcrConfig(enabled)


def parse_stack_config(
    raw: Mapping[str, object], stack: str, environments: Environments | None = None
) -> StackConfig:
    """Validate the raw stack settings (keys as in the stack file, values JSON-decoded) of a stack
    of `environments` (by default the project's environments.yaml)."""
    prefix = f"{PROJECT}:"
    named_secrets = app_secret_settings(raw.get(APP_SECRETS_KEY))
    for key in sorted(raw):
        name = key[len(prefix) :]
        if key.startswith(prefix) and name not in KNOWN_KEYS and name not in named_secrets:
            raise ConfigError(key, raw[key], _known_keys(key, [prefix + k for k in KNOWN_KEYS]))

    def get(key: str) -> object:
        return raw.get(prefix + key, MISSING)

    if "github:token" in raw:
        raise ConfigError(
            "github:token",
            "[redacted]",
            "no token in a stack file: export GITHUB_TOKEN in the environment",
        )
    region = raw.get("aws:region", MISSING)
    _check(
        isinstance(region, str) and bool(_REGION.match(region)),
        "aws:region",
        region,
        "an AWS region such as eu-west-1",
    )
    assert isinstance(region, str)
    environment = get("environment")
    known = (
        (environments or read_environments()).get(environment)
        if isinstance(environment, str)
        else None
    )
    _check(
        known is not None,
        f"{prefix}environment",
        environment,
        f"one of {list((environments or read_environments()).names)} ({ENVIRONMENTS_FILENAME})",
    )
    assert known is not None
    # One stack per environment, named after it: a second stack claiming an environment would
    # create the same cluster and post the same commit statuses.
    _check(
        stack == known.name,
        f"{prefix}environment",
        environment,
        f"'{stack}': each environment is deployed by the stack named after it "
        f"(Pulumi.{known.name}.yaml), and stack {stack} is not that stack",
    )
    return StackConfig(
        stack=stack,
        environment=known.name,
        is_production=known.production,
        region=region,
        network=_parse_network(_Section(f"{prefix}network", get("network")), region),
        cluster=_parse_cluster(_Section(f"{prefix}cluster", get("cluster")), stack, region),
        github=_parse_github(_Section(f"{prefix}github", get("github"))),
        # Named for the webhook and notifications checks below; keyword arguments are read in order, so every section
        # is still checked in the order of the stack file.
        toolkit=(toolkit := _parse_toolkit(_Section(f"{prefix}toolkit", get("toolkit")))),
        deploy_key=_parse_deploy_key(_Section(f"{prefix}deployKey", get("deployKey"))),
        sync=_parse_sync(_Section(f"{prefix}sync", get("sync")), known.name),
        policy=_parse_policy(_Section(f"{prefix}policy", get("policy"))),
        webhook=_parse_webhook(
            _Section(f"{prefix}webhook", get("webhook")), known.production, region, toolkit
        ),
        notifications=_parse_notifications(
            _Section(f"{prefix}notifications", get("notifications")), toolkit
        ),
        app_secrets=_parse_app_secrets(_Section(f"{prefix}appSecrets", get("appSecrets")), toolkit),
        sops=_parse_secrets(_Section(f"{prefix}secrets", get("secrets"))),
        ecr=_parse_ecr(_Section(f"{prefix}ecr", get("ecr"))),
        tags={"project": PROJECT, "stack": stack, "environment": known.name},
    )


def secret_setting_names(settings: StackConfig) -> frozenset[str]:
    """The settings that hold credentials whenever they are set: those the stack needs, and the
    program's own secret settings, needed or not (a leftover one is refused, in clear or not)."""
    return frozenset((*settings.secret_keys, *NOTIFICATION_SECRET_KEYS))


def check_secrets(needed: Sequence[str], present: Mapping[str, bool]) -> None:
    """Refuse the secret settings of a stack unless they are exactly the ones it needs, each held
    encrypted (`present`: secret setting set -> whether it is). A credential the stack no longer uses
    must not linger in its file, and one in clear must never reach a resource."""
    for key in dict.fromkeys((*needed, *sorted(present))):
        full_key = f"{PROJECT}:{key}"
        if key not in present:
            _check(
                key not in needed,
                full_key,
                MISSING,
                f"a secret: pulumi config set --secret {key} VALUE",
            )
            continue
        _check(
            present[key],
            full_key,
            "[redacted]",
            f"no credential in clear in a stack file: pulumi config set --secret {key} VALUE",
        )
        _check(
            key in needed,
            full_key,
            "[redacted]",
            f"unset (pulumi config rm {key}): this stack's settings do not use it",
        )


def secret_settings(
    settings: StackConfig, read: Callable[[str], pulumi.Output[str]]
) -> SecretSettings:
    """The stack's credentials, each read (as a Pulumi secret) by its key in the project namespace."""
    return SecretSettings(
        app_secrets={
            secret.name: {data_key: read(key) for data_key, key in secret.keys.items()}
            for secret in settings.app_secrets
        },
        commit_status_credential=next(
            (read(key) for key in settings.notifications.secret_keys), None
        ),
    )


# Provider and program settings that hold a credential: never in a stack file in clear.
_CREDENTIAL_KEYS: Final = ("aws:accessKey", "aws:secretKey", "aws:token", "*:token", "*password*")


def check_credentials_in_clear(keys_in_clear: Iterable[str]) -> None:
    """Refuse a credential-looking setting that the stack file holds in clear (not `secure:`)."""
    for key in sorted(keys_in_clear):
        # parse_stack_config refuses github:token in any form: the provider reads GITHUB_TOKEN.
        if key != "github:token" and any(
            fnmatch.fnmatch(key.lower(), pattern.lower()) for pattern in _CREDENTIAL_KEYS
        ):
            namespace, _, name = key.partition(":")
            command = (
                f"pulumi config set --secret {name}"
                if namespace == PROJECT
                else f"pulumi config set --secret {key}"
            )
            raise ConfigError(
                key,
                "[redacted]",
                f"a secret, never a credential in clear in a stack file: {command} VALUE",
            )
