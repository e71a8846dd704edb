"""policy_pack: the program's guardrails as a Pulumi policy pack. The validators are called the way
the engine calls them, on resources recorded by the offline plan; building the PolicyPack itself
(policy_pack/__main__.py) would start its server, so only policy_pack.rules is imported."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from eks_gitops.policy import DeclaredResource, check_resources
from policy_pack.rules import RESOURCES_POLICY, SETTINGS_POLICY, policies, stack_settings
from tests.conftest import ENVIRONMENTS, repo_plan, stack_document, write_stack
from tests.test_policy import PROD_BREAKAGES, Edit
from tools.offline.engine import RecordedResource
from tools.offline.guardrails import declared_from_graph
from tools.paths import REPO_ROOT
from tools.plan import Plan

Violations = list[tuple[str, str | None]]
CLUSTER = "aws:eks/cluster:Cluster"


def options(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=None,
    )


def pack(project_dir: Path = REPO_ROOT) -> tuple[StackValidationPolicy, ResourceValidationPolicy]:
    found = {policy.name: policy for policy in policies(project_dir)}
    settings, resources = found[SETTINGS_POLICY], found[RESOURCES_POLICY]
    assert isinstance(settings, StackValidationPolicy)
    assert isinstance(resources, ResourceValidationPolicy)
    return settings, resources


def resource_args(plan: Plan, resource: RecordedResource) -> ResourceValidationArgs:
    """The arguments the engine hands a resource policy, from what the plan recorded."""
    providers = {f"{r.type}::{r.name}": r for r in plan.run.resources}
    provider = providers.get(resource.provider or "")
    return ResourceValidationArgs(
        resource_type=resource.type,
        props=resource.plain_inputs,
        urn=resource.urn,
        name=resource.name,
        opts=options(resource.protect),
        provider=PolicyProviderResource(
            provider.type, provider.plain_inputs, provider.urn, provider.name
        )
        if provider is not None
        else None,
    )


def stack_args(plan: Plan) -> StackValidationArgs:
    return StackValidationArgs(
        resources=[
            PolicyResource(
                resource_type=r.type,
                props=r.plain_inputs,
                urn=r.urn,
                name=r.name,
                opts=options(r.protect),
                provider=None,
                parent=None,
                dependencies=[],
                property_dependencies={},
            )
            for r in plan.run.resources
        ]
    )


def validate_resources(
    policy: ResourceValidationPolicy,
    plan: Plan,
    change: Callable[[RecordedResource], RecordedResource] = lambda r: r,
) -> Violations:
    found: Violations = []
    for resource in plan.run.resources:
        assert callable(policy.validate)
        policy.validate(
            resource_args(plan, change(resource)),
            lambda message, urn=None: found.append((message, urn)),
        )
    return found


def validate_stack(policy: StackValidationPolicy, plan: Plan) -> Violations:
    found: Violations = []
    assert callable(policy.validate)
    policy.validate(stack_args(plan), lambda message, urn=None: found.append((message, urn)))
    return found


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_committed_stack_passes_the_pack(stack: str) -> None:
    settings, resources = pack()
    plan = repo_plan(stack)
    assert validate_stack(settings, plan) == []
    assert validate_resources(resources, plan) == []


def test_the_pack_reads_the_stack_file_the_urns_name() -> None:
    plan = repo_plan("dev")
    assert stack_settings(REPO_ROOT, "dev") == plan.settings


@pytest.mark.parametrize(("edit", "rule", "key"), PROD_BREAKAGES)
def test_a_prod_stack_file_the_program_refuses_the_pack_refuses(
    project_copy: Path, edit: Edit, rule: str, key: str
) -> None:
    # The program refuses these files before declaring anything (tests/test_policy.py,
    # test_plan_refuses_prod_with_a_broken_guardrail); the pack judges the same file, here under
    # the resources the committed prod file declares.
    document = stack_document("prod")
    edit(document)
    write_stack(project_copy, "prod", document)
    settings, _ = pack(project_copy)
    found = validate_stack(settings, repo_plan("prod"))
    assert [(message.split(": ")[0:2], urn) for message, urn in found] == [
        ([f"policy violation [{rule}]", key], None)
    ]


def test_an_unprotected_cluster_is_refused_by_program_and_pack_alike() -> None:
    plan = repo_plan("prod")
    _, resources = pack()

    def unprotect(resource: RecordedResource) -> RecordedResource:
        if resource.type != CLUSTER:
            return resource
        return dataclasses.replace(resource, protect=False)

    found = validate_resources(resources, plan, unprotect)
    [cluster] = plan.run.of_type(CLUSTER)
    assert found == [
        (
            f"policy violation [protect-stateful]: {CLUSTER}::{cluster.name}: is declared without "
            "protect; fix: declare it with ResourceOptions(protect=True) (eks-gitops:cluster.protect)",
            cluster.urn,
        )
    ]
    declared: list[DeclaredResource] = declared_from_graph(
        [unprotect(r) for r in plan.run.resources]
    )
    assert [str(v) for v in check_resources(plan.settings, declared)] == [found[0][0]]


def test_a_waiver_prod_may_not_take_is_refused(project_copy: Path) -> None:
    document = stack_document("prod")
    document["config"]["eks-gitops:policy"] = {"relax": ["min-nodes"]}
    write_stack(project_copy, "prod", document)
    settings, _ = pack(project_copy)
    [(message, urn)] = validate_stack(settings, repo_plan("prod"))
    assert "eks-gitops:policy.relax" in message and "min-nodes" in message
    assert urn is None


def test_resources_without_their_aws_provider_miss_the_required_tags() -> None:
    plan = repo_plan("qa")
    _, resources = pack()
    found: Violations = []
    [vpc] = plan.run.of_type("aws:ec2/vpc:Vpc")
    args: Any = resource_args(plan, vpc)
    args.provider = None
    assert callable(resources.validate)
    resources.validate(args, lambda message, urn=None: found.append((message, urn)))
    assert [message.split(": ")[0] for message, _ in found] == ["policy violation [required-tags]"]
