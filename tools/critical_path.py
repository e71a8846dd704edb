"""How long `pulumi up` of a new environment takes, estimated from the plan's dependency graph.

    python -m tools.critical_path --stack dev [--flux-manifests FILE]

Plans the stack offline, keeps only what makes the engine wait before creating a resource (its
`dependsOn`, the resources its inputs come from, and the provider it is created through; a
Kubernetes object waits for its provider, which waits for the cluster and the access entries),
gives every resource the typical creation time of its type from `FIGURES`, and prints the longest
chain: the estimated wall time of a first `pulumi up`. It compares that with the sequential flow
it replaces (build the cluster, then run `flux bootstrap` by hand).

By design the chain holds only what needs the cluster to exist; IAM, KMS, the TLS key and the
GitHub deploy key are created while the control plane comes up. Exits 1 when one of them is on it.
"""

from __future__ import annotations

import argparse
import graphlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from offline.engine import RecordedResource
from tools.plan import PlanError, plan_stack
from urns import type_and_name


@dataclass(frozen=True)
class Figure:
    seconds: float
    source: str
    """Where the figure comes from: a documented statement, or "estimate:" and the reasoning."""


# The steps a reader recognises in the chain; resources of other types are quick links between them.
NETWORK = "network"
CLUSTER = "cluster"
NODE_GROUP = "node group"
CONTROLLERS_READY = "controllers ready"
FIRST_SYNC = "first sync"
EXPECTED_STEPS = (NETWORK, CLUSTER, NODE_GROUP, CONTROLLERS_READY, FIRST_SYNC)

_EKS_API_REFERENCE = "https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html"
_SECONDS_API_CALL = (
    "estimate: one synchronous API call, the object exists when the call returns; "
    "no provider documents a figure"
)

# The two halves of a first sync: the Kustomization applied, then what it applied healthy.
FIRST_APPLY = Figure(
    45,
    "estimate: kustomize-controller's first build and server-side apply of the cluster path; a "
    "Kustomization without `wait` or health checks is Ready at this point",
)
TREE_HEALTHY = Figure(
    240,
    "estimate: the cluster's HelmReleases installed in their `dependsOn` order (dev: "
    "prometheus-operator, then sumologic and traefik), each a chart download and a Helm install "
    "that waits for its workloads; every release is capped by its own `timeout` (10-15 min)",
)

# Typical creation time per resource type, seconds.
FIGURES: Mapping[str, Figure] = {
    # Network. The EC2 calls for VPCs, subnets, gateways and routes return the object at once;
    # only the NAT gateway is created asynchronously (state pending -> available).
    "aws:ec2/vpc:Vpc": Figure(5, _SECONDS_API_CALL + " (DNS attributes are a second call)"),
    "aws:ec2/subnet:Subnet": Figure(5, _SECONDS_API_CALL),
    "aws:ec2/internetGateway:InternetGateway": Figure(3, _SECONDS_API_CALL + " (create + attach)"),
    "aws:ec2/eip:Eip": Figure(2, _SECONDS_API_CALL),
    "aws:ec2/routeTable:RouteTable": Figure(3, _SECONDS_API_CALL),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": Figure(2, _SECONDS_API_CALL),
    "aws:ec2/natGateway:NatGateway": Figure(
        90,
        "estimate: AWS documents no typical time, only the states pending -> available "
        "(EC2 API reference, NatGateway.state); the AWS CLI waiter `aws ec2 wait "
        "nat-gateway-available` polls every 15 s for up to 40 checks (10 min cap). "
        "Observed creations take one to two minutes.",
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": Figure(2, _SECONDS_API_CALL),
    # The cluster.
    "aws:eks/cluster:Cluster": Figure(
        600,
        f"AWS EKS API reference, CreateCluster ({_EKS_API_REFERENCE}): earlier editions said "
        "'Cluster creation typically takes between 10 and 15 minutes', the current one 'In "
        "most cases, it takes several minutes to create a cluster'; AWS's containers-roadmap "
        "issue #1227 tracks cutting the then 15-minute average. 10 minutes taken.",
    ),
    "aws:eks/nodeGroup:NodeGroup": Figure(
        240,
        "estimate: AWS documents no figure for CreateNodegroup; the group is ACTIVE once its "
        "Auto Scaling group's instances booted and joined the cluster, commonly 3 to 5 minutes "
        "(the alchemy.run EKS Nodegroup provider documents CREATING -> ACTIVE as ~2-5 min). "
        "4 minutes taken.",
    ),
    "aws:eks/addon:Addon": Figure(
        60,
        "estimate: CreateAddon is asynchronous and the provider waits for ACTIVE "
        "(terraform-provider-aws internal/service/eks/addon.go, waitAddonCreated); AWS documents "
        "no typical time. Adopting a running DaemonSet or rolling out two CoreDNS pods on ready "
        "nodes takes about a minute.",
    ),
    "aws:eks/accessEntry:AccessEntry": Figure(2, _SECONDS_API_CALL),
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": Figure(2, _SECONDS_API_CALL),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": Figure(1, _SECONDS_API_CALL),
    # IAM, KMS, keys: near zero, and never on the chain (see OFF_CLUSTER_TYPES).
    "aws:iam/role:Role": Figure(2, _SECONDS_API_CALL),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": Figure(1, _SECONDS_API_CALL),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": Figure(1, _SECONDS_API_CALL),
    "aws:kms/key:Key": Figure(2, _SECONDS_API_CALL),
    "aws:kms/alias:Alias": Figure(1, _SECONDS_API_CALL),
    "tls:index/privateKey:PrivateKey": Figure(
        0, "estimate: generated locally by the tls provider, milliseconds for ECDSA"
    ),
    "github:index/repository:Repository": Figure(2, _SECONDS_API_CALL),
    "github:index/repositoryDeployKey:RepositoryDeployKey": Figure(1, _SECONDS_API_CALL),
    # GitHub answers the create call at once and sends its first ping delivery afterwards.
    "github:index/repositoryWebhook:RepositoryWebhook": Figure(1, _SECONDS_API_CALL),
    "random:index/randomPassword:RandomPassword": Figure(
        0, "generated locally by the random provider: no API call"
    ),
    # Kubernetes. Plain objects exist once the API server accepted them.
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition": Figure(
        2, "estimate: accepted at once; the provider waits for the Established condition"
    ),
    "kubernetes:apps/v1:Deployment": Figure(
        60,
        "estimate: the provider waits for the rollout (available replicas); on new nodes that "
        "is pulling each controller image and passing its readiness probe. `flux bootstrap` "
        "and `flux install` wait for the same within their --timeout (default 5m0s, Flux CLI "
        "reference), an upper bound, not a typical figure.",
    ),
    "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository": Figure(
        15,
        "estimate: waitFor condition=Ready, i.e. source-controller's first clone of the branch "
        "over SSH and the artifact stored; seconds for a small repository",
    ),
    "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization": Figure(
        FIRST_APPLY.seconds + TREE_HEALTHY.seconds,
        "estimate: waitFor condition=Ready; with `wait: true` (flux/sync.py) Ready comes after the "
        "first build and server-side apply (FIRST_APPLY) and the health of everything applied, "
        "child Kustomizations and their HelmReleases included (TREE_HEALTHY)",
    ),
}
# Any Kubernetes kind not listed above: a plain object, created when the API server accepts it.
PLAIN_KUBERNETES_OBJECT = Figure(1, "estimate: one API request")
PROVIDER = Figure(0, "a provider configuration: nothing is created in the cloud")
LOAD_BALANCER_SERVICE = Figure(
    30,
    "estimate: pulumi-kubernetes reports a LoadBalancer Service created once it has an ingress "
    "address (provider/pkg/await/service.go); the cloud controller writes the NLB's DNS name "
    "there when the create calls (load balancer, target groups, listeners) return, minutes "
    "before the NLB is active and the name resolves",
)

STEP_OF_TYPE: Mapping[str, str] = {
    "aws:ec2/vpc:Vpc": NETWORK,
    "aws:ec2/subnet:Subnet": NETWORK,
    "aws:ec2/internetGateway:InternetGateway": NETWORK,
    "aws:ec2/eip:Eip": NETWORK,
    "aws:ec2/routeTable:RouteTable": NETWORK,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": NETWORK,
    "aws:ec2/natGateway:NatGateway": NETWORK,
    "aws:eks/cluster:Cluster": CLUSTER,
    "aws:eks/nodeGroup:NodeGroup": NODE_GROUP,
    "kubernetes:apps/v1:Deployment": CONTROLLERS_READY,
    "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository": FIRST_SYNC,
    "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization": FIRST_SYNC,
}

# Resources that do not need the cluster: creating them must overlap the control plane's minutes.
OFF_CLUSTER_TYPE_PREFIXES = ("aws:iam/", "aws:kms/", "tls:", "github:")

# What a new environment cost before: build the cluster (eksctl or a console walk-through create
# these one after the other), then an operator runs `flux bootstrap github`, which pushes the
# manifests, installs the controllers and waits for them, registers a deploy key, applies the
# sync objects and waits for the first reconciliation. Each step's figure is the table's.
HAND_OFF = Figure(
    120,
    "estimate: the operator notices the cluster is up, runs `aws eks update-kubeconfig`, "
    "exports a GitHub token and starts `flux bootstrap`, which first clones the repository "
    "and pushes the generated manifests",
)
SEQUENTIAL_FLOW: Sequence[tuple[str, Figure]] = (
    ("create the VPC", FIGURES["aws:ec2/vpc:Vpc"]),
    ("create the subnets", FIGURES["aws:ec2/subnet:Subnet"]),
    ("create the internet gateway", FIGURES["aws:ec2/internetGateway:InternetGateway"]),
    ("create the NAT gateway", FIGURES["aws:ec2/natGateway:NatGateway"]),
    ("create the route tables", FIGURES["aws:ec2/routeTable:RouteTable"]),
    ("create the cluster role", FIGURES["aws:iam/role:Role"]),
    ("create the secrets key", FIGURES["aws:kms/key:Key"]),
    ("create the control plane", FIGURES["aws:eks/cluster:Cluster"]),
    (
        "grant the operator access",
        FIGURES["aws:eks/accessPolicyAssociation:AccessPolicyAssociation"],
    ),
    ("create the node role", FIGURES["aws:iam/role:Role"]),
    ("create the node group", FIGURES["aws:eks/nodeGroup:NodeGroup"]),
    ("operator hand-off", HAND_OFF),
    ("bootstrap: install, wait for the controllers", FIGURES["kubernetes:apps/v1:Deployment"]),
    ("bootstrap: generate the deploy key", FIGURES["tls:index/privateKey:PrivateKey"]),
    (
        "bootstrap: register the deploy key",
        FIGURES["github:index/repositoryDeployKey:RepositoryDeployKey"],
    ),
    (
        "bootstrap: wait for the source",
        FIGURES["kubernetes:source.toolkit.fluxcd.io/v1:GitRepository"],
    ),
    # `flux bootstrap` waits for its Kustomization Ready, which without `wait` means applied; the
    # environment is usable once the charts are up, as with the program's own sync.
    ("bootstrap: wait for the first sync", FIRST_APPLY),
    ("the cluster's charts become healthy", TREE_HEALTHY),
)


class UnknownResourceTypeError(Exception):
    """A resource type with no creation figure: add one, with its source, to FIGURES."""


def figure_for(type_token: str) -> Figure:
    if type_token in FIGURES:
        return FIGURES[type_token]
    if type_token.startswith("pulumi:providers:"):
        return PROVIDER
    if type_token.startswith("kubernetes:"):
        return PLAIN_KUBERNETES_OBJECT
    raise UnknownResourceTypeError(
        f"no creation time for {type_token}; add it, with its source, to FIGURES in "
        "tools/critical_path.py"
    )


def is_off_cluster(type_token: str) -> bool:
    return type_token.startswith(OFF_CLUSTER_TYPE_PREFIXES)


def creation_prerequisites(resources: Sequence[RecordedResource]) -> dict[str, set[str]]:
    """For each resource the engine creates (URN), the URNs it has to wait for.

    Components are not created; a dependency on one is a dependency on everything created under it.
    """
    children: dict[str, list[str]] = {}
    for resource in resources:
        if resource.parent:
            children.setdefault(resource.parent, []).append(resource.urn)
    custom = {resource.urn for resource in resources if resource.custom}
    by_type_and_name = {type_and_name(resource.urn): resource.urn for resource in resources}

    def created(urn: str) -> set[str]:
        if urn in custom:
            return {urn}
        return {leaf for child in children.get(urn, []) for leaf in created(child)}

    graph: dict[str, set[str]] = {}
    for resource in resources:
        if not resource.custom:
            continue
        waits = set(resource.dependencies)
        for urns in resource.property_dependencies.values():
            waits.update(urns)
        if resource.provider and resource.provider in by_type_and_name:
            waits.add(by_type_and_name[resource.provider])
        graph[resource.urn] = {leaf for urn in waits for leaf in created(urn)} - {resource.urn}
    return graph


def longest_path(
    durations: Mapping[str, float], prerequisites: Mapping[str, Iterable[str]]
) -> tuple[float, list[str]]:
    """The chain of nodes whose durations add up to the latest finish, first node first.

    Every node starts when the last of its prerequisites finished. Ties go to the node whose name
    sorts first, so the answer does not depend on dict order."""
    finish: dict[str, float] = {}
    previous: dict[str, str | None] = {}
    order = graphlib.TopologicalSorter(
        {node: set(prerequisites.get(node, ())) for node in durations}
    )
    for node in order.static_order():
        before = sorted(prerequisites.get(node, ()), key=lambda p: (-finish[p], p))
        previous[node] = before[0] if before else None
        finish[node] = durations[node] + (finish[before[0]] if before else 0.0)
    if not finish:
        return 0.0, []
    last = min(finish, key=lambda node: (-finish[node], node))
    chain: list[str] = []
    cursor: str | None = last
    while cursor is not None:
        chain.append(cursor)
        cursor = previous[cursor]
    return finish[last], chain[::-1]


@dataclass(frozen=True)
class Link:
    type: str
    name: str
    step: str | None
    start_seconds: float
    figure: Figure


@dataclass(frozen=True)
class CriticalPath:
    seconds: float
    links: list[Link]

    def steps(self) -> list[str]:
        """The named steps along the chain, in order, each once per stretch."""
        steps: list[str] = []
        for link in self.links:
            if link.step is not None and (not steps or steps[-1] != link.step):
                steps.append(link.step)
        return steps

    def off_cluster_links(self) -> list[Link]:
        return [link for link in self.links if is_off_cluster(link.type)]


def resource_figure(resource: RecordedResource) -> Figure:
    """A figure per type, except a Service, whose wait depends on its spec."""
    if (resource.plain_inputs.get("spec") or {}).get("type") == "LoadBalancer":
        return LOAD_BALANCER_SERVICE
    return figure_for(resource.type)


def critical_path(resources: Sequence[RecordedResource]) -> CriticalPath:
    by_urn = {resource.urn: resource for resource in resources}
    prerequisites = creation_prerequisites(resources)
    durations = {urn: resource_figure(by_urn[urn]).seconds for urn in prerequisites}
    seconds, chain = longest_path(durations, prerequisites)
    links: list[Link] = []
    elapsed = 0.0
    for urn in chain:
        resource = by_urn[urn]
        figure = resource_figure(resource)
        links.append(
            Link(resource.type, resource.name, STEP_OF_TYPE.get(resource.type), elapsed, figure)
        )
        elapsed += figure.seconds
    return CriticalPath(seconds, links)


def sequential_seconds() -> float:
    return sum(figure.seconds for _, figure in SEQUENTIAL_FLOW)


def minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s"


def report(stack: str, path: CriticalPath) -> str:
    lines = [f"critical path of a new {stack} environment: {minutes(path.seconds)} (estimate)"]
    lines += [
        f"  {minutes(link.start_seconds):>7} +{minutes(link.figure.seconds):>7}  "
        f"{link.step or '':17} {link.type}::{link.name}"
        for link in path.links
    ]
    lines.append(f"  steps: {' -> '.join(path.steps())}")
    sequential = sequential_seconds()
    lines.append(
        f"sequential flow it replaces (build the cluster, then `flux bootstrap` by hand): "
        f"{minutes(sequential)} (estimate)"
    )
    elapsed = 0.0
    for label, figure in SEQUENTIAL_FLOW:
        lines.append(f"  {minutes(elapsed):>7} +{minutes(figure.seconds):>7}  {label}")
        elapsed += figure.seconds
    lines.append(
        f"saved: {minutes(sequential - path.seconds)} "
        f"({(sequential - path.seconds) / sequential:.0%} of the sequential flow)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.critical_path", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument(
        "--flux-manifests", type=Path, help="a Flux install.yaml to expand the toolkit from"
    )
    args = parser.parse_args(argv)
    try:
        plan = plan_stack(args.stack, flux_manifests=args.flux_manifests)
        path = critical_path(plan.run.resources)
    except (PlanError, UnknownResourceTypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    toolkit = plan.toolkit_entry()
    if toolkit is not None and not toolkit.get("expanded"):
        # Without the controllers the chain would end at the node group and look shorter than it is.
        print(
            f"error: the Flux {toolkit.get('version')} manifests are not available offline, so the "
            "controllers are not in the plan; pass --flux-manifests FILE",
            file=sys.stderr,
        )
        return 2
    print(report(args.stack, path))
    off_cluster = path.off_cluster_links()
    if off_cluster:
        names = ", ".join(f"{link.type}::{link.name}" for link in off_cluster)
        print(
            f"error: resources that do not need the cluster are on the chain: {names}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
