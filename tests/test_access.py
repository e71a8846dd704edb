"""Who may enter the cluster and from where: access entries that follow their principal, not the
person running `pulumi up` or a list position, and a `pulumi up` runner that can reach the API."""

from __future__ import annotations

from typing import Any

import pytest

from eks_gitops.aws.cluster import access_entry_name, admin_access
from eks_gitops.policy import check_config
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import stack_document
from tools.plan import Plan, PlanError

DEPLOYER = "arn:aws:iam::123456789012:role/platform-deployer"
ALICE = "arn:aws:iam::123456789012:role/alice"
BREAK_GLASS = "arn:aws:iam::123456789012:role/ops/break-glass"

ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def cluster_section(document: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = document["config"]["eks-gitops:cluster"]
    return section


# --- access entries -------------------------------------------------------------------------------
# EKS: "An access entry includes the ARN of one, and only one, existing IAM principal. An IAM principal
# can't be included in more than one access entry" (EKS User Guide, "Create access entries",
# https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html). In
# terraform-provider-aws (which pulumi-aws bridges), internal/service/eks/access_entry.go,
# resourceAccessEntry: `cluster_name` and `principal_arn` are ForceNew and the id is
# `cluster_name:principal_arn` (accessEntryCreateResourceID); so an entry whose principal changes
# is deleted and created again, and two entries for one principal collide in AWS.


def test_entry_names_follow_the_principal_not_the_list_position() -> None:
    before = {a.principal_arn: a.name for a in admin_access(DEPLOYER, [ALICE, BREAK_GLASS])}
    after = {a.principal_arn: a.name for a in admin_access(DEPLOYER, [BREAK_GLASS, ALICE])}
    assert before == after
    assert before[ALICE] == access_entry_name(ALICE)
    assert len(set(before.values())) == 3


def test_entry_names_are_stable_and_short() -> None:
    # A digest of the ARN alone: the same in every run, on every machine, for every operator.
    assert access_entry_name(ALICE) == access_entry_name(ALICE)
    assert access_entry_name(ALICE) != access_entry_name(BREAK_GLASS)
    assert access_entry_name(ALICE).startswith("access-")
    assert len(access_entry_name(BREAK_GLASS)) <= 20


def test_a_deployer_listed_as_admin_gets_one_entry() -> None:
    grants = admin_access(DEPLOYER, [ALICE, DEPLOYER, ALICE])
    assert [grant.principal_arn for grant in grants] == [DEPLOYER, ALICE]
    # ...which keeps every position-based name the same principal had, for the aliases.
    assert grants[0].former_names == ("deployer", "admin-1")
    assert grants[1].former_names == ("admin-0", "admin-2")


def _with_admins(document: dict[str, Any]) -> None:
    cluster_section(document)["adminRoleArns"] = [ALICE, DEPLOYER]


def test_the_plan_names_entries_by_principal_and_aliases_the_old_names(
    plan_edited: Any,
) -> None:
    plan: Plan = plan_edited("prod", _with_admins)
    entries = {r.plain_inputs["principalArn"]: r for r in plan.run.of_type(ACCESS_ENTRY)}
    # The deployer is also in adminRoleArns: one entry, not a second one AWS would refuse.
    assert set(entries) == {DEPLOYER, ALICE}
    assert entries[DEPLOYER].name == f"cluster-{access_entry_name(DEPLOYER)}"
    prefix = (
        "urn:pulumi:prod::eks-gitops::eks-gitops:cluster:Cluster$aws:eks/accessEntry:AccessEntry::"
    )
    # The same principal under its earlier names, so an existing stack keeps its entries.
    assert set(entries[DEPLOYER].aliases) == {
        f"{prefix}cluster-deployer",
        f"{prefix}cluster-admin-1",
    }
    assert set(entries[ALICE].aliases) == {f"{prefix}cluster-admin-0"}
    associations = {r.name for r in plan.run.of_type(ASSOCIATION)}
    assert associations == {entry.name for entry in entries.values()}


def test_the_deployer_is_the_configured_role_not_the_caller(plan_edited: Any) -> None:
    # Whoever runs the program, the entry is for the role the stack names.
    def ci_role(document: dict[str, Any]) -> None:
        cluster_section(document)["deployerRoleArn"] = BREAK_GLASS

    plan: Plan = plan_edited("dev", ci_role)
    [entry] = plan.run.of_type(ACCESS_ENTRY)
    assert entry.plain_inputs["principalArn"] == BREAK_GLASS


def test_the_kubernetes_provider_waits_for_every_admin_grant(plan_edited: Any) -> None:
    plan: Plan = plan_edited("prod", _with_admins)
    [provider] = plan.run.of_type("pulumi:providers:kubernetes")
    assert {r.urn for r in plan.run.of_type(ASSOCIATION)} <= set(provider.dependencies)


# --- reaching the API ------------------------------------------------------------------------------
# EKS User Guide, "Cluster API server endpoint" (https://docs.aws.amazon.com/eks/latest/userguide/
# cluster-endpoint.html): with public access off, the API is reachable only from within the VPC or a
# connected network, and the cluster security group must admit the client on 443. "View Amazon EKS
# security group requirements for clusters" (https://docs.aws.amazon.com/eks/latest/userguide/
# sec-group-reqs.html): the cluster security group EKS creates allows inbound traffic from itself
# only. pulumi-aws exposes its id as eks.Cluster `vpcConfig.clusterSecurityGroupId`.


def _private_with_runner(document: dict[str, Any]) -> None:
    section = cluster_section(document)
    section.update(endpointPublicAccess=False)
    section.pop("publicAccessCidrs")
    section["privateAccessCidrs"] = ["10.100.8.0/24"]
    section["privateAccessSecurityGroupIds"] = ["sg-0abc12345678"]


def test_a_private_endpoint_admits_the_runner_on_443(plan_edited: Any) -> None:
    plan: Plan = plan_edited("prod", _private_with_runner)
    [cluster] = plan.run.of_type("aws:eks/cluster:Cluster")
    rules = plan.run.of_type(INGRESS_RULE)
    sources = set()
    for rule in rules:
        inputs = rule.plain_inputs
        assert (inputs["ipProtocol"], inputs["fromPort"], inputs["toPort"]) == ("tcp", 443, 443)
        # Into the cluster security group the cluster reports, not a group of our own.
        assert inputs["securityGroupId"].startswith("sg-")
        assert rule.property_dependencies["securityGroupId"] == [cluster.urn]
        sources.add(inputs.get("cidrIpv4") or inputs.get("referencedSecurityGroupId"))
    assert sources == {"10.100.8.0/24", "sg-0abc12345678"}
    # Nothing is applied to the cluster before the runner can reach it.
    [provider] = plan.run.of_type("pulumi:providers:kubernetes")
    assert {rule.urn for rule in rules} <= set(provider.dependencies)


def test_a_private_endpoint_without_runner_access_is_one_config_error(plan_edited: Any) -> None:
    def private_only(document: dict[str, Any]) -> None:
        cluster_section(document).update(endpointPublicAccess=False)
        cluster_section(document).pop("publicAccessCidrs")

    with pytest.raises(PlanError) as refused:
        plan_edited("prod", private_only)
    message = str(refused.value)
    assert message.startswith("config error: eks-gitops:cluster.privateAccessCidrs = []")
    assert "\n" not in message


def test_prod_reaches_its_api_without_opening_it_to_the_internet() -> None:
    prod = parse_stack_config(stack_document("prod")["config"], "prod")
    # The stack file picks one of the two ways in: a public endpoint limited to CI's egress.
    assert prod.cluster.endpoint_public_access and prod.cluster.public_access_cidrs
    assert "0.0.0.0/0" not in prod.cluster.public_access_cidrs
    assert check_config(prod) == []
    document = stack_document("prod")
    cluster_section(document)["publicAccessCidrs"].append("0.0.0.0/0")
    opened = parse_stack_config(document["config"], "prod")
    assert [v.rule for v in check_config(opened)] == ["restricted-endpoint"]
