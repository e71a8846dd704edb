"""Production guardrails: what every stack must hold before anything reaches AWS or GitHub.

Two layers, both pure functions over plain values:

- `check_config` decides the rules that the stack settings alone settle. `enforce` runs it right after
  the settings are loaded, so a stack that breaks a rule declares nothing at all.
- `check_resources` looks at what the program really declared (protect flags, launch template
  metadata options and tag specifications, the deploy key's access, the AWS provider's default
  tags), so a code change cannot quietly undo what the settings ask for. `enforce` registers it as a
  stack transform that the Pulumi engine calls for every resource of every `pulumi up` and
  preview; the offline plan, whose mock engine does not call transforms, runs it over the recorded
  resources instead.

Every rule applies to every stack. A stack may waive a rule only by listing its id in
`eks-gitops:policy.relax`; `enforce` refuses an unknown id, and any waiver on prod but the deploy-key one.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
from pulumi.runtime.rpc import unwrap_rpc_secret

from eks_gitops.settings.model import PROJECT, ConfigError, StackConfig
from eks_gitops.urns import type_and_name

RELAX_KEY: Final = f"{PROJECT}:policy.relax"
# The rule ids, as a stack names them in RELAX_KEY.
POLICY_RULES: Final = (
    "protect-stateful",
    "multi-az",
    "min-nodes",
    "restricted-endpoint",
    "audit-logging",
    "imds-hop-limit",
    "read-only-deploy-key",
    "required-tags",
)
# The one rule production may waive, and only by listing it: write access for image automation.
PROD_WAIVABLE_RULES: Final = ("read-only-deploy-key",)
MIN_NODES: Final = 2
# Hop limit 1 keeps IMDS answers on the node itself; 2 lets them cross the one extra hop of a pod's
# network namespace, which some node agents need. Anything higher reaches into nested containers.
ALLOWED_HOP_LIMITS: Final = (1, 2)

AWS_PROVIDER_TYPE: Final = "pulumi:providers:aws"
CLUSTER_TYPE: Final = "aws:eks/cluster:Cluster"
KMS_KEY_TYPE: Final = "aws:kms/key:Key"
NODE_GROUP_TYPE: Final = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE_TYPE: Final = "aws:ec2/launchTemplate:LaunchTemplate"
DEPLOY_KEY_TYPE: Final = "github:index/repositoryDeployKey:RepositoryDeployKey"
# What losing by accident would lose data or the cluster itself; everything else can be re-created.
# Not the node group: its nodes hold no state (volumes are EBS, images are pulled again), a change
# EKS can only make by replacement rolls it to a new group, and a protected old group could not be
# deleted at the end of that roll (the engine refuses to delete a protected resource).
STATEFUL_TYPES: Final = (CLUSTER_TYPE, KMS_KEY_TYPE)

# Provider default tags reach only what Pulumi creates itself; the instances, volumes and network
# interfaces a node group launches carry the tags of its launch template's tag specifications,
# which must name these resource types.
LAUNCHED_RESOURCE_TYPES: Final = ("instance", "volume", "network-interface")

# Rules the settings settle on their own; `required-tags` is only visible on declared resources.
CONFIG_RULES: Final = tuple(rule for rule in POLICY_RULES if rule != "required-tags")


@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str
    """A config key (`eks-gitops:cluster.protect`) or a declared resource (`TYPE::NAME`)."""
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"policy violation [{self.rule}]: {self.resource}: {self.problem}; fix: {self.fix}"


class PolicyError(pulumi.RunError):
    """The stack breaks guardrails. `pulumi.RunError` makes Pulumi print the message alone: every
    violation, one per line."""

    def __init__(self, violations: Sequence[Violation]) -> None:
        self.violations = tuple(violations)
        super().__init__("\n".join(str(violation) for violation in self.violations))


@dataclass(frozen=True)
class DeclaredResource:
    """One resource as the engine receives it, whoever recorded it: input names as on the wire
    (camelCase), secrets unwrapped."""

    type: str
    name: str
    protect: bool
    inputs: Mapping[str, Any]
    provider_default_tags: Mapping[str, str] | None = None
    """`defaultTags.tags` of the AWS provider the resource is declared with; None without one."""

    @property
    def label(self) -> str:
        return f"{self.type}::{self.name}"


def endpoint_is_restricted(public_access: bool, public_access_cidrs: Iterable[str]) -> bool:
    """A private endpoint, or a public one limited to named ranges. EKS opens a public endpoint
    without CIDRs to 0.0.0.0/0."""
    cidrs = list(public_access_cidrs)
    return not public_access or (
        bool(cidrs)
        and all(ipaddress.ip_network(cidr, strict=False).prefixlen > 0 for cidr in cidrs)
    )


def default_tags(provider_inputs: Mapping[str, Any]) -> dict[str, str]:
    """`defaultTags.tags` of an AWS provider's inputs; the SDK sends provider inputs JSON-encoded."""
    raw = provider_inputs.get("defaultTags")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    tags = raw.get("tags") if isinstance(raw, Mapping) else None
    return (
        {str(key): str(value) for key, value in tags.items()} if isinstance(tags, Mapping) else {}
    )


def whole_numbers(value: Any) -> Any:
    """A value as the program wrote it: the wire carries every number as a protobuf double, so a
    hop limit of 3 arrives as 3.0."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def _shown(value: object) -> str:
    return json.dumps(whole_numbers(value), default=str)


def _waived(settings: StackConfig, found: Iterable[Violation]) -> list[Violation]:
    """Drops what the stack relaxes; says how to relax the rest where the stack may."""
    relaxed = set(settings.policy.relax)
    return [
        Violation(
            violation.rule,
            violation.resource,
            violation.problem,
            f"{violation.fix}, or list {violation.rule} in {RELAX_KEY}",
        )
        if not settings.is_production or violation.rule in PROD_WAIVABLE_RULES
        else violation
        for violation in found
        if violation.rule not in relaxed
    ]


def _config_findings(settings: StackConfig) -> list[Violation]:
    """Every config-level rule the settings break, waived or not."""
    cluster = settings.cluster
    nodes = cluster.nodes
    key = f"{PROJECT}:cluster"
    found: list[Violation] = []
    if not cluster.protect:
        found.append(
            Violation(
                "protect-stateful",
                f"{key}.protect",
                "is false, so one `pulumi destroy` or replacement deletes the cluster and its "
                "secrets key",
                "set protect: true",
            )
        )
    existing = settings.network.existing
    if existing is not None and len(existing.private_subnet_ids) < 2:
        found.append(
            Violation(
                "multi-az",
                f"{PROJECT}:network.existing.privateSubnetIds",
                f"lists {len(existing.private_subnet_ids)} subnet, so every node sits in one zone",
                "list private subnets in at least two availability zones",
            )
        )
    elif existing is None and len(settings.network.availability_zones) < 2:
        found.append(
            Violation(
                "multi-az",
                f"{PROJECT}:network.availabilityZones",
                f"names {list(settings.network.availability_zones)}, so every node sits in one zone",
                "name 2 or more zones in availabilityZones",
            )
        )
    if nodes.min_size < MIN_NODES:
        found.append(
            Violation(
                "min-nodes",
                f"{key}.nodes.minSize",
                f"is {nodes.min_size}, so one node failure takes every workload down",
                f"set minSize (and desiredSize) to {MIN_NODES} or more",
            )
        )
    if not endpoint_is_restricted(cluster.endpoint_public_access, cluster.public_access_cidrs):
        found.append(
            Violation(
                "restricted-endpoint",
                f"{key}.publicAccessCidrs",
                f"{list(cluster.public_access_cidrs) or '(none)'} with endpointPublicAccess true "
                "opens the Kubernetes API to the internet",
                "set endpointPublicAccess: false with privateAccessCidrs for the runner, or "
                "publicAccessCidrs to the office and CI ranges",
            )
        )
    if "audit" not in cluster.log_types:
        found.append(
            Violation(
                "audit-logging",
                f"{key}.logTypes",
                f"{list(cluster.log_types)} leaves out audit, so API calls leave no trail",
                "add audit to logTypes",
            )
        )
    if nodes.metadata_hop_limit not in ALLOWED_HOP_LIMITS:
        found.append(
            Violation(
                "imds-hop-limit",
                f"{key}.nodes.metadataHopLimit",
                f"is {nodes.metadata_hop_limit}, so containers beyond the pod network reach the "
                "node's instance credentials",
                "set metadataHopLimit: 1 (or 2 if a node agent needs IMDS from a pod)",
            )
        )
    if settings.deploy_key.read_write:
        found.append(
            Violation(
                "read-only-deploy-key",
                f"{PROJECT}:deployKey.readWrite",
                "is true, so anyone holding the cluster's Flux secret can push to the repository",
                "set readWrite: false (only if Flux must push, as image automation does, waive it)",
            )
        )
    return found


def check_config(settings: StackConfig) -> list[Violation]:
    """The rules decidable from the stack settings, minus those the stack relaxes."""
    return _waived(settings, _config_findings(settings))


def unneeded_relaxations(settings: StackConfig) -> tuple[str, ...]:
    """Relaxed rules the settings keep anyway. A stale waiver would let a later change slip
    through unnoticed, so the list should name exactly what the stack needs."""
    broken = {violation.rule for violation in _config_findings(settings)}
    return tuple(
        rule for rule in CONFIG_RULES if rule in settings.policy.relax and rule not in broken
    )


def _stateful(resource: DeclaredResource) -> list[Violation]:
    if resource.protect:
        return []
    return [
        Violation(
            "protect-stateful",
            resource.label,
            "is declared without protect",
            "declare it with ResourceOptions(protect=True) (eks-gitops:cluster.protect)",
        )
    ]


def _launch_template(resource: DeclaredResource) -> list[Violation]:
    metadata = resource.inputs.get("metadataOptions") or {}
    found = []
    if metadata.get("httpTokens") != "required":
        found.append(
            Violation(
                "imds-hop-limit",
                resource.label,
                f"metadataOptions.httpTokens is {_shown(metadata.get('httpTokens'))}, so IMDSv1 "
                "answers unauthenticated requests",
                'set metadata_options.http_tokens to "required"',
            )
        )
    hop_limit = metadata.get("httpPutResponseHopLimit")
    if hop_limit not in ALLOWED_HOP_LIMITS:
        found.append(
            Violation(
                "imds-hop-limit",
                resource.label,
                f"metadataOptions.httpPutResponseHopLimit is {_shown(hop_limit)}",
                "set metadata_options.http_put_response_hop_limit to 1 or 2",
            )
        )
    return found


def _cluster(resource: DeclaredResource) -> list[Violation]:
    vpc = resource.inputs.get("vpcConfig") or {}
    found = []
    public = vpc.get("endpointPublicAccess")
    cidrs = vpc.get("publicAccessCidrs") or []
    # The provider's default for endpointPublicAccess is true.
    if not endpoint_is_restricted(public is not False, cidrs):
        found.append(
            Violation(
                "restricted-endpoint",
                resource.label,
                f"vpcConfig.endpointPublicAccess is {_shown(public)} with publicAccessCidrs "
                f"{_shown(cidrs)}",
                "set endpoint_public_access False, or public_access_cidrs without 0.0.0.0/0",
            )
        )
    log_types = resource.inputs.get("enabledClusterLogTypes") or []
    if "audit" not in log_types:
        found.append(
            Violation(
                "audit-logging",
                resource.label,
                f"enabledClusterLogTypes {_shown(log_types)} leaves out audit",
                "add audit to enabled_cluster_log_types",
            )
        )
    return found


def _node_group(resource: DeclaredResource) -> list[Violation]:
    min_size = (resource.inputs.get("scalingConfig") or {}).get("minSize")
    if isinstance(min_size, int | float) and min_size >= MIN_NODES:
        return []
    return [
        Violation(
            "min-nodes",
            resource.label,
            f"scalingConfig.minSize is {_shown(min_size)}",
            f"set scaling_config.min_size to {MIN_NODES} or more",
        )
    ]


def _deploy_key(resource: DeclaredResource) -> list[Violation]:
    # Left out, readOnly is true in the GitHub provider.
    if resource.inputs.get("readOnly", True) is True:
        return []
    return [
        Violation(
            "read-only-deploy-key",
            resource.label,
            f"readOnly is {_shown(resource.inputs.get('readOnly'))}, so the key can push",
            "declare it read_only=True",
        )
    ]


def _tags(settings: StackConfig, resource: DeclaredResource) -> list[Violation]:
    defaults = resource.provider_default_tags
    if defaults is None:
        return [
            Violation(
                "required-tags",
                resource.label,
                "is declared without an explicit AWS provider, so no default tags reach it",
                "pass provider=aws_provider (the one with default_tags) in its ResourceOptions",
            )
        ]
    wrong = sorted(key for key, value in settings.tags.items() if defaults.get(key) != value)
    # A resource's own tags win over the provider's defaults in AWS.
    own = resource.inputs.get("tags") or {}
    overridden = sorted(
        key for key, value in settings.tags.items() if key in own and own[key] != value
    )
    found = []
    if wrong:
        found.append(
            Violation(
                "required-tags",
                resource.label,
                f"its provider's defaultTags.tags {_shown(dict(sorted(defaults.items())))} "
                f"miss or misstate {', '.join(wrong)}",
                f"declare the AWS provider with default_tags={{'tags': {dict(settings.tags)}}}",
            )
        )
    if overridden:
        found.append(
            Violation(
                "required-tags",
                resource.label,
                f"its own tags override {', '.join(overridden)} with other values",
                f"drop {', '.join(overridden)} from its tags",
            )
        )
    return found


def _launched_tags(settings: StackConfig, resource: DeclaredResource) -> list[Violation]:
    """Provider default tags stop at the launch template itself; what the node group launches
    from it carries only the template's tag specifications."""
    specifications = resource.inputs.get("tagSpecifications") or []
    tags_of = {spec.get("resourceType"): spec.get("tags") or {} for spec in specifications}
    found = []
    for kind in LAUNCHED_RESOURCE_TYPES:
        tags = tags_of.get(kind, {})
        wrong = sorted(key for key, value in settings.tags.items() if tags.get(key) != value)
        if wrong:
            found.append(
                Violation(
                    "required-tags",
                    resource.label,
                    f"tagSpecifications for {kind} miss or misstate {', '.join(wrong)}, and "
                    "provider default tags do not reach what the node group launches",
                    f"declare tag_specifications for {kind} with the stack's tags "
                    f"{dict(settings.tags)}",
                )
            )
    return found


def _resource_findings(settings: StackConfig, resource: DeclaredResource) -> list[Violation]:
    found: list[Violation] = []
    if resource.type in STATEFUL_TYPES:
        found += _stateful(resource)
    if resource.type == LAUNCH_TEMPLATE_TYPE:
        found += _launch_template(resource)
        found += _launched_tags(settings, resource)
    if resource.type == CLUSTER_TYPE:
        found += _cluster(resource)
    if resource.type == NODE_GROUP_TYPE:
        found += _node_group(resource)
    if resource.type == DEPLOY_KEY_TYPE:
        found += _deploy_key(resource)
    if resource.type.startswith("aws:"):
        found += _tags(settings, resource)
    return found


def check_resources(
    settings: StackConfig, resources: Iterable[DeclaredResource]
) -> list[Violation]:
    """The rules only declared resources show, minus those the stack relaxes."""
    return _waived(
        settings,
        [
            violation
            for resource in resources
            for violation in _resource_findings(settings, resource)
        ],
    )


def _plain(value: Any) -> Any:
    value = unwrap_rpc_secret(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class ResourceGuard:
    """The stack transform: checks each resource as the engine is about to register it.

    The engine hands a transform the provider only as a reference, so the guard remembers each AWS
    provider's default tags when that provider itself is registered (providers come first: a
    resource cannot name a provider that does not exist yet)."""

    def __init__(self, settings: StackConfig) -> None:
        self.settings = settings
        self.provider_tags: dict[str, dict[str, str]] = {}

    async def __call__(
        self, args: pulumi.ResourceTransformArgs
    ) -> pulumi.ResourceTransformResult | None:
        inputs = _plain(dict(args.props))
        if args.type_ == AWS_PROVIDER_TYPE:
            self.provider_tags[f"{args.type_}::{args.name}"] = default_tags(inputs)
        provider_tags = None
        if args.opts.provider is not None:
            urn = await args.opts.provider.urn.future()
            provider_tags = self.provider_tags.get(type_and_name(urn)) if urn else None
        declared = DeclaredResource(
            args.type_, args.name, bool(args.opts.protect), inputs, provider_tags
        )
        violations = check_resources(self.settings, [declared])
        if violations:
            raise PolicyError(violations)
        return None


def check_waivers(settings: StackConfig) -> None:
    """Refuse a waiver of a rule that does not exist, or one production may not waive."""
    for rule in settings.policy.relax:
        if rule not in POLICY_RULES:
            raise ConfigError(RELAX_KEY, rule, f"guardrail ids from {list(POLICY_RULES)}")
        # Production may waive only the deploy-key rule, and only by saying so; every other
        # relaxation is for dev and qa.
        if settings.is_production and rule not in PROD_WAIVABLE_RULES:
            raise ConfigError(RELAX_KEY, rule, f"nothing but {list(PROD_WAIVABLE_RULES)} on prod")


def enforce(settings: StackConfig) -> None:
    """Refuse a stack whose settings break a guardrail, warn about waivers it does not need, and
    check every resource declared from here on."""
    check_waivers(settings)
    violations = check_config(settings)
    if violations:
        raise PolicyError(violations)
    for rule in unneeded_relaxations(settings):
        pulumi.log.warn(
            f"policy: {RELAX_KEY} lists {rule}, but stack {settings.stack} keeps that rule; "
            "remove it from the list"
        )
    pulumi.runtime.register_resource_transform(ResourceGuard(settings))
