"""Node settings that EKS applies only by replacing the node group roll it create-before-delete.

terraform-provider-aws internal/service/eks/node_group.go (resourceNodeGroup schema): `subnet_ids`,
`instance_types`, `capacity_type`, `ami_type`, `cluster_name`, `node_group_name_prefix` and
`node_role_arn` are ForceNew; `scaling_config`, `labels`, `taint` and `update_config` are updated in
place (UpdateNodegroupConfig), `version` and `launch_template.version` too (UpdateNodegroupVersion,
which rolls the nodes itself). resourceNodeGroupCreate returns only once waitNodegroupCreated has
seen the group ACTIVE (status CREATE_FAILED, with the health issues, when nodes fail to join).

The node group's resource name carries a digest of those settings, so a change of one declares a new
group: the engine creates it (and waits for ACTIVE) among the update's creates, and deletes the old
one, which has left the program, after every create and update (tests/graph_support.py). EKS drains
the old nodes while deleting the group ("Delete a managed node group from your cluster", Amazon EKS
User Guide: "Before each instance is terminated, Amazon EKS sends a signal to drain that node").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from eks_gitops.aws.cluster import CLUSTER_SUBNETS_INPUT, node_group_name
from eks_gitops.settings.model import NodeGroupConfig
from tests.conftest import ENVIRONMENTS, repo_plan, stack_document
from tests.graph_support import Graph, UpdateSteps, graph_of, update_steps
from tools.plan import Plan

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
IAM_ROLE = "aws:iam/role:Role"
ADDON = "aws:eks/addon:Addon"
TOOLKIT = "eks-gitops:toolkit:Toolkit"
SUBNET = "aws:ec2/subnet:Subnet"
# What appending a zone may add to the network (a NAT gateway only without singleNatGateway).
ZONE_RESOURCES = {
    SUBNET,
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/eip:Eip",
}
# The mock engine's regions have zones a to c (tools/offline/outputs.py, getAvailabilityZones).
REGION_ZONES = 3

NODES = NodeGroupConfig(
    instance_types=("m6i.xlarge",),
    min_size=2,
    desired_size=2,
    max_size=4,
    disk_size_gib=50,
    capacity_type="ON_DEMAND",
    ami_type="AL2023_x86_64_STANDARD",
    metadata_hop_limit=1,
)
SUBNETS = ("eu-west-1a 10.0.0.0/20", "eu-west-1b 10.0.16.0/20")


def name_of(nodes: NodeGroupConfig = NODES, subnets: tuple[str, ...] = SUBNETS) -> str:
    return node_group_name("cluster-nodes", "gitops-dev", subnets, nodes)


@pytest.mark.parametrize(
    "changed",
    [
        dataclasses.replace(NODES, instance_types=("m6a.xlarge",)),
        dataclasses.replace(NODES, instance_types=("m6i.xlarge", "m6a.xlarge")),
        dataclasses.replace(NODES, capacity_type="SPOT"),
        dataclasses.replace(NODES, ami_type="BOTTLEROCKET_x86_64"),
    ],
)
def test_a_replacement_forcing_setting_names_a_new_group(changed: NodeGroupConfig) -> None:
    assert name_of(changed) != name_of()
    assert name_of(changed).startswith("cluster-nodes-")


def test_other_subnets_name_a_new_group_and_their_order_does_not() -> None:
    assert name_of(subnets=(*SUBNETS, "eu-west-1c 10.0.32.0/20")) != name_of()
    # subnet_ids is a TypeSet in node_group.go: the same subnets in another order diff as equal.
    assert name_of(subnets=tuple(reversed(SUBNETS))) == name_of()


@pytest.mark.parametrize(
    "changed",
    [
        dataclasses.replace(NODES, min_size=3, desired_size=3, max_size=6),
        dataclasses.replace(NODES, disk_size_gib=200),
        dataclasses.replace(NODES, metadata_hop_limit=2),
    ],
)
def test_settings_updated_in_place_keep_the_group(changed: NodeGroupConfig) -> None:
    # scaling_config: UpdateNodegroupConfig; disk size and hop limit live in the launch template,
    # whose new version reaches the group through launch_template.version (UpdateNodegroupVersion).
    assert name_of(changed) == name_of()


def zones(document: dict[str, Any]) -> list[str]:
    listed: list[str] = document["config"]["eks-gitops:network"]["availabilityZones"]
    return listed


def last_zone_left_out(document: dict[str, Any]) -> None:
    zones(document).pop()


def append_zone(document: dict[str, Any]) -> None:
    region = document["config"]["aws:region"]
    zones(document).append(f"{region}{'abc'[len(zones(document))]}")


def other_instance_types(document: dict[str, Any]) -> None:
    document["config"]["eks-gitops:cluster"]["nodes"]["instanceTypes"] = ["c7i.2xlarge"]


EDITS = {"zone appended": append_zone, "instance types changed": other_instance_types}


def roll_problems(steps: UpdateSteps) -> list[str]:
    """Why this update would not roll the nodes create-before-delete (empty when it does)."""
    (old,) = steps.before.of_type(NODE_GROUP)
    (new,) = steps.after.of_type(NODE_GROUP)
    if old.urn == new.urn:
        return ["the node group keeps its name: the provider replaces it in place"]
    problems = []
    if not (new.urn in steps.creates and old.urn in steps.deletes):
        problems.append("the new group is not a create and the old one a delete")
    elif not steps.guaranteed_before(("create", new.urn), ("delete", old.urn)):
        problems.append("the old group may go before the new one is ACTIVE")
    # Everything that waited for the old group's nodes waits for the new group's.
    stranded = [
        node.name
        for node in steps.before.nodes.values()
        if old.urn in node.depends_on
        and node.urn in steps.after.nodes
        and new.urn not in steps.after.nodes[node.urn].depends_on
    ]
    if stranded:
        problems.append(f"{', '.join(sorted(stranded))} still wait for the old group")
    return problems


@pytest.fixture
def rolled(plan_edited: Callable[..., Plan]) -> Callable[[str, str], tuple[Plan, UpdateSteps]]:
    def run(stack: str, edit: str) -> tuple[Plan, UpdateSteps]:
        before = repo_plan(stack)
        if edit == "zone appended" and len(zones(stack_document(stack))) == REGION_ZONES:
            # prod already runs in every zone of its region: append to the stack one zone short.
            before = plan_edited(stack, last_zone_left_out)
            after = plan_edited(stack, lambda document: None)
        else:
            after = plan_edited(stack, EDITS[edit])
        return after, update_steps(graph_of(before), graph_of(after))

    return run


@pytest.mark.parametrize("edit", EDITS)
@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_a_replacing_node_change_creates_the_new_group_before_deleting_the_old(
    stack: str, edit: str, rolled: Callable[[str, str], tuple[Plan, UpdateSteps]]
) -> None:
    plan, steps = rolled(stack, edit)
    assert roll_problems(steps) == []
    (old,) = steps.before.of_type(NODE_GROUP)
    (new,) = steps.after.of_type(NODE_GROUP)
    # The add-ons that run on nodes and the toolkit follow the new group.
    dependents = {
        steps.after.nodes[urn].type
        for urn in steps.after.nodes
        if new.urn in steps.after.nodes[urn].depends_on
    }
    assert dependents == {ADDON, TOOLKIT}

    # Nothing else is deleted, so nothing else is replaced; only the network grows with a zone.
    assert steps.deletes == {old.urn}
    created = {steps.after.nodes[urn].type for urn in steps.creates - {new.urn}}
    if edit == "zone appended":
        assert SUBNET in created and created <= ZONE_RESOURCES
    else:
        assert created == set()

    # The only update is the cluster's subnet list, which it ignores (see below).
    updated = {steps.after.nodes[urn].type for urn in steps.updates}
    assert updated == ({EKS_CLUSTER} if edit == "zone appended" else set())

    # The new group runs as the same node role, not a replaced one: EKS keeps a node role's
    # access while another managed node group uses it ("Delete a managed node group from your
    # cluster": the role is removed only when no other managed node group in the cluster uses it).
    assert new.inputs["nodeRoleArn"] == old.inputs["nodeRoleArn"]
    (role_urn,) = [urn for urn in new.depends_on if steps.after.nodes[urn].name == "cluster-node"]
    assert role_urn in old.depends_on and role_urn not in steps.updates

    # Allowed in prod: the group is not protected and not delete-before-replace.
    [recorded] = plan.run.of_type(NODE_GROUP)
    assert not recorded.protect and not recorded.delete_before_replace


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_an_appended_zone_leaves_the_control_plane_subnets_alone(
    stack: str, rolled: Callable[[str, str], tuple[Plan, UpdateSteps]]
) -> None:
    # EKS takes new cluster subnets only "in the same set of AZs as originally provided when you
    # created the cluster" (Amazon EKS User Guide, "View Amazon EKS networking requirements for VPC
    # and subnets"), while nodes and load balancers may use any subnet of the VPC. The provider
    # updates vpc_config.subnet_ids in place (terraform-provider-aws internal/service/eks/cluster.go,
    # resourceClusterUpdate: UpdateClusterConfig), so the program must not send the new zone's.
    plan, steps = rolled(stack, "zone appended")
    (cluster_urn,) = steps.updates
    before, after = steps.before.nodes[cluster_urn].inputs, steps.after.nodes[cluster_urn].inputs
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed == {"vpcConfig"}
    assert {k for k in before["vpcConfig"] if before["vpcConfig"][k] != after["vpcConfig"][k]} == {
        "subnetIds"
    }
    [cluster] = plan.run.of_type(EKS_CLUSTER)
    assert CLUSTER_SUBNETS_INPUT in cluster.ignore_changes


def test_a_group_that_keeps_its_name_is_caught(
    rolled: Callable[[str, str], tuple[Plan, UpdateSteps]],
) -> None:
    _, steps = rolled("dev", "instance types changed")
    (old,) = steps.before.of_type(NODE_GROUP)
    (new,) = steps.after.of_type(NODE_GROUP)
    renamed = dataclasses.replace(new, urn=old.urn, name=old.name)
    after = Graph(
        {
            **{u: n for u, n in steps.after.nodes.items() if u != new.urn},
            old.urn: renamed,
        }
    )
    assert roll_problems(update_steps(steps.before, after)) == [
        "the node group keeps its name: the provider replaces it in place"
    ]


def test_an_addon_left_waiting_for_the_old_group_is_caught(
    rolled: Callable[[str, str], tuple[Plan, UpdateSteps]],
) -> None:
    _, steps = rolled("dev", "instance types changed")
    (new,) = steps.after.of_type(NODE_GROUP)
    coredns = steps.after.find(ADDON, "cluster-coredns")
    broken = steps.after.without_edge(coredns.urn, new.urn)
    assert roll_problems(update_steps(steps.before, broken)) == [
        "cluster-coredns still wait for the old group"
    ]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_group_of_an_existing_stack_is_adopted_not_replaced(stack: str) -> None:
    # Stacks created before the group's name carried its settings have it as `cluster-nodes`; the
    # alias makes the engine treat that state as this group
    # (https://www.pulumi.com/docs/iac/concepts/options/aliases/).
    [group] = repo_plan(stack).run.of_type(NODE_GROUP)
    legacy = (
        f"urn:pulumi:{stack}::eks-gitops::eks-gitops:cluster:Cluster${NODE_GROUP}::cluster-nodes"
    )
    assert group.aliases == [legacy]
