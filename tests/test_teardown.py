"""`pulumi destroy` takes the cluster apart in an order that cannot strand anything.

Flux's sync objects carry finalizers only the controllers release; custom resources vanish with their
CRDs; a namespace waits for its contents; nothing Kubernetes-side can be deleted once the node
group or the cluster is gone; and a load balancer a chart created keeps its subnets, security group
and so the VPC from being deleted until Flux has uninstalled the chart. The engine deletes a
resource before everything it depends on, so each of these orderings has to be an edge (or chain of
edges) in the recorded graph. And each wait has to be long enough: Pulumi must outwait Flux.
"""

from __future__ import annotations

import dataclasses

import pytest

from eks_gitops.flux.sync import DELETION_POLICY
from eks_gitops.settings.parse import parse_go_duration
from tests.conftest import ENVIRONMENTS, OPERATOR_STACKS, repo_plan
from tests.gitops_support import flux_timeout_seconds
from tests.graph_support import Graph, Node, destroy_order, graph_of, must_delete_before

GIT_REPOSITORY = "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository"
KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
RECEIVER = "kubernetes:notification.toolkit.fluxcd.io/v1:Receiver"
FLUX_INSTANCE = "kubernetes:fluxcd.controlplane.io/v1:FluxInstance"
SERVICE = "kubernetes:core/v1:Service"
SYNC_COMPONENT = "eks-gitops:sync:Sync"
COMMIT_STATUS_COMPONENT = "eks-gitops:notifications:CommitStatus"
TOOLKIT_COMPONENT = "eks-gitops:toolkit:Toolkit"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
NAMESPACE = "kubernetes:core/v1:Namespace"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
ADDON = "aws:eks/addon:Addon"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
NETWORK = (
    VPC,
    SUBNET,
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
)


def kubernetes_objects(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes.values() if n.type.startswith("kubernetes:")]


def load_balancers(graph: Graph) -> list[Node]:
    return [n for n in graph.of_type(SERVICE) if n.inputs["spec"].get("type") == "LoadBalancer"]


def storage_credentials(graph: Graph) -> list[Node]:
    """What the EBS CSI controller works with: its add-on, its IAM role and that role's policy
    attachment, and the OIDC provider the role trusts (IAM roles for service accounts)."""
    [addon] = [n for n in graph.of_type(ADDON) if n.inputs["addonName"] == "aws-ebs-csi-driver"]
    [role] = [n for n in graph.of_type(ROLE) if n.urn in addon.depends_on]
    attachments = [n for n in graph.of_type(ATTACHMENT) if n.inputs["policyArn"] == EBS_CSI_POLICY]
    return [addon, role, *attachments, *graph.of_type(OIDC_PROVIDER)]


def teardown_violations(graph: Graph) -> list[str]:
    """Every pair the destroy could take in the wrong order, as 'A must go before B'."""
    # notification-controller holds a finalizer on each Receiver until it sees the deletion
    # (fluxcd/notification-controller internal/controller/receiver_controller.go, Reconcile:
    # AddFinalizer, RemoveFinalizer once DeletionTimestamp is set), like the sync objects' own.
    bootstrap = graph.of_type(GIT_REPOSITORY) + graph.of_type(KUSTOMIZATION)
    sync = bootstrap + graph.of_type(RECEIVER)
    controllers = graph.of_type(DEPLOYMENT)
    foundations = graph.of_type(CRD) + graph.of_type(NAMESPACE)
    infrastructure = graph.of_type(NODE_GROUP) + graph.of_type(EKS_CLUSTER)
    network = [node for type_token in NETWORK for node in graph.of_type(type_token)]
    # With the operator installer, deleting the FluxInstance uninstalls Flux: the operator deletes
    # the controllers, strips the finalizers of every Flux object left and deletes Flux's CRDs
    # (controlplaneio-fluxcd/flux-operator internal/controller/fluxinstance_uninstaller.go). So every
    # Flux object Pulumi declared goes first, while the controllers still prune and release it, and
    # the operator outlives the instance to run that uninstall and release the instance's finalizer.
    flux_objects = [
        n for n in kubernetes_objects(graph) if ".toolkit.fluxcd.io/" in n.type.split(":")[1]
    ]
    instances = graph.of_type(FLUX_INSTANCE)
    required = [
        *((f, i) for f in flux_objects for i in instances),
        *((i, c) for i in instances for c in controllers),
        *((s, c) for s in sync for c in controllers),
        *((c, f) for c in controllers for f in foundations),
        *((ns, i) for ns in graph.of_type(NAMESPACE) for i in infrastructure),
        *((k, i) for k in kubernetes_objects(graph) for i in infrastructure),
        # Flux's uninstall of a chart removes its load balancer, whose interfaces sit in the
        # subnets and need the internet gateway's routes until then.
        *((s, n) for s in sync for n in network),
        # Pruning deletes the PersistentVolumeClaims Flux applied; with reclaimPolicy Delete the EBS
        # CSI controller then detaches and deletes each volume (ec2:DetachVolume, ec2:DeleteVolume
        # in AmazonEBSCSIDriverPolicy) with credentials it gets through its role, which trusts the
        # cluster's OIDC provider (https://docs.aws.amazon.com/eks/latest/userguide/csi-iam-role.html).
        # Take any of them away while Flux prunes for up to sync.timeout and the volumes stay behind.
        *((s, c) for s in bootstrap for c in storage_credentials(graph)),
        # A LoadBalancer Service carries service.kubernetes.io/load-balancer-cleanup until the cloud
        # provider has deleted its load balancer (KEP-980, kubernetes/enhancements
        # keps/sig-network/980-load-balancer-finalizer; k8s.io/cloud-provider
        # controllers/service/controller.go), and the service controller runs in the EKS control
        # plane. The NLB's interfaces and public addresses sit in the subnets, and EC2 refuses to
        # detach the internet gateway while a VPC has mapped public addresses
        # (DetachInternetGateway: DependencyViolation), so the Service goes while the cluster and
        # the network still run. Nodes are only its targets: it need not outlive them.
        *((lb, n) for lb in load_balancers(graph) for n in [*graph.of_type(EKS_CLUSTER), *network]),
        *((ng, n) for ng in graph.of_type(NODE_GROUP) for n in network),
        *(
            (c, n)
            for c in graph.of_type(EKS_CLUSTER)
            for n in graph.of_type(SUBNET) + graph.of_type(VPC)
        ),
    ]
    return [
        f"{first.type}::{first.name} must be deleted before {then.type}::{then.name}"
        for first, then in required
        if not must_delete_before(graph, first.urn, then.urn)
    ]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_destroy_order_releases_finalizers_before_their_controllers_and_the_cluster_go(
    stack: str,
) -> None:
    graph = graph_of(repo_plan(stack))
    # Every group the rules talk about is present, so no rule is vacuously true.
    for type_token in (
        GIT_REPOSITORY,
        KUSTOMIZATION,
        DEPLOYMENT,
        CRD,
        NAMESPACE,
        NODE_GROUP,
        EKS_CLUSTER,
        *NETWORK,
        OIDC_PROVIDER,
    ):
        assert graph.of_type(type_token), type_token
    assert len(storage_credentials(graph)) == 4
    assert teardown_violations(graph) == []


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_one_concrete_destroy_order_follows_the_rules(stack: str) -> None:
    graph = graph_of(repo_plan(stack))
    order = destroy_order(graph)
    position = {urn: index for index, urn in enumerate(order)}
    kustomization = graph.of_type(KUSTOMIZATION)[0]
    # The first controller to go after the sync: a Flux controller, or with the operator installer
    # the operator, which must outlive the FluxInstance to uninstall Flux and release its finalizer.
    source_controller = graph.find(
        DEPLOYMENT,
        "gitops-system/flux-operator"
        if stack in OPERATOR_STACKS
        else "gitops-system/source-controller",
    )
    namespace = graph.find(NAMESPACE, "gitops-system")
    node_group = graph.of_type(NODE_GROUP)[0]
    cluster = graph.of_type(EKS_CLUSTER)[0]
    vpc = graph.of_type(VPC)[0]
    assert (
        position[kustomization.urn]
        < position[source_controller.urn]
        < position[namespace.urn]
        < position[node_group.urn]
        < position[cluster.urn]
        < position[vpc.urn]
    )
    assert position[vpc.urn] > max(position[n.urn] for n in graph.of_type(SUBNET))
    # Every resource appears once, each after all of its dependents.
    assert sorted(order) == sorted(graph.nodes)
    for node in graph.nodes.values():
        for dependency in node.depends_on:
            assert position[node.urn] < position[dependency]


@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_the_webhook_receiver_and_its_load_balancer_are_in_the_rules(stack: str) -> None:
    # Present where the webhook is on, so the rules above are not vacuous for them there.
    graph = graph_of(repo_plan(stack))
    assert len(graph.of_type(RECEIVER)) == 1
    assert len(load_balancers(graph)) == 1
    order = destroy_order(graph)
    [load_balancer] = load_balancers(graph)
    assert order.index(load_balancer.urn) < order.index(graph.of_type(VPC)[0].urn)


def test_a_load_balancer_left_to_outlive_the_network_is_caught() -> None:
    graph = graph_of(repo_plan("dev"))
    [load_balancer] = load_balancers(graph)
    # Only its provider left: the cluster (and so subnets and VPC) still outlive it, the gateway and
    # the NAT no longer do.
    provider = next(urn for urn in load_balancer.depends_on if "pulumi:providers:" in urn)
    broken = graph.replacing(dataclasses.replace(load_balancer, depends_on=frozenset({provider})))
    violations = teardown_violations(broken)
    assert violations
    assert all(
        violation.startswith(f"{SERVICE}::{load_balancer.name} ") for violation in violations
    )
    assert any("aws:ec2/internetGateway:InternetGateway" in violation for violation in violations)


def test_a_graph_missing_the_sync_to_controller_edges_is_caught() -> None:
    graph = graph_of(repo_plan("qa"))
    controller = graph.find(DEPLOYMENT, "gitops-system/kustomize-controller")
    sync = graph.of_type(GIT_REPOSITORY) + graph.of_type(KUSTOMIZATION)
    # The sync's components hold the edges to the controllers for everything declared in them;
    # the commit-status objects the sync also waits on reach the controllers too, so that path goes
    # as well, or it would still order the sync before the controller.
    broken = graph.without_edge(graph.find(SYNC_COMPONENT, "sync").urn, controller.urn)
    broken = broken.without_edge(
        graph.find(COMMIT_STATUS_COMPONENT, "commit-status").urn, controller.urn
    )
    assert teardown_violations(broken) == [
        f"{node.type}::{node.name} must be deleted before {DEPLOYMENT}::{controller.name}"
        for node in sync
    ]


def test_a_sync_not_tied_to_what_the_storage_driver_authenticates_with_is_caught() -> None:
    graph = graph_of(repo_plan("dev"))
    component = graph.find(SYNC_COMPONENT, "sync")
    credentials = storage_credentials(graph)
    sync = graph.of_type(GIT_REPOSITORY) + graph.of_type(KUSTOMIZATION)
    # The sync reaches them through its own edges and through the default StorageClass, which
    # follows the driver: both have to go. (A dependency on a component is recorded as one on the
    # resources in it.)
    [storage_class] = graph.of_type(STORAGE_CLASS)
    broken = graph.without_edge(component.urn, storage_class.urn)
    for credential in credentials:
        broken = broken.without_edge(component.urn, credential.urn)
    assert teardown_violations(broken) == [
        f"{node.type}::{node.name} must be deleted before {credential.type}::{credential.name}"
        for node in sync
        for credential in credentials
    ]


@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_a_namespace_not_tied_to_the_node_group_is_caught(stack: str) -> None:
    # dev on the operator installer (fewer toolkit objects: the operator's), qa on manifests.
    graph = graph_of(repo_plan(stack))
    toolkit = graph.find(TOOLKIT_COMPONENT, "toolkit")
    node_group = graph.of_type(NODE_GROUP)[0]
    broken = graph.without_edge(toolkit.urn, node_group.urn)
    violations = teardown_violations(broken)
    # Every Kubernetes object that follows the nodes only through the toolkit loses its place
    # before them, and what outlived the network only through the nodes loses that too. (The
    # default StorageClass and the sync objects keep it through the EBS CSI add-on, which runs on
    # the nodes.)
    [addon] = storage_credentials(graph)[:1]
    through_toolkit = [
        n
        for n in kubernetes_objects(graph)
        if graph.reaches(n.urn, toolkit.urn) and not graph.reaches(n.urn, addon.urn)
    ]
    assert len(through_toolkit) > 10
    for node in through_toolkit:
        assert (
            f"{node.type}::{node.name} must be deleted before {NODE_GROUP}::{node_group.name}"
            in (violations)
        )


def test_a_network_not_outliving_the_sync_objects_is_caught() -> None:
    graph = graph_of(repo_plan("dev"))
    vpc = graph.of_type(VPC)[0]
    broken = graph
    for node in graph.nodes.values():
        if vpc.urn in node.depends_on:
            broken = broken.without_edge(node.urn, vpc.urn)
    violations = teardown_violations(broken)
    for node in (
        graph.of_type(KUSTOMIZATION) + graph.of_type(NODE_GROUP) + graph.of_type(EKS_CLUSTER)
    ):
        assert f"{node.type}::{node.name} must be deleted before {VPC}::{vpc.name}" in violations


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_deleting_the_sync_waits_for_flux_to_remove_what_it_applied(stack: str) -> None:
    plan = repo_plan(stack)
    [kustomization] = plan.run.of_type(KUSTOMIZATION)
    spec = kustomization.plain_inputs["spec"]
    # Flux Kustomization v1 API reference, "Deletion policy"
    # (https://fluxcd.io/flux/components/kustomize/kustomizations/#deletion-policy): the default,
    # MirrorPrune, deletes what was applied without waiting; WaitForTermination keeps the
    # finalizer until it is gone from etcd or spec.timeout passes
    # (fluxcd/kustomize-controller internal/controller/kustomization_controller.go, finalize:
    # WaitForSetTermination with GetTimeout(), then RemoveFinalizer).
    assert spec["deletionPolicy"] == DELETION_POLICY == "WaitForTermination"
    assert spec["timeout"] == plan.settings.sync.timeout
    flux_wait = flux_timeout_seconds(spec)
    # pulumi-kubernetes provider/pkg/await/await.go, Deletion: the delete waits for the object to
    # be gone for the resource's custom delete timeout, else the pulumi.com/timeoutSeconds
    # annotation (provider/pkg/metadata/overrides.go, TimeoutDuration), else 10 minutes. The custom
    # timeout is a duration string such as 5m or 40s (pulumi SDK, pulumi/resource.py,
    # CustomTimeouts).
    for sync_object in [*plan.run.of_type(GIT_REPOSITORY), kustomization]:
        delete = sync_object.custom_timeouts.get("delete", "")
        assert delete, f"{sync_object.name} has no delete timeout"
        assert parse_go_duration(delete) // 10**9 > flux_wait, (sync_object.name, delete)
