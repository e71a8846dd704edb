"""The cluster's IAM policy choices and documents, and the kubeconfig the Kubernetes provider uses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

# Exactly the AWS managed policies EKS documents for each role; nothing broader.
CLUSTER_ROLE_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
NODE_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


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
