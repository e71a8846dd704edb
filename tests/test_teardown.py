"""`pulumi destroy` takes the cluster apart in an order that cannot strand anything.

Flux's sync objects carry finalizers only the controllers release; custom resources vanish with their
CRDs; a namespace waits for its contents; and nothing Kubernetes-side can be deleted once the node
group or the cluster is gone. The engine deletes a resource before everything it depends on, so
each of these orderings has to be an edge (or chain of edges) in the recorded graph.
"""

from __future__ import annotations

import pytest

from tests.conftest import ENVIRONMENTS, repo_plan
from tests.graph_support import Graph, Node, destroy_order, graph_of, must_delete_before

GIT_REPOSITORY = "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository"
KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
NAMESPACE = "kubernetes:core/v1:Namespace"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"


def kubernetes_objects(graph: Graph) -> list[Node]:
    return [n for n in graph.nodes.values() if n.type.startswith("kubernetes:")]


def teardown_violations(graph: Graph) -> list[str]:
    """Every pair the destroy could take in the wrong order, as 'A must go before B'."""
    sync = graph.of_type(GIT_REPOSITORY) + graph.of_type(KUSTOMIZATION)
    controllers = graph.of_type(DEPLOYMENT)
    foundations = graph.of_type(CRD) + graph.of_type(NAMESPACE)
    infrastructure = graph.of_type(NODE_GROUP) + graph.of_type(EKS_CLUSTER)
    required = [
        *((s, c) for s in sync for c in controllers),
        *((c, f) for c in controllers for f in foundations),
        *((ns, i) for ns in graph.of_type(NAMESPACE) for i in infrastructure),
        *((k, i) for k in kubernetes_objects(graph) for i in infrastructure),
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
    for type_token in (GIT_REPOSITORY, KUSTOMIZATION, DEPLOYMENT, CRD, NAMESPACE, NODE_GROUP):
        assert graph.of_type(type_token), type_token
    assert teardown_violations(graph) == []


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_one_concrete_destroy_order_follows_the_rules(stack: str) -> None:
    graph = graph_of(repo_plan(stack))
    order = destroy_order(graph)
    position = {urn: index for index, urn in enumerate(order)}
    kustomization = graph.of_type(KUSTOMIZATION)[0]
    source_controller = graph.find(DEPLOYMENT, "gitops-system/source-controller")
    namespace = graph.find(NAMESPACE, "gitops-system")
    node_group = graph.of_type(NODE_GROUP)[0]
    cluster = graph.of_type(EKS_CLUSTER)[0]
    assert (
        position[kustomization.urn]
        < position[source_controller.urn]
        < position[namespace.urn]
        < position[node_group.urn]
        < position[cluster.urn]
    )
    # Every resource appears once, each after all of its dependents.
    assert sorted(order) == sorted(graph.nodes)
    for node in graph.nodes.values():
        for dependency in node.depends_on:
            assert position[node.urn] < position[dependency]


def test_a_graph_missing_the_sync_to_controller_edges_is_caught() -> None:
    graph = graph_of(repo_plan("dev"))
    controller = graph.find(DEPLOYMENT, "gitops-system/kustomize-controller")
    sync = graph.of_type(GIT_REPOSITORY) + graph.of_type(KUSTOMIZATION)
    broken = graph
    for node in sync:
        broken = broken.without_edge(node.urn, controller.urn)
    assert teardown_violations(broken) == [
        f"{node.type}::{node.name} must be deleted before {DEPLOYMENT}::{controller.name}"
        for node in sync
    ]


def test_a_namespace_not_tied_to_the_node_group_is_caught() -> None:
    graph = graph_of(repo_plan("dev"))
    namespace = graph.find(NAMESPACE, "gitops-system")
    node_group = graph.of_type(NODE_GROUP)[0]
    broken = graph.without_edge(namespace.urn, node_group.urn)
    violations = teardown_violations(broken)
    assert f"{NAMESPACE}::gitops-system must be deleted before {NODE_GROUP}::{node_group.name}" in (
        violations
    )
    # Cluster-scoped objects reach the node group on their own edges; only what hangs off the
    # namespace loses it.
    assert all(node_group.name in violation for violation in violations)
