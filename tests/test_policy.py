"""Guardrails: every rule on parsed stack settings, on declared resources, through the SDK's
transform callback, and end to end through the offline plan."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime._callbacks import _CallbackServicer
from pulumi.runtime.proto import resource_pb2

from eks_gitops import program
from eks_gitops.policy import (
    AWS_PROVIDER_TYPE,
    CLUSTER_TYPE,
    DEPLOY_KEY_TYPE,
    KMS_KEY_TYPE,
    LAUNCH_TEMPLATE_TYPE,
    NODE_GROUP_TYPE,
    POLICY_RULES,
    STATEFUL_TYPES,
    DeclaredResource,
    PolicyError,
    ResourceGuard,
    Violation,
    check_config,
    check_resources,
    check_waivers,
    unneeded_relaxations,
)
from eks_gitops.settings.model import ConfigError, StackConfig
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import ENVIRONMENTS, FLUX_V294, REPO_ROOT, repo_plan, stack_document
from tools.offline.engine import RecordedResource
from tools.offline.guardrails import declared_from_graph
from tools.plan import Plan, PlanError, plan_stack

Edit = Callable[[dict[str, Any]], None]
PROD_TAGS = {"project": "eks-gitops", "stack": "prod", "environment": "prod"}
# What the node group launches gets no provider default tags, only the launch template's.
LAUNCHED_TAGS = [
    {"resourceType": kind, "tags": PROD_TAGS}
    for kind in ("instance", "volume", "network-interface")
]


def _config(document: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = document["config"]
    return config


def settings_of(stack: str, edit: Edit | None = None) -> StackConfig:
    document = stack_document(stack)
    if edit is not None:
        edit(document)
    return parse_stack_config(_config(document), stack)


def cluster(document: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = _config(document)["eks-gitops:cluster"]
    return section


def nodes(document: dict[str, Any]) -> dict[str, Any]:
    section: dict[str, Any] = cluster(document)["nodes"]
    return section


def set_relax(rules: Sequence[str]) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        _config(document)["eks-gitops:policy"] = {"relax": list(rules)}

    return edit


def without_relax(document: dict[str, Any]) -> None:
    _config(document).pop("eks-gitops:policy", None)


def unprotected(document: dict[str, Any]) -> None:
    cluster(document)["protect"] = False


def one_existing_subnet(document: dict[str, Any]) -> None:
    # Existing subnets decide the zones; naming zones as well is refused.
    _config(document)["eks-gitops:network"].pop("availabilityZones")
    _config(document)["eks-gitops:network"]["existing"] = {
        "vpcId": "vpc-0abc12345678",
        "privateSubnetIds": ["subnet-0abc12345678"],
    }


def one_node(document: dict[str, Any]) -> None:
    nodes(document).update(minSize=1, desiredSize=1)


def open_endpoint(document: dict[str, Any]) -> None:
    cluster(document).update(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"])


def no_audit_log(document: dict[str, Any]) -> None:
    cluster(document)["logTypes"] = ["api", "authenticator"]


def hop_limit_three(document: dict[str, Any]) -> None:
    nodes(document)["metadataHopLimit"] = 3


def read_write_key(document: dict[str, Any]) -> None:
    _config(document)["eks-gitops:deployKey"]["readWrite"] = True


# Each prod guardrail broken on its own: the edit, the rule it breaks, the key the message names.
PROD_BREAKAGES = [
    pytest.param(unprotected, "protect-stateful", "eks-gitops:cluster.protect", id="protect"),
    pytest.param(
        one_existing_subnet,
        "multi-az",
        "eks-gitops:network.existing.privateSubnetIds",
        id="one-subnet",
    ),
    pytest.param(one_node, "min-nodes", "eks-gitops:cluster.nodes.minSize", id="one-node"),
    pytest.param(
        open_endpoint, "restricted-endpoint", "eks-gitops:cluster.publicAccessCidrs", id="open-api"
    ),
    pytest.param(no_audit_log, "audit-logging", "eks-gitops:cluster.logTypes", id="no-audit"),
    pytest.param(
        hop_limit_three, "imds-hop-limit", "eks-gitops:cluster.nodes.metadataHopLimit", id="hop-3"
    ),
    pytest.param(
        read_write_key, "read-only-deploy-key", "eks-gitops:deployKey.readWrite", id="read-write"
    ),
]


def rules_of(violations: Sequence[Violation]) -> list[str]:
    return sorted(violation.rule for violation in violations)


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_stack_file_keeps_its_guardrails(stack: str) -> None:
    assert check_config(settings_of(stack)) == []


@pytest.mark.parametrize(("edit", "rule", "key"), PROD_BREAKAGES)
def test_each_broken_prod_guardrail_is_one_violation_naming_the_key(
    edit: Edit, rule: str, key: str
) -> None:
    violations = check_config(settings_of("prod", edit))
    assert rules_of(violations) == [rule]
    line = str(violations[0])
    assert line.startswith(f"policy violation [{rule}]: {key}: ")
    assert "; fix: " in line and "\n" not in line
    # prod cannot waive these, so the fix must not suggest it.
    if rule != "read-only-deploy-key":
        assert "policy.relax" not in line


def test_violation_line_format() -> None:
    violation = Violation("min-nodes", "eks-gitops:cluster.nodes.minSize", "is 1", "set 2")
    assert str(violation) == (
        "policy violation [min-nodes]: eks-gitops:cluster.nodes.minSize: is 1; fix: set 2"
    )


def test_policy_error_is_a_run_error_with_one_line_per_violation() -> None:
    violations = check_config(settings_of("prod", lambda d: (one_node(d), no_audit_log(d))))
    error = PolicyError(violations)
    assert isinstance(error, pulumi.RunError)
    assert str(error).splitlines() == [str(v) for v in violations]
    assert rules_of(error.violations) == ["audit-logging", "min-nodes"]


@pytest.mark.parametrize(
    ("public", "cidrs", "allowed"),
    [
        (False, [], True),
        (True, ["203.0.113.0/24"], True),
        (True, ["203.0.113.0/24", "198.51.100.0/24"], True),
        (True, [], False),  # EKS opens a public endpoint without CIDRs to everyone
        (True, ["0.0.0.0/0"], False),
        (True, ["203.0.113.0/24", "0.0.0.0/0"], False),
    ],
)
def test_restricted_endpoint(public: bool, cidrs: list[str], allowed: bool) -> None:
    def edit(document: dict[str, Any]) -> None:
        cluster(document).update(endpointPublicAccess=public, publicAccessCidrs=cidrs)
        if not public:
            # A private endpoint is only accepted with a way in for the runner (settings/parse.py).
            cluster(document)["privateAccessCidrs"] = ["10.100.8.0/24"]

    violations = check_config(settings_of("prod", edit))
    assert rules_of(violations) == ([] if allowed else ["restricted-endpoint"])


@pytest.mark.parametrize(("hop_limit", "allowed"), [(1, True), (2, True), (3, False), (64, False)])
def test_imds_hop_limit(hop_limit: int, allowed: bool) -> None:
    def edit(document: dict[str, Any]) -> None:
        nodes(document)["metadataHopLimit"] = hop_limit

    assert rules_of(check_config(settings_of("prod", edit))) == (
        [] if allowed else ["imds-hop-limit"]
    )


def test_two_existing_private_subnets_are_multi_az() -> None:
    def edit(document: dict[str, Any]) -> None:
        one_existing_subnet(document)
        _config(document)["eks-gitops:network"]["existing"]["privateSubnetIds"].append(
            "subnet-0def12345678"
        )

    assert check_config(settings_of("prod", edit)) == []


def test_two_nodes_are_enough() -> None:
    assert (
        check_config(settings_of("prod", lambda d: nodes(d).update(minSize=2, desiredSize=2))) == []
    )


def test_prod_may_waive_the_read_only_deploy_key_only_by_saying_so() -> None:
    def edit(document: dict[str, Any]) -> None:
        read_write_key(document)
        set_relax(["read-only-deploy-key"])(document)

    assert check_config(settings_of("prod", edit)) == []
    [violation] = check_config(settings_of("prod", read_write_key))
    assert "list read-only-deploy-key in eks-gitops:policy.relax" in violation.fix


def test_dev_without_its_relaxations_breaks_exactly_what_it_relaxes() -> None:
    relaxed = settings_of("dev").policy.relax
    assert rules_of(check_config(settings_of("dev", without_relax))) == sorted(relaxed)


RELAXATIONS = [
    (stack, rule)
    for stack in ENVIRONMENTS
    for rule in _config(stack_document(stack)).get("eks-gitops:policy", {}).get("relax", [])
]


def test_dev_and_qa_relax_something() -> None:
    assert {stack for stack, _ in RELAXATIONS} == {"dev", "qa"}


@pytest.mark.parametrize(("stack", "rule"), RELAXATIONS)
def test_every_relaxation_in_a_stack_file_is_needed(stack: str, rule: str) -> None:
    remaining = [r for r in settings_of(stack).policy.relax if r != rule]
    violations = check_config(settings_of(stack, set_relax(remaining)))
    assert rules_of(violations) == [rule]
    # A non-prod stack is told it may waive the rule instead.
    assert f"or list {rule} in eks-gitops:policy.relax" in violations[0].fix


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_stack_files_relax_nothing_they_keep(stack: str) -> None:
    assert unneeded_relaxations(settings_of(stack)) == ()


def test_a_stale_relaxation_is_named() -> None:
    settings = settings_of("qa", set_relax(["protect-stateful", "audit-logging", "min-nodes"]))
    assert unneeded_relaxations(settings) == ("min-nodes", "audit-logging")
    assert check_config(settings) == []


# --- declared resources -------------------------------------------------------------------------


def resource(
    type_: str,
    inputs: dict[str, Any] | None = None,
    *,
    protect: bool = True,
    tags: dict[str, str] | None = PROD_TAGS,
    name: str = "example",
) -> DeclaredResource:
    return DeclaredResource(type_, name, protect, inputs or {}, tags)


GOOD_RESOURCES = [
    resource(
        CLUSTER_TYPE,
        {"vpcConfig": {"endpointPublicAccess": False}, "enabledClusterLogTypes": ["audit"]},
    ),
    resource(KMS_KEY_TYPE),
    # Not stateful: a roll to a new group must be able to delete the old one.
    resource(NODE_GROUP_TYPE, {"scalingConfig": {"minSize": 3.0}}, protect=False),
    resource(
        LAUNCH_TEMPLATE_TYPE,
        {
            "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1.0},
            "tagSpecifications": LAUNCHED_TAGS,
        },
        protect=False,
    ),
    resource(DEPLOY_KEY_TYPE, {"readOnly": True}, protect=False, tags=None),
    resource("aws:ec2/vpc:Vpc", {"tags": {"Name": "gitops-prod"}}, protect=False),
]


def test_well_declared_resources_pass() -> None:
    assert check_resources(settings_of("prod"), GOOD_RESOURCES) == []


@pytest.mark.parametrize("type_", STATEFUL_TYPES)
def test_unprotected_stateful_resource(type_: str) -> None:
    good = next(r for r in GOOD_RESOURCES if r.type == type_)
    violations = check_resources(settings_of("prod"), [dataclasses.replace(good, protect=False)])
    assert rules_of(violations) == ["protect-stateful"]
    assert violations[0].resource == f"{type_}::example"


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [
        ({"httpTokens": "optional", "httpPutResponseHopLimit": 1.0}, 'httpTokens is "optional"'),
        ({"httpPutResponseHopLimit": 2.0}, "httpTokens is null"),
        ({"httpTokens": "required", "httpPutResponseHopLimit": 3.0}, "HopLimit is 3"),
        ({"httpTokens": "required"}, "HopLimit is null"),
    ],
)
def test_launch_template_metadata_options(metadata: dict[str, Any], fragment: str) -> None:
    template = resource(
        LAUNCH_TEMPLATE_TYPE,
        {"metadataOptions": metadata, "tagSpecifications": LAUNCHED_TAGS},
        protect=False,
    )
    violations = check_resources(settings_of("prod"), [template])
    assert rules_of(violations) == ["imds-hop-limit"]
    assert fragment in str(violations[0])


def _launch_template_tagging(specifications: list[dict[str, Any]]) -> list[Violation]:
    template = resource(
        LAUNCH_TEMPLATE_TYPE,
        {
            "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1.0},
            "tagSpecifications": specifications,
        },
        protect=False,
    )
    return check_resources(settings_of("prod"), [template])


def test_launch_template_without_tag_specifications_leaves_launched_resources_untagged() -> None:
    # Default tags are the provider's: it adds them to the resources it creates (pulumi-aws /
    # Terraform AWS provider, default_tags), and EKS passes no tags on to the instances, volumes
    # and network interfaces a managed node group launches
    # (https://docs.aws.amazon.com/eks/latest/userguide/eks-using-tags.html; pulumi/pulumi-eks#635;
    # terraform-aws-modules/terraform-aws-eks#1916). The template's own tag specifications are all
    # they get, so the tagged provider behind the template is not enough.
    violations = _launch_template_tagging([])
    assert rules_of(violations) == ["required-tags"] * 3
    assert [v.problem.split(" miss")[0] for v in violations] == [
        "tagSpecifications for instance",
        "tagSpecifications for volume",
        "tagSpecifications for network-interface",
    ]


def test_launch_template_tags_for_another_environment_are_caught() -> None:
    wrong = [
        {**spec, "tags": {**PROD_TAGS, "environment": "dev"}}
        if spec["resourceType"] == "volume"
        else spec
        for spec in LAUNCHED_TAGS
    ]
    [violation] = _launch_template_tagging(wrong)
    assert violation.rule == "required-tags"
    assert "tagSpecifications for volume miss or misstate environment" in violation.problem


def test_relaxed_required_tags_waive_the_launch_template_check() -> None:
    template = resource(
        LAUNCH_TEMPLATE_TYPE,
        {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2.0}},
        protect=False,
        tags={**PROD_TAGS, "stack": "qa", "environment": "qa"},
    )
    settings = settings_of("qa", set_relax(["protect-stateful", "required-tags"]))
    assert check_resources(settings, [template]) == []


def test_declared_cluster_endpoint_logs_and_node_count() -> None:
    declared = [
        resource(
            CLUSTER_TYPE,
            {
                "vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
                "enabledClusterLogTypes": ["api"],
            },
        ),
        resource(NODE_GROUP_TYPE, {"scalingConfig": {"minSize": 1.0}}),
    ]
    violations = check_resources(settings_of("prod"), declared)
    assert rules_of(violations) == ["audit-logging", "min-nodes", "restricted-endpoint"]


def test_read_write_deploy_key_unless_relaxed() -> None:
    key = resource(DEPLOY_KEY_TYPE, {"readOnly": False}, protect=False, tags=None)
    assert rules_of(check_resources(settings_of("prod"), [key])) == ["read-only-deploy-key"]
    relaxed = settings_of("prod", set_relax(["read-only-deploy-key"]))
    assert check_resources(relaxed, [key]) == []


def test_aws_resource_without_an_explicit_provider_gets_no_tags() -> None:
    [violation] = check_resources(
        settings_of("prod"), [resource("aws:s3/bucket:Bucket", tags=None)]
    )
    assert violation.rule == "required-tags"
    assert "without an explicit AWS provider" in violation.problem


def test_provider_tags_with_the_wrong_environment() -> None:
    wrong = {**PROD_TAGS, "environment": "dev"}
    [violation] = check_resources(settings_of("prod"), [resource("aws:ec2/vpc:Vpc", tags=wrong)])
    assert violation.rule == "required-tags"
    assert "misstate environment" in violation.problem


def test_own_tags_overriding_a_required_tag() -> None:
    vpc = resource("aws:ec2/vpc:Vpc", {"tags": {"stack": "scratch"}}, protect=False)
    [violation] = check_resources(settings_of("prod"), [vpc])
    assert violation.rule == "required-tags"
    assert "override stack" in violation.problem


# --- the recorded graph of real plans ------------------------------------------------------------


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_recorded_plans_keep_every_resource_guardrail(stack: str) -> None:
    resources = declared_from_graph(repo_plan(stack).run.resources)
    assert check_resources(settings_of(stack), resources) == []


def test_dev_plan_without_relaxations_shows_what_dev_declares() -> None:
    violations = check_resources(
        settings_of("dev", without_relax), declared_from_graph(repo_plan("dev").run.resources)
    )
    found = {(v.rule, v.resource.split("::")[0]) for v in violations}
    assert found == {
        *(("protect-stateful", type_) for type_ in STATEFUL_TYPES),
        ("min-nodes", NODE_GROUP_TYPE),
        ("restricted-endpoint", CLUSTER_TYPE),
    }


def _without_default_tags(resources: Sequence[RecordedResource]) -> list[RecordedResource]:
    return [
        dataclasses.replace(r, inputs={k: v for k, v in r.inputs.items() if k != "defaultTags"})
        if r.type == AWS_PROVIDER_TYPE
        else r
        for r in resources
    ]


def test_recorded_aws_provider_without_default_tags_flags_every_aws_resource() -> None:
    recorded = repo_plan("prod").run.resources
    violations = check_resources(
        settings_of("prod"), declared_from_graph(_without_default_tags(recorded))
    )
    aws_resources = {f"{r.type}::{r.name}" for r in recorded if r.type.startswith("aws:")}
    assert len(aws_resources) > 20
    assert {v.rule for v in violations} == {"required-tags"}
    assert {v.resource for v in violations} == aws_resources


def test_relaxed_required_tags_are_not_checked() -> None:
    recorded = _without_default_tags(repo_plan("qa").run.resources)
    settings = settings_of("qa", set_relax(["protect-stateful", "required-tags"]))
    assert check_resources(settings, declared_from_graph(recorded)) == []


# --- the transform, called the way the engine calls it ------------------------------------------


PROVIDER_URN = "urn:pulumi:prod::eks-gitops::pulumi:providers:aws::aws"


def _transform_request(
    type_: str, name: str, props: dict[str, Any], *, protect: bool = False, provider: str = ""
) -> resource_pb2.TransformRequest:
    properties = struct_pb2.Struct()
    properties.update(props)
    options = resource_pb2.TransformResourceOptions(provider=provider)
    options.protect = protect
    return resource_pb2.TransformRequest(
        type=type_, name=name, custom=True, properties=properties, options=options
    )


def _through_sdk_callback(
    guard: ResourceGuard, requests: Sequence[resource_pb2.TransformRequest]
) -> None:
    """Feeds serialized TransformRequests to the guard through the SDK's callback server, which
    decodes them into ResourceTransformArgs exactly as it does for the engine."""

    async def run() -> None:
        servicer = _CallbackServicer(monitor=None)  # type: ignore[arg-type]
        try:
            callback = servicer.register_transform(guard)
            for request in requests:
                await servicer._callbacks[callback.token](request.SerializeToString())
        finally:
            _CallbackServicer._servicers.remove(servicer)

    # A loop of its own: asyncio.run would clear the thread's loop the mock engine runs on.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


def _provider_request(tags: dict[str, str]) -> resource_pb2.TransformRequest:
    # The SDK sends provider inputs JSON-encoded, as the recorded plans show.
    return _transform_request(
        AWS_PROVIDER_TYPE,
        "aws",
        {"region": "eu-central-1", "defaultTags": json.dumps({"tags": tags})},
    )


def test_transform_passes_a_well_declared_stack() -> None:
    ref = f"{PROVIDER_URN}::provider-id"
    _through_sdk_callback(
        ResourceGuard(settings_of("prod")),
        [
            _provider_request(PROD_TAGS),
            _transform_request(KMS_KEY_TYPE, "cluster-secrets", {}, protect=True, provider=ref),
            _transform_request(
                LAUNCH_TEMPLATE_TYPE,
                "cluster-nodes",
                {
                    "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
                    "tagSpecifications": LAUNCHED_TAGS,
                },
                provider=ref,
            ),
        ],
    )


def test_transform_refuses_an_unprotected_key() -> None:
    ref = f"{PROVIDER_URN}::provider-id"
    with pytest.raises(PolicyError) as refused:
        _through_sdk_callback(
            ResourceGuard(settings_of("prod")),
            [
                _provider_request(PROD_TAGS),
                _transform_request(
                    KMS_KEY_TYPE, "cluster-secrets", {}, protect=False, provider=ref
                ),
            ],
        )
    assert str(refused.value) == (
        f"policy violation [protect-stateful]: {KMS_KEY_TYPE}::cluster-secrets: is declared without "
        "protect; fix: declare it with ResourceOptions(protect=True) (eks-gitops:cluster.protect)"
    )


def test_transform_refuses_resources_of_an_untagged_provider() -> None:
    ref = f"{PROVIDER_URN}::provider-id"
    with pytest.raises(PolicyError) as refused:
        _through_sdk_callback(
            ResourceGuard(settings_of("prod")),
            [
                _provider_request({"project": "eks-gitops"}),
                _transform_request("aws:ec2/vpc:Vpc", "vpc", {}, provider=ref),
            ],
        )
    [violation] = refused.value.violations
    assert violation.rule == "required-tags"
    assert "misstate environment, stack" in violation.problem


# --- end to end through the offline plan ----------------------------------------------------------


@pytest.mark.parametrize(("edit", "rule", "key"), PROD_BREAKAGES)
def test_plan_refuses_prod_with_a_broken_guardrail(
    plan_edited: Callable[..., Plan], edit: Edit, rule: str, key: str
) -> None:
    with pytest.raises(PlanError) as refused:
        plan_edited("prod", edit)
    assert str(refused.value).startswith(f"policy violation [{rule}]: {key}: ")


def test_plan_of_prod_with_a_waived_read_write_key(plan_edited: Callable[..., Plan]) -> None:
    plan = plan_edited(
        "prod", lambda d: (read_write_key(d), set_relax(["read-only-deploy-key"])(d))
    )
    [key] = plan.run.of_type(DEPLOY_KEY_TYPE)
    assert key.plain_inputs["readOnly"] is False


def test_dev_plans_with_its_documented_relaxations() -> None:
    plan = repo_plan("dev")
    assert plan.run.of_type(CLUSTER_TYPE)[0].protect is False
    assert not [line for line in plan.run.logs if "policy" in line]


def test_plan_refuses_dev_without_its_relaxations(plan_edited: Callable[..., Plan]) -> None:
    with pytest.raises(PlanError) as refused:
        plan_edited("dev", without_relax)
    lines = str(refused.value).splitlines()
    assert sorted(line.split("]")[0] for line in lines) == [
        "policy violation [min-nodes",
        "policy violation [protect-stateful",
        "policy violation [restricted-endpoint",
    ]


def test_plan_warns_about_a_stale_relaxation(plan_edited: Callable[..., Plan]) -> None:
    plan = plan_edited("qa", set_relax(["protect-stateful", "audit-logging"]))
    warnings = [line for line in plan.run.logs if line.startswith("warning: policy:")]
    assert len(warnings) == 1
    assert "lists audit-logging, but stack qa keeps that rule" in warnings[0]


def test_plan_refuses_a_program_whose_aws_provider_drops_the_tags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tagged_provider = program.aws.Provider

    def untagged(name: str, **kwargs: Any) -> Any:
        assert "default_tags" in kwargs, (
            "the program no longer sets the AWS provider's default tags"
        )
        return tagged_provider(name, **{**kwargs, "default_tags": None})

    monkeypatch.setattr(program.aws, "Provider", untagged)
    with pytest.raises(PlanError) as refused:
        plan_stack("qa", flux_manifests=FLUX_V294)
    lines = str(refused.value).splitlines()
    assert len(lines) > 20
    assert all(line.startswith("policy violation [required-tags]: aws:") for line in lines)


def test_every_rule_has_a_guardrails_doc_entry() -> None:
    doc = (REPO_ROOT / "docs" / "guardrails.md").read_text()
    for rule in POLICY_RULES:
        assert f"`{rule}`" in doc


def test_an_unknown_waiver_is_one_error_naming_the_key() -> None:
    settings = settings_of("dev", set_relax(["everything"]))
    with pytest.raises(ConfigError) as error:
        check_waivers(settings)
    assert error.value.key == "eks-gitops:policy.relax"
    assert "protect-stateful" in str(error.value)


def test_prod_may_not_relax_production_rules() -> None:
    with pytest.raises(ConfigError) as error:
        check_waivers(settings_of("prod", set_relax(["protect-stateful"])))
    assert error.value.key == "eks-gitops:policy.relax"
    assert "read-only-deploy-key" in str(error.value)
    check_waivers(settings_of("prod", set_relax(["read-only-deploy-key"])))
