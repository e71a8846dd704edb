"""Routine upgrades update the cluster, its CRDs and the toolkit namespace in place.

A Kubernetes version bump and a Flux upgrade are planned before and after; for the resources whose loss would take workloads or custom resources with them, the URN must
stay the same (a new URN is a delete plus a create) and no input the provider replaces on may change.

Replace-forcing inputs, in Pulumi's input names. pulumi-aws wraps the Terraform AWS provider, whose
schema marks these ForceNew (internal/service/eks/cluster.go and node_group.go; the EKS API offers no
update call for them either):
- EKS Cluster: name, roleArn, kubernetesNetworkConfig, bootstrapSelfManagedAddons,
  accessConfig.bootstrapClusterCreatorAdminPermissions, outpostConfig; encryptionConfig can be added
  but never removed or pointed at another key. `version` is an in-place UpdateClusterVersion.
  vpcConfig.subnetIds and .securityGroupIds are updated in place now (UpdateClusterConfig), but only
  within the cluster's original zones, so an upgrade must not touch them either.
- EKS NodeGroup: clusterName, nodeGroupName, nodeGroupNamePrefix, nodeRoleArn, subnetIds, amiType,
  capacityType, diskSize, instanceTypes, launchTemplate.id/.name, remoteAccess. `version`,
  launchTemplate.version and scalingConfig update in place.
- EKS Addon: addonName and clusterName (internal/service/eks/addon.go); addonVersion is an in-place
  UpdateAddon.
- Kubernetes objects: the provider replaces an object whose metadata.name or metadata.namespace
  changes (a different object to the API server). A CRD's name is `<plural>.<group>`, so it covers
  the group and plural too.
- Kubernetes provider: a different kubeconfig can point at a different cluster; the provider then
  replaces every object it manages, so it must not change on these upgrades either.

The node group's own replace-forcing settings (instance types, zones, capacity and AMI type) roll it
to a new group instead: tests/test_node_roll.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from eks_gitops.settings.model import EKS_ADDONS, SUPPORTED_KUBERNETES_VERSIONS
from tests.conftest import ENVIRONMENTS, FLUX_V285, repo_plan, stack_document
from tests.graph_support import Graph, Node, graph_of
from tools.plan import Plan

EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
NAMESPACE = "kubernetes:core/v1:Namespace"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"

REPLACE_FORCING_INPUTS: dict[str, tuple[str, ...]] = {
    EKS_CLUSTER: (
        "name",
        "roleArn",
        "vpcConfig.subnetIds",
        "vpcConfig.securityGroupIds",
        "encryptionConfig",
        "kubernetesNetworkConfig",
        "bootstrapSelfManagedAddons",
        "accessConfig.bootstrapClusterCreatorAdminPermissions",
        "outpostConfig",
    ),
    NODE_GROUP: (
        "clusterName",
        "nodeGroupName",
        "nodeGroupNamePrefix",
        "nodeRoleArn",
        "subnetIds",
        "amiType",
        "capacityType",
        "diskSize",
        "instanceTypes",
        "launchTemplate.id",
        "launchTemplate.name",
        "remoteAccess",
    ),
    ADDON: ("addonName", "clusterName"),
    NAMESPACE: ("metadata.name",),
    CRD: ("metadata.name",),
    KUBERNETES_PROVIDER: ("kubeconfig", "cluster", "context"),
}


def input_at(inputs: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(inputs, dict):
            return None
        inputs = inputs.get(part)
    return inputs


def replacements(
    before: Graph, after: Graph, types: Iterable[str] = REPLACE_FORCING_INPUTS
) -> list[str]:
    """Each guarded resource the update would delete or replace, and why."""
    found = []
    for type_token in types:
        for old in before.of_type(type_token):
            label = f"{old.type}::{old.name}"
            new = after.nodes.get(old.urn)
            if new is None:
                found.append(f"{label}: URN gone (deleted, not updated)")
                continue
            for path in REPLACE_FORCING_INPUTS[type_token]:
                if input_at(old.inputs, path) != input_at(new.inputs, path):
                    found.append(f"{label}: {path} changed")
    return found


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = document["config"]
    for part in parents:
        node = node[part]
    node[last] = value


@pytest.fixture
def plan_with(plan_edited: Callable[..., Plan]) -> Callable[..., Graph]:
    def run(stack: str, path: str, value: Any, **options: Any) -> Graph:
        return graph_of(plan_edited(stack, lambda d: set_path(d, path, value), **options))

    return run


def _upgraded(bumped: str) -> Callable[[dict[str, Any]], None]:
    """The change an upgrade is: the Kubernetes version and, with it, every add-on's version."""

    def edit(document: dict[str, Any]) -> None:
        section = document["config"]["eks-gitops:cluster"]
        section["kubernetesVersion"] = bumped
        section["addons"] = {
            name: f"v{bumped}.0-eksbuild.1" if name == "kube-proxy" else f"{version}9"
            for name, version in section["addons"].items()
        }

    return edit


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_kubernetes_version_bump_updates_cluster_nodes_and_addons_in_place(
    stack: str, plan_edited: Callable[..., Plan]
) -> None:
    current = stack_document(stack)["config"]["eks-gitops:cluster"]["kubernetesVersion"]
    bumped = SUPPORTED_KUBERNETES_VERSIONS[SUPPORTED_KUBERNETES_VERSIONS.index(current) + 1]
    before = graph_of(repo_plan(stack))
    after = graph_of(plan_edited(stack, _upgraded(bumped)))
    assert replacements(before, after) == []
    cluster = after.of_type(EKS_CLUSTER)[0]
    node_group = after.of_type(NODE_GROUP)[0]
    # The bump did reach both, as in-place version updates.
    assert input_at(before.nodes[cluster.urn].inputs, "version") == current
    assert (cluster.inputs["version"], node_group.inputs["version"]) == (bumped, bumped)
    # ...and every add-on, same URN, new version.
    addons = after.of_type(ADDON)
    assert len(addons) == len(EKS_ADDONS)
    for addon in addons:
        old = before.nodes[addon.urn].inputs["addonVersion"]
        assert addon.inputs["addonVersion"] != old


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_flux_upgrade_keeps_every_crd_and_the_namespace(
    stack: str, plan_with: Callable[..., Graph]
) -> None:
    before = plan_with(stack, "eks-gitops:toolkit.version", "v2.8.5", flux_manifests=FLUX_V285)
    after = graph_of(repo_plan(stack))
    assert replacements(before, after) == []
    # The upgrade really changed the toolkit objects (so the comparison above saw a Flux change).
    namespace = before.find(NAMESPACE, "gitops-system")
    assert input_at(namespace.inputs, "metadata.labels")["app.kubernetes.io/version"] == "v2.8.5"
    assert (
        input_at(after.nodes[namespace.urn].inputs, "metadata.labels")["app.kubernetes.io/version"]
        == "v2.9.4"
    )
    assert len(before.of_type(CRD)) >= 10


def _renamed(node: Node, path: str, value: Any) -> Node:
    inputs = dict(node.inputs)
    *parents, last = path.split(".")
    target = inputs
    for part in parents:
        target[part] = dict(target[part])
        target = target[part]
    target[last] = value
    return dataclasses.replace(node, inputs=inputs)


def test_a_crd_whose_name_changes_is_caught() -> None:
    before = graph_of(repo_plan("dev"))
    crd = before.find(CRD, "kustomizations.kustomize.toolkit.fluxcd.io")
    after = before.replacing(_renamed(crd, "metadata.name", "kustomizations.example.com"))
    assert replacements(before, after) == [f"{CRD}::{crd.name}: metadata.name changed"]


def test_a_crd_whose_resource_name_changes_is_caught() -> None:
    before = graph_of(repo_plan("dev"))
    crd = before.find(CRD, "gitrepositories.source.toolkit.fluxcd.io")
    moved = dataclasses.replace(crd, urn=crd.urn + "-v2", name=crd.name + "-v2")
    after = Graph({**{u: n for u, n in before.nodes.items() if u != crd.urn}, moved.urn: moved})
    assert replacements(before, after) == [f"{CRD}::{crd.name}: URN gone (deleted, not updated)"]


def test_a_cluster_whose_name_changes_is_caught() -> None:
    before = graph_of(repo_plan("prod"))
    (cluster,) = before.of_type(EKS_CLUSTER)
    after = before.replacing(_renamed(cluster, "name", "gitops-prod-2"))
    assert replacements(before, after) == [f"{EKS_CLUSTER}::{cluster.name}: name changed"]
