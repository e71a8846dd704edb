"""The node group and its launch template: sizes as the stack file says them, tags on everything the
group launches, and the disk size on the volume that holds container images for every AMI type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eks_gitops.aws.cluster import NodeVolume, image_volume_device, node_volumes
from eks_gitops.settings.model import AMI_TYPES, ConfigError
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import ENVIRONMENTS, repo_plan, stack_document
from tools.plan import Plan

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


def _nodes(document: dict[str, Any]) -> dict[str, Any]:
    nodes: dict[str, Any] = document["config"]["eks-gitops:cluster"]["nodes"]
    return nodes


def _template_inputs(plan: Plan) -> dict[str, Any]:
    (template,) = plan.run.of_type(LAUNCH_TEMPLATE)
    inputs: dict[str, Any] = template.plain_inputs
    return inputs


# --- sizes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_node_group_runs_the_sizes_the_stack_file_says(stack: str) -> None:
    (node_group,) = repo_plan(stack).run.of_type(NODE_GROUP)
    nodes = _nodes(stack_document(stack))
    assert node_group.plain_inputs["scalingConfig"] == {
        "minSize": nodes["minSize"],
        "desiredSize": nodes["desiredSize"],
        "maxSize": nodes["maxSize"],
    }
    # Nothing deploys a cluster autoscaler, so nothing else may own the running count: with
    # ignoreChanges on desiredSize (the pattern pulumi-aws documents for an external scaler, "Ignoring
    # Changes to Desired Size" on the eks.NodeGroup page) a changed desiredSize would never reach
    # EKS, and a raised minSize would be sent with the stale live desiredSize, which
    # UpdateNodegroupConfig refuses when it falls below the new minimum
    # (https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateNodegroupConfig.html,
    # https://docs.aws.amazon.com/eks/latest/APIReference/API_NodegroupScalingConfig.html).
    assert not [path for path in node_group.ignore_changes if path.startswith("scalingConfig")]


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ({"minSize": 2, "desiredSize": 1, "maxSize": 4}, "between minSize (2) and maxSize (4)"),
        ({"minSize": 2, "desiredSize": 5, "maxSize": 4}, "between minSize (2) and maxSize (4)"),
    ],
)
def test_desired_size_outside_min_and_max_is_one_error_naming_it(
    sizes: dict[str, int], expected: str
) -> None:
    # EKS takes desiredSize only within minSize..maxSize (NodegroupScalingConfig, API reference
    # above); the stack file is refused before anything is declared instead of failing mid-update.
    document = stack_document("qa")
    _nodes(document).update(sizes)
    with pytest.raises(ConfigError) as refused:
        parse_stack_config(document["config"], "qa")
    assert refused.value.key == "eks-gitops:cluster.nodes.desiredSize"
    assert expected in str(refused.value)


# --- tags on what the node group launches -------------------------------------------------------


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_launch_template_tags_every_instance_volume_and_interface(stack: str) -> None:
    # Provider default_tags are applied by the provider to the resources it creates; the node
    # group's instances, their volumes and network interfaces are created by EC2 Auto Scaling for
    # EKS, and EKS does not pass node group tags on to them ("Tagging your Amazon EKS resources",
    # https://docs.aws.amazon.com/eks/latest/userguide/eks-using-tags.html: managed node group tags
    # do not propagate to the resources the group creates; pulumi/pulumi-eks#635 closed as by
    # design; terraform-aws-modules/terraform-aws-eks#1916: default_tags do not reach Auto Scaling
    # instances). The launch template's tag specifications are what EC2 applies at launch.
    plan = repo_plan(stack)
    tags = {"project": "eks-gitops", "stack": stack, "environment": stack}
    specifications = _template_inputs(plan)["tagSpecifications"]
    assert {spec["resourceType"]: spec["tags"] for spec in specifications} == {
        "instance": tags,
        "volume": tags,
        "network-interface": tags,
    }


# --- disk size on the image volume --------------------------------------------------------------

# Written out here, not taken from the code under test. Bottlerocket has two volumes: the root
# device /dev/xvda with the OS partitions, and the data device /dev/xvdb that holds container
# images (Bottlerocket README, "Default Volumes",
# https://github.com/bottlerocket-os/bottlerocket#default-volumes; the device names as in
# cloudposse/terraform-aws-eks-node-group#74). Amazon Linux 2023 EKS AMIs have the one root
# volume, /dev/xvda, which holds images too; it is what CreateNodegroup's diskSize ("the root
# device disk size") sizes when there is no launch template
# (https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html).
IMAGE_DEVICES = {
    "AL2023_x86_64_STANDARD": "/dev/xvda",
    "AL2023_ARM_64_STANDARD": "/dev/xvda",
    "BOTTLEROCKET_x86_64": "/dev/xvdb",
    "BOTTLEROCKET_ARM_64": "/dev/xvdb",
}


def test_every_accepted_ami_type_has_a_known_image_volume() -> None:
    assert set(IMAGE_DEVICES) == set(AMI_TYPES)


@pytest.mark.parametrize("ami_type", AMI_TYPES)
def test_image_volume_device_of_every_ami_type(ami_type: str) -> None:
    assert image_volume_device(ami_type) == IMAGE_DEVICES[ami_type]


@pytest.mark.parametrize("ami_type", AMI_TYPES)
def test_disk_size_goes_to_the_image_volume_and_every_volume_is_mapped(ami_type: str) -> None:
    volumes = node_volumes(ami_type, 80)
    assert [v for v in volumes if v.size_gib is not None] == [
        NodeVolume(IMAGE_DEVICES[ami_type], 80)
    ]
    # The root volume is mapped too (at the AMI's size), so the encryption the template sets
    # reaches Bottlerocket's OS volume as well.
    assert {v.device_name for v in volumes} == {"/dev/xvda", IMAGE_DEVICES[ami_type]}


def test_an_unknown_ami_type_is_refused() -> None:
    with pytest.raises(ValueError, match="AL2_x86_64"):
        image_volume_device("AL2_x86_64")


def test_bottlerocket_nodes_get_the_disk_size_on_their_data_volume(
    plan_edited: Callable[..., Plan],
) -> None:
    plan = plan_edited("qa", lambda d: _nodes(d).update(amiType="BOTTLEROCKET_ARM_64"))
    disk = _nodes(stack_document("qa"))["diskSizeGiB"]
    mappings = {m["deviceName"]: m["ebs"] for m in _template_inputs(plan)["blockDeviceMappings"]}
    assert mappings == {
        "/dev/xvda": {"encrypted": "true", "volumeType": "gp3"},
        "/dev/xvdb": {"encrypted": "true", "volumeType": "gp3", "volumeSize": disk},
    }


def test_al2023_nodes_get_the_disk_size_on_their_root_volume() -> None:
    disk = _nodes(stack_document("prod"))["diskSizeGiB"]
    mappings = _template_inputs(repo_plan("prod"))["blockDeviceMappings"]
    assert mappings == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {"encrypted": "true", "volumeType": "gp3", "volumeSize": disk},
        }
    ]
