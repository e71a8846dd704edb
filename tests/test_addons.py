"""The EKS add-ons: declared at the versions each stack file pins, kept in step with the Kubernetes
version, created where they can become healthy, and the EBS CSI driver given its own IAM role
through the cluster's OIDC provider."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eks_gitops.aws.cluster import web_identity_policy
from eks_gitops.settings.model import EKS_ADDONS, ConfigError
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import ENVIRONMENTS, repo_plan, stack_document
from tools.plan import Plan

ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def _cluster_section(document: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = document["config"]["eks-gitops:cluster"]
    return section


def _addons(plan: Plan) -> dict[str, Any]:
    return {r.plain_inputs["addonName"]: r for r in plan.run.of_type(ADDON)}


def _refusal(stack: str, edit: Any) -> ConfigError:
    document = stack_document(stack)
    edit(_cluster_section(document))
    with pytest.raises(ConfigError) as refused:
        parse_stack_config(document["config"], stack)
    return refused.value


# --- what each stack declares --------------------------------------------------------------------


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_addon_is_declared_at_the_version_the_stack_pins(stack: str) -> None:
    plan = repo_plan(stack)
    section = _cluster_section(stack_document(stack))
    addons = _addons(plan)
    assert set(addons) == {
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "aws-ebs-csi-driver",
        "eks-pod-identity-agent",
    }
    for name, addon in addons.items():
        inputs = addon.plain_inputs
        assert inputs["addonVersion"] == section["addons"][name], name
        assert inputs["clusterName"] == section["name"]
        # EKS installs its own copies of vpc-cni, kube-proxy and CoreDNS with a new cluster; only
        # OVERWRITE lets CreateAddon take them over, and without OVERWRITE on update a version
        # change can stop on a field edited in the cluster (pulumi-aws eks.Addon,
        # resolve_conflicts_on_create / resolve_conflicts_on_update; terraform-provider-aws
        # internal/service/eks/addon.go, resourceAddonUpdate, which says as much on a failed update).
        assert inputs["resolveConflictsOnCreate"] == "OVERWRITE"
        assert inputs["resolveConflictsOnUpdate"] == "OVERWRITE"


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_addons_keep_their_workloads_when_the_stack_is_torn_down(stack: str) -> None:
    # `preserve` is sent on DeleteAddon only (terraform-provider-aws addon.go, resourceAddonDelete):
    # the CNI, kube-proxy, DNS and CSI controller keep running while `pulumi destroy` deletes the
    # Flux objects, whose finalizers need pods that reach the API server. With it, the destroy
    # order of tests/test_teardown.py needs no edge to the add-ons.
    for name, addon in _addons(repo_plan(stack)).items():
        assert addon.plain_inputs["preserve"] is True, name


def test_deployment_addons_wait_for_nodes_and_daemonset_addons_do_not() -> None:
    plan = repo_plan("dev")
    (node_group,) = plan.run.of_type(NODE_GROUP)
    (cluster,) = plan.run.of_type(EKS_CLUSTER)
    addons = _addons(plan)
    # The provider waits for ACTIVE and treats DEGRADED as still pending (addon.go,
    # waitAddonCreated); a Deployment without nodes to run on stays DEGRADED until the timeout.
    for name in ("coredns", "aws-ebs-csi-driver"):
        assert node_group.urn in addons[name].dependencies, name
    for name in ("vpc-cni", "kube-proxy"):
        assert node_group.urn not in addons[name].dependencies, name
    for addon in addons.values():
        assert cluster.urn in addon.property_dependencies["clusterName"]


def test_ebs_csi_driver_runs_with_its_own_role_through_the_oidc_provider() -> None:
    # The add-on needs AmazonEBSCSIDriverPolicy through IAM roles for service accounts, for the
    # service account ebs-csi-controller-sa in kube-system
    # (https://docs.aws.amazon.com/eks/latest/userguide/add-ons-aws-ebs-csi-driver.html,
    # https://docs.aws.amazon.com/eks/latest/userguide/csi-iam-role.html).
    plan = repo_plan("qa")
    addon = _addons(plan)["aws-ebs-csi-driver"]
    [role_urn] = addon.property_dependencies["serviceAccountRoleArn"]
    [role] = [r for r in plan.run.of_type(ROLE) if r.urn == role_urn]
    attachments = [
        r for r in plan.run.of_type(ATTACHMENT) if role.urn in r.property_dependencies["role"]
    ]
    assert [a.plain_inputs["policyArn"] for a in attachments] == [EBS_CSI_POLICY]
    # The controller starts with its permissions in place.
    assert {a.urn for a in attachments} <= set(addon.dependencies)
    (provider,) = plan.run.of_type(OIDC_PROVIDER)
    trust = json.loads(role.plain_inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    issuer = provider.plain_inputs["url"].removeprefix("https://")
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"
    }
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:aud": "sts.amazonaws.com",
        f"{issuer}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
    }


def test_web_identity_policy_trusts_one_service_account_of_one_issuer() -> None:
    document = json.loads(
        web_identity_policy(
            "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC",
            "kube-system",
            "ebs-csi-controller-sa",
        )
    )
    [statement] = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Condition"] == {
        "StringEquals": {
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
            "oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub": (
                "system:serviceaccount:kube-system:ebs-csi-controller-sa"
            ),
        }
    }


# --- the versions in the stack files -------------------------------------------------------------


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_stack_files_pin_kube_proxy_to_their_kubernetes_version(stack: str) -> None:
    # EKS ships one kube-proxy build line per Kubernetes minor ("kube-proxy versions" table,
    # https://docs.aws.amazon.com/eks/latest/userguide/managing-kube-proxy.html).
    section = _cluster_section(stack_document(stack))
    assert section["addons"]["kube-proxy"].startswith(f"v{section['kubernetesVersion']}.")


def test_a_kubernetes_upgrade_without_the_addons_is_refused() -> None:
    refused = _refusal("prod", lambda section: section.update(kubernetesVersion="1.35"))
    assert refused.key == "eks-gitops:cluster.addons"
    assert "kube-proxy" in str(refused)
    assert "kubernetesVersion 1.35" in str(refused)


def test_a_kube_proxy_of_another_minor_is_refused() -> None:
    refused = _refusal(
        "dev", lambda section: section["addons"].update({"kube-proxy": "v1.34.0-eksbuild.2"})
    )
    assert refused.key == "eks-gitops:cluster.addons"


@pytest.mark.parametrize("name", EKS_ADDONS)
def test_every_addon_must_be_pinned(name: str) -> None:
    refused = _refusal("qa", lambda section: section["addons"].pop(name))
    assert refused.key == f"eks-gitops:cluster.addons.{name}"
    assert "(missing)" in str(refused)


@pytest.mark.parametrize("version", ["1.13.2-eksbuild.1", "v1.13.2", "latest", "v1.13-eksbuild.1"])
def test_an_addon_version_must_be_an_eks_build(version: str) -> None:
    refused = _refusal("qa", lambda section: section["addons"].update(coredns=version))
    assert refused.key == "eks-gitops:cluster.addons.coredns"
    assert "describe-addon-versions --addon-name coredns" in str(refused)


def test_an_unknown_addon_is_refused() -> None:
    refused = _refusal(
        "qa", lambda section: section["addons"].update({"aws-efs-csi-driver": "v2.1.0-eksbuild.1"})
    )
    assert refused.key == "eks-gitops:cluster.addons.aws-efs-csi-driver"
