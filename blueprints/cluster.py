"""The cluster's IAM policy choices and documents, the node volumes and add-on wiring, and the
kubeconfig the Kubernetes provider uses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# Exactly the AWS managed policies EKS documents for each role; nothing broader.
CLUSTER_ROLE_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
NODE_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

EBS_CSI_ADDON: Final = "aws-ebs-csi-driver"
EBS_CSI_DRIVER_POLICY: Final = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
# The service account the add-on's controller runs as; its role trusts exactly this one.
EBS_CSI_SERVICE_ACCOUNT: Final = ("kube-system", "ebs-csi-controller-sa")
# Add-ons that run Deployments: EKS reports them DEGRADED until their pods are scheduled, so they
# are created once the node group is up. The DaemonSet ones (vpc-cni, kube-proxy) are healthy on
# a cluster without nodes and only need the cluster.
ADDONS_ON_NODES: Final = ("coredns", EBS_CSI_ADDON)

# Provider default tags reach only what Pulumi creates itself; the instances, volumes and network
# interfaces the node group launches are tagged by the launch template.
LAUNCHED_RESOURCE_TYPES: Final = ("instance", "volume", "network-interface")

ROOT_DEVICE: Final = "/dev/xvda"
# Where each AMI type keeps container images: AL2023 on its root volume; Bottlerocket on a
# separate data volume, its root volume holding only the (small) OS.
_IMAGE_VOLUME_DEVICES: Final = {
    "AL2023_x86_64_STANDARD": ROOT_DEVICE,
    "AL2023_ARM_64_STANDARD": ROOT_DEVICE,
    "BOTTLEROCKET_x86_64": "/dev/xvdb",
    "BOTTLEROCKET_ARM_64": "/dev/xvdb",
}


@dataclass(frozen=True)
class NodeVolume:
    device_name: str
    size_gib: int | None
    """None keeps the size the AMI gives the volume."""


def image_volume_device(ami_type: str) -> str:
    """The device of the volume that holds container images on nodes of this AMI type."""
    try:
        return _IMAGE_VOLUME_DEVICES[ami_type]
    except KeyError:
        raise ValueError(f"no image volume known for AMI type {ami_type}") from None


def node_volumes(ami_type: str, disk_size_gib: int) -> tuple[NodeVolume, ...]:
    """The node volumes the launch template maps: the image volume at the configured size, and
    the root volume (at the AMI's size) where that is a different one, so every volume is mapped
    and so encrypted."""
    images = image_volume_device(ami_type)
    sized = NodeVolume(images, disk_size_gib)
    return (sized,) if images == ROOT_DEVICE else (NodeVolume(ROOT_DEVICE, None), sized)


@dataclass(frozen=True)
class AdminAccess:
    """One cluster-admin access entry: its principal, the resource name derived from that principal
    alone, and the names the same grant had when entries were named by list position."""

    principal_arn: str
    name: str
    former_names: tuple[str, ...]


def access_entry_name(principal_arn: str) -> str:
    """A resource name that follows the principal, not its place in a list or who runs Pulumi."""
    return "access-" + hashlib.sha256(principal_arn.encode()).hexdigest()[:12]


def admin_access(deployer_role_arn: str, admin_role_arns: Sequence[str]) -> list[AdminAccess]:
    """The deployer and the admin roles, each principal once (EKS takes one access entry per
    principal), with the position-based names their entries had before: `deployer`, `admin-<i>`."""
    former: dict[str, list[str]] = {deployer_role_arn: ["deployer"]}
    for index, arn in enumerate(admin_role_arns):
        former.setdefault(arn, []).append(f"admin-{index}")
    return [AdminAccess(arn, access_entry_name(arn), tuple(names)) for arn, names in former.items()]


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


def web_identity_policy(
    provider_arn: str, issuer_url: str, namespace: str, service_account: str
) -> str:
    """Trust for one Kubernetes service account through the cluster's OIDC provider (IRSA)."""
    issuer = issuer_url.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:aud": "sts.amazonaws.com",
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        }
                    },
                }
            ],
        }
    )


def policy_resource_name(policy_arn: str) -> str:
    return policy_arn.rsplit("/", 1)[-1]


def render_kubeconfig(cluster_name: str, endpoint: str, certificate_data: str, region: str) -> str:
    """A kubeconfig that authenticates through `aws eks get-token`, so no long-lived token is stored."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {"server": endpoint, "certificate-authority-data": certificate_data},
                }
            ],
            "contexts": [
                {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
            ],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--region",
                                region,
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
        indent=2,
        sort_keys=True,
    )
