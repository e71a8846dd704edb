"""The offline plan of each stack: what the program declares for the network and the cluster, and the
files a reviewer reads."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gitops.aws.cluster import (
    CLUSTER_ROLE_POLICIES,
    EBS_CSI_DRIVER_POLICY,
    NODE_ROLE_POLICIES,
    render_kubeconfig,
)
from eks_gitops.aws.network import plan_subnets
from tests.conftest import ENVIRONMENTS, FLUX_V294, REPO_ROOT, repo_plan, stack_document
from tools.plan import write_plan

REQUIRED_TYPES = {
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:kms/key:Key",
    "pulumi:providers:kubernetes",
    "eks-gitops:network:Network",
    "eks-gitops:cluster:Cluster",
    "eks-gitops:toolkit:Toolkit",
    "eks-gitops:deploykey:DeployKey",
    "eks-gitops:sync:Sync",
}


def entries(stack: str, tmp_path: Path) -> list[dict[str, Any]]:
    target = write_plan(repo_plan(stack), tmp_path)
    loaded: list[dict[str, Any]] = json.loads((target / "resources.json").read_text())
    return loaded


def one(items: list[dict[str, Any]], type_token: str) -> dict[str, Any]:
    matches = [item for item in items if item["type"] == type_token]
    assert len(matches) == 1, f"{len(matches)} {type_token}"
    return matches[0]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_plan_declares_the_cluster_and_its_parts(stack: str, tmp_path: Path) -> None:
    items = entries(stack, tmp_path)
    assert {item["type"] for item in items} >= REQUIRED_TYPES
    # The cluster's, the nodes', the EBS CSI driver's and kustomize-controller's (SOPS).
    assert len([item for item in items if item["type"] == "aws:iam/role:Role"]) == 4
    for item in items:
        assert {"type", "name", "parent", "inputs", "dependencies", "protect"} <= set(item)
    names = {f"{item['type']}::{item['name']}" for item in items}
    for item in items:
        assert item["parent"] is None or item["parent"] in names
        assert set(item["dependencies"]) <= names


def test_only_prod_protects_its_stateful_resources(tmp_path: Path) -> None:
    for stack, protected in (("dev", False), ("qa", False), ("prod", True)):
        items = entries(stack, tmp_path / stack)
        for type_token in ("aws:eks/cluster:Cluster", "aws:kms/key:Key"):
            # Both KMS keys: the cluster's secrets key and the SOPS key.
            found = [item for item in items if item["type"] == type_token]
            assert found and all(item["protect"] is protected for item in found), (
                stack,
                type_token,
            )
        # No stack protects its node group: a change EKS makes only by replacement rolls it to a
        # new group and deletes the old one, which the engine refuses for a protected resource
        # (pulumi/pulumi pkg/resource/deploy/step.go, DeleteStep.Apply: deleteProtectedError).
        assert one(items, "aws:eks/nodeGroup:NodeGroup")["protect"] is False, stack


def test_cluster_settings_come_from_the_stack(tmp_path: Path) -> None:
    cluster = one(entries("prod", tmp_path), "aws:eks/cluster:Cluster")["inputs"]
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"][
        "eks-gitops:cluster"
    ]
    assert cluster["version"] == stack["kubernetesVersion"]
    assert cluster["name"] == stack["name"]
    assert cluster["vpcConfig"]["endpointPublicAccess"] is stack["endpointPublicAccess"]
    assert cluster["vpcConfig"]["publicAccessCidrs"] == stack["publicAccessCidrs"]
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["enabledClusterLogTypes"] == stack["logTypes"]
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["accessConfig"]["authenticationMode"] == "API"


def test_nodes_run_in_private_subnets_with_imdsv2(tmp_path: Path) -> None:
    plan = repo_plan("dev")
    private = {r.urn for r in plan.run.of_type("aws:ec2/subnet:Subnet") if "private" in r.name}
    (node_group,) = plan.run.of_type("aws:eks/nodeGroup:NodeGroup")
    assert set(node_group.property_dependencies["subnetIds"]) == private
    # ...and waits for the whole network, NAT routes included, before nodes try to join.
    network = {
        r.urn for r in plan.run.resources if r.parent and "eks-gitops:network:Network" in r.parent
    }
    assert network <= set(node_group.dependencies)
    template = one(entries("dev", tmp_path), "aws:ec2/launchTemplate:LaunchTemplate")["inputs"]
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["metadataOptions"]["httpPutResponseHopLimit"] in (1, 2)


def test_roles_get_exactly_the_managed_policies_eks_documents(tmp_path: Path) -> None:
    items = entries("qa", tmp_path)
    attachments = [
        item
        for item in items
        if item["type"] == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    ]
    by_role: dict[str, set[str]] = {}
    for attachment in attachments:
        role = next(
            dep for dep in attachment["dependencies"] if dep.startswith("aws:iam/role:Role")
        )
        by_role.setdefault(role.split("::")[1], set()).add(attachment["inputs"]["policyArn"])
    assert by_role == {
        "cluster-cluster": set(CLUSTER_ROLE_POLICIES),
        "cluster-node": set(NODE_ROLE_POLICIES),
        "cluster-ebs-csi": {EBS_CSI_DRIVER_POLICY},
    }


def test_the_configured_deployer_role_gets_an_access_entry(tmp_path: Path) -> None:
    entry = one(entries("dev", tmp_path), "aws:eks/accessEntry:AccessEntry")["inputs"]
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]
    assert entry["principalArn"] == stack["eks-gitops:cluster"]["deployerRoleArn"]


def test_every_kubernetes_object_goes_through_the_clusters_provider() -> None:
    for resource in repo_plan("dev").run.resources:
        if resource.type.startswith("kubernetes:"):
            assert resource.provider == "pulumi:providers:kubernetes::cluster-kubernetes", (
                resource.urn
            )


def test_every_aws_resource_uses_the_tagging_provider() -> None:
    plan = repo_plan("qa")
    providers = {
        r.type_and_name: r.plain_inputs
        for r in plan.run.resources
        if r.type == "pulumi:providers:aws"
    }
    tags = json.loads(providers["pulumi:providers:aws::aws"]["defaultTags"])["tags"]
    assert tags == {"project": "eks-gitops", "stack": "qa", "environment": "qa"}
    for resource in plan.run.resources:
        if resource.type.startswith("aws:"):
            assert resource.provider == "pulumi:providers:aws::aws", resource.urn


def test_kubeconfig_and_secrets_are_redacted_in_outputs(tmp_path: Path) -> None:
    target = write_plan(repo_plan("dev"), tmp_path)
    outputs = json.loads((target / "outputs.json").read_text())
    assert outputs["kubeconfig"] == {"offline": "[secret]"}
    assert outputs["endpoint"]["offline"].startswith("https://")
    assert outputs["endpoint"]["offline"].endswith(".eks.amazonaws.com")
    for document in yaml.safe_load_all((target / "manifests.yaml").read_text()):
        if document["kind"] == "Secret":
            assert set(document["stringData"].values()) == {"[secret]"}


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_outputs_json_marks_what_the_offline_engine_made_up(stack: str, tmp_path: Path) -> None:
    plan = repo_plan(stack)
    outputs = json.loads((write_plan(plan, tmp_path) / "outputs.json").read_text())
    # Ids, ARNs, endpoints, keys and revisions come from the mock engine: a reader must not take
    # them for the real ones. The kubeconfig names the made-up endpoint, so it is marked too.
    made_up = {"endpoint", "kubeconfig", "oidcProviderArn", "nodeRoleArn", "deployKeyPublicKey"}
    made_up |= {"syncedRevision"} | ({"webhookUrl"} if "webhookUrl" in outputs else set())
    if plan.settings.sops.enabled:
        made_up |= {"sopsKeyArn", "kustomizeControllerRoleArn"}
    for name in made_up:
        assert set(outputs[name]) == {"offline"}, name
        assert outputs[name]["offline"] == plan.outputs()[name], name
    # What the stack file decides is shown as it is.
    assert outputs["clusterName"] == stack_document(stack)["config"]["eks-gitops:cluster"]["name"]
    assert outputs["syncPath"] == plan.outputs()["syncPath"]
    assert set(outputs) == made_up | {"clusterName", "syncPath"}


def test_kubeconfig_authenticates_with_aws_eks_get_token() -> None:
    config = json.loads(
        render_kubeconfig("gitops-dev", "https://example.eks.amazonaws.com", "Q0E=", "eu-west-1")
    )
    user = config["users"][0]["user"]["exec"]
    assert user["command"] == "aws"
    assert user["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "gitops-dev",
        "--region",
        "eu-west-1",
    ]
    assert config["clusters"][0]["cluster"]["server"] == "https://example.eks.amazonaws.com"
    assert "token" not in json.dumps(config["users"][0]["user"]).replace("get-token", "")


@pytest.mark.parametrize("zones", [2, 3, 6])
def test_subnets_fit_the_vpc_and_never_overlap(zones: int) -> None:
    vpc = ipaddress.IPv4Network("10.30.0.0/16")
    plans = plan_subnets(str(vpc), zones)
    blocks = [ipaddress.IPv4Network(c) for p in plans for c in (p.private_cidr, p.public_cidr)]
    assert len(plans) == zones
    assert all(block.subnet_of(vpc) for block in blocks)
    assert all(not a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])


def test_existing_subnets_mean_no_vpc(plan_edited: Any) -> None:
    def use_existing(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:network"] = {
            "existing": {
                "vpcId": "vpc-0abc1234def567890",
                "privateSubnetIds": ["subnet-0aaa1111bbb22222c", "subnet-0ddd3333eee44444f"],
                "publicSubnetIds": ["subnet-0123456789abcdef0"],
            }
        }

    plan = plan_edited("qa", use_existing)
    assert not [
        r
        for r in plan.run.resources
        if r.type.startswith("aws:ec2/") and r.type != "aws:ec2/launchTemplate:LaunchTemplate"
    ]
    node_group = plan.run.of_type("aws:eks/nodeGroup:NodeGroup")[0]
    assert node_group.plain_inputs["subnetIds"] == [
        "subnet-0aaa1111bbb22222c",
        "subnet-0ddd3333eee44444f",
    ]


def test_plan_command_writes_the_files_and_a_summary(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.plan",
            "--stack",
            "prod",
            "--out",
            str(tmp_path),
            "--flux-manifests",
            str(FLUX_V294),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard, not a speed check: a loaded 2-core runner took 2 min
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "prod").iterdir()} == {
        "resources.json",
        "manifests.yaml",
        "outputs.json",
        "policy.json",
    }
    assert json.loads((tmp_path / "prod" / "policy.json").read_text()) == {"relax": []}
    assert "aws:eks/cluster:Cluster" in result.stdout
    assert str(tmp_path / "prod") in result.stdout
    assert "NOT expanded" not in result.stdout
