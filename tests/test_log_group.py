"""The control-plane log group: declared by the program, so it has a retention, the stack's tags and
optionally a KMS key, exists before the cluster writes to it and goes only after the cluster."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from eks_gitops import policy
from eks_gitops.settings.model import LOG_RETENTION_DAYS, ConfigError
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import ENVIRONMENTS, repo_plan, stack_document
from tests.graph_support import graph_of, must_delete_before
from tools.offline.guardrails import declared_from_graph
from tools.plan import Plan

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
KEY_ARN = "arn:aws:kms:{region}:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def cluster_section(document: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = document["config"]["eks-gitops:cluster"]
    return section


def refusal(stack: str, **values: Any) -> ConfigError:
    document = stack_document(stack)
    cluster_section(document).update(values)
    with pytest.raises(ConfigError) as refused:
        parse_stack_config(document["config"], stack)
    return refused.value


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_log_group_eks_writes_to_is_declared_with_the_stack_retention(stack: str) -> None:
    plan = repo_plan(stack)
    section = cluster_section(stack_document(stack))
    [log_group] = plan.run.of_type(LOG_GROUP)
    # EKS user guide, "Send control plane logs to CloudWatch Logs" (awsdocs/amazon-eks-user-guide
    # latest/ug/observability/control-plane-logs.adoc): "The log group name format is
    # /aws/eks/my-cluster/cluster". Another name and EKS creates its own next to it.
    assert log_group.plain_inputs["name"] == f"/aws/eks/{section['name']}/cluster"
    # CloudWatch Logs PutRetentionPolicy: "If you omit retentionInDays ... the events in the log
    # group are always retained and never expire", which is what the group EKS creates gets.
    assert log_group.plain_inputs["retentionInDays"] == section["logRetentionDays"]
    assert section["logRetentionDays"] in LOG_RETENTION_DAYS
    # No key configured: CloudWatch Logs' own encryption, no kmsKeyId sent.
    assert log_group.plain_inputs.get("kmsKeyId") is None
    # Losing it loses the audit trail: protected with the cluster.
    assert log_group.protect == section["protect"]


def test_each_stack_keeps_its_logs_as_long_as_its_stack_file_says() -> None:
    retention = {
        stack: cluster_section(stack_document(stack))["logRetentionDays"] for stack in ENVIRONMENTS
    }
    assert retention["dev"] < retention["qa"] < retention["prod"]
    assert retention["prod"] >= 365


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_log_group_exists_before_the_cluster_and_outlives_it(stack: str) -> None:
    # terraform-provider-aws website/docs/r/eks_cluster.html.markdown declares the
    # aws_cloudwatch_log_group named /aws/eks/<cluster>/cluster with depends_on "to prevent ordering
    # issues with EKS automatically creating the log group first"; terraform-aws-modules/
    # terraform-aws-eks main.tf does the same (aws_eks_cluster.this depends_on
    # aws_cloudwatch_log_group.this). On destroy the dependency keeps it until the cluster is gone.
    graph = graph_of(repo_plan(stack))
    [log_group] = graph.of_type(LOG_GROUP)
    [cluster] = graph.of_type(EKS_CLUSTER)
    assert graph.reaches(cluster.urn, log_group.urn)
    assert must_delete_before(graph, cluster.urn, log_group.urn)
    broken = graph.without_edge(cluster.urn, log_group.urn)
    assert not must_delete_before(broken, cluster.urn, log_group.urn)


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_log_group_carries_the_stack_tags(stack: str) -> None:
    # Provider default tags reach every resource Pulumi creates through that provider; the
    # required-tags guardrail checks that the group's provider carries the stack's tags.
    plan = repo_plan(stack)
    [log_group] = [r for r in declared_from_graph(plan.run.resources) if r.type == LOG_GROUP]
    assert log_group.provider_default_tags is not None
    assert dict(plan.settings.tags).items() <= log_group.provider_default_tags.items()
    assert policy.check_resources(plan.settings, [log_group]) == []
    untagged = dataclasses.replace(log_group, provider_default_tags=None)
    [violation] = policy.check_resources(plan.settings, [untagged])
    assert violation.rule == "required-tags"


def test_a_kms_key_encrypts_the_log_group(plan_edited: Callable[..., Plan]) -> None:
    key = KEY_ARN.format(region="eu-west-1")
    plan = plan_edited("qa", lambda d: cluster_section(d).update(logKmsKeyArn=key))
    [log_group] = plan.run.of_type(LOG_GROUP)
    assert log_group.plain_inputs["kmsKeyId"] == key


@pytest.mark.parametrize("days", [0, 2, 10, 366, 4000, "30"])
def test_a_retention_cloudwatch_refuses_is_one_error_naming_the_key(days: Any) -> None:
    # CloudWatch Logs PutRetentionPolicy, retentionInDays: "Possible values are: 1, 3, 5, 7, 14,
    # 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653."
    refused = refusal("qa", logRetentionDays=days)
    assert refused.key == "eks-gitops:cluster.logRetentionDays"
    assert len(str(refused).splitlines()) == 1


def test_the_retention_list_is_cloudwatchs() -> None:
    cloudwatch = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827]
    cloudwatch += [2192, 2557, 2922, 3288, 3653]
    assert list(LOG_RETENTION_DAYS) == cloudwatch


@pytest.mark.parametrize(
    "key",
    [
        KEY_ARN.format(region="us-east-1"),
        "alias/eks-logs",
        "arn:aws:kms:eu-west-1:123456789012:alias/eks-logs",
    ],
)
def test_a_log_key_not_in_the_region_or_not_a_key_arn_is_refused(key: str) -> None:
    # CloudWatch Logs AssociateKmsKey / CreateLogGroup kmsKeyId: the ARN of a symmetric key in the
    # log group's own region.
    refused = refusal("qa", logKmsKeyArn=key)
    assert refused.key == "eks-gitops:cluster.logKmsKeyArn"
    assert "eu-west-1" in str(refused)
