"""Resources declared by type token (components/schema_resources.py, and the Flux manifest's objects
in components/toolkit.py) against the SDKs' typed classes.

The program declares those by token and provider-schema names, so mypy does not see the names.
These tests take over: every AWS and Kubernetes resource of every stack (the typed Kubernetes
classes too, redundantly) is checked against the typed class the SDK has for its token (names and
types of every input, nested ones too, and the required ones present), the typed class is made to
register the same inputs, and the mock engine's outputs for it must be properties that class
declares."""

from __future__ import annotations

import collections.abc
import contextvars
import enum
import importlib
import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pulumi
import pytest
from pulumi import _types as sdk_types
from pulumi.runtime import mocks as pulumi_mocks

from components.schema_resources import SchemaResource, aws_type_token
from components.toolkit import kubernetes_type_token
from tests.conftest import STACKS, repo_plan
from tools.mocks import RecordedResource, RecordingMocks, redact, whole_numbers

# Custom resources the SDKs have no class for; the gitops schema checks cover them (tools/gitops).
FLUX_GROUP_SUFFIX = ".toolkit.fluxcd.io"


def sdk_resource_class(type_token: str) -> type[pulumi.CustomResource] | None:
    package, module, name = type_token.split(":")
    if package == "aws":
        service, resource = module.split("/")
        module_name = f"pulumi_aws.{service}.{re.sub(r'(?<!^)(?=[A-Z])', '_', resource).lower()}"
    elif package == "kubernetes":
        group, version = module.rsplit("/", 1)
        module_name = f"pulumi_kubernetes.{group.split('.')[0]}.{version}.{name}"
    else:
        raise AssertionError(f"{type_token}: not an AWS or Kubernetes token")
    try:
        sdk_module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    resource_class: type[pulumi.CustomResource] = getattr(sdk_module, name)
    return resource_class


def sdk_args_class(resource_class: type[pulumi.CustomResource]) -> type:
    """`RouteTableArgs`; the Kubernetes SDK calls a resource's arguments `SecretInitArgs`."""
    sdk_module = sys.modules[resource_class.__module__]
    name = resource_class.__name__
    args_class: type = getattr(sdk_module, f"{name}InitArgs", None) or getattr(
        sdk_module, f"{name}Args"
    )
    return args_class


def declared_by_token(stack: str) -> list[RecordedResource]:
    return [
        resource
        for resource in repo_plan(stack).run.resources
        if resource.custom and resource.type.split(":")[0] in ("aws", "kubernetes")
    ]


def _plain_type(annotation: Any) -> Any:
    """T out of Input[T], Optional[T] and the SDK's Union[T, Awaitable[T], Output[T]]."""
    annotation = sdk_types.unwrap_type(annotation)
    if typing.get_origin(annotation) is typing.Union:
        members = [
            member
            for member in typing.get_args(annotation)
            if member is not type(None)
            and typing.get_origin(member) not in (collections.abc.Awaitable, pulumi.Output)
        ]
        if len(members) == 1:
            return _plain_type(members[0])
    return annotation


def _required_names(input_class: type) -> set[str]:
    python_to_schema = sdk_types.input_type_py_to_pulumi_names(input_class)
    return {
        python_to_schema[parameter.name]
        for parameter in inspect.signature(input_class.__init__).parameters.values()
        if parameter.default is inspect.Parameter.empty and parameter.name in python_to_schema
    }


def schema_problems(value: Any, annotation: Any, path: str) -> Iterator[str]:
    """Where `value` does not fit the SDK's type for it: unknown names, missing required names,
    wrong kinds of value."""
    expected = _plain_type(annotation)
    origin = typing.get_origin(expected)
    if value is None or expected is Any:
        return
    if isinstance(expected, type) and sdk_types.is_input_type(expected):
        if not isinstance(value, Mapping):
            yield f"{path}: expected an object, got {value!r}"
            return
        properties = sdk_types.input_type_types(expected)
        for key, item in value.items():
            # The Kubernetes SDK spells the API's `x-kubernetes-*` schema extensions with
            # underscores; manifests carry the API's spelling, which typed classes pass on as is.
            name = key.replace("-", "_") if key.startswith("x-kubernetes-") else key
            if name not in properties:
                yield f"{path}.{key}: not a property of {expected.__name__}"
            else:
                yield from schema_problems(item, properties[name], f"{path}.{key}")
        for key in sorted(_required_names(expected) - set(value)):
            yield f"{path}.{key}: required by {expected.__name__}, missing"
    elif origin in (collections.abc.Sequence, list):
        if not isinstance(value, list):
            yield f"{path}: expected a list, got {value!r}"
            return
        (item_type,) = typing.get_args(expected)
        for index, item in enumerate(value):
            yield from schema_problems(item, item_type, f"{path}[{index}]")
    elif origin in (collections.abc.Mapping, dict):
        if not isinstance(value, Mapping):
            yield f"{path}: expected a map, got {value!r}"
            return
        _, item_type = typing.get_args(expected)
        for key, item in value.items():
            yield from schema_problems(item, item_type, f"{path}.{key}")
    elif origin is typing.Literal:
        if value not in typing.get_args(expected):
            yield f"{path}: {value!r} is not one of {typing.get_args(expected)}"
    elif origin is typing.Union:
        attempts = [
            list(schema_problems(value, member, path)) for member in typing.get_args(expected)
        ]
        if all(attempts):
            yield f"{path}: {value!r} fits none of {expected}"
    elif isinstance(expected, type) and issubclass(expected, enum.Enum):
        if value not in {member.value for member in expected}:
            yield f"{path}: {value!r} is not a {expected.__name__}"
    elif expected in (str, bool):
        if not isinstance(value, expected):
            yield f"{path}: expected {expected.__name__}, got {value!r}"
    elif expected in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            yield f"{path}: expected a number, got {value!r}"
    else:
        yield f"{path}: no check for {expected}"


class _TypedTwinMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append((args.typ, args.inputs))
        return f"{args.name}-id", {}

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        return {}


def run_under_twin_mocks(declare: Callable[[], pulumi.Output[Any]]) -> _TypedTwinMocks:
    """Runs `declare` as a Pulumi program of its own, in a fresh context, until its output and
    every registration are done."""
    mocks = _TypedTwinMocks()

    def run() -> None:
        pulumi.runtime.set_mocks(mocks, preview=False)
        pulumi.runtime.test(declare)()

    contextvars.Context().run(run)
    return mocks


def typed_registration(type_token: str, name: str, inputs: Mapping[str, Any]) -> tuple[str, Any]:
    """What the SDK's typed class registers for the same (plain) inputs, under a mock engine of its
    own; secrets, which the typed class marks itself, redacted."""
    resource_class = sdk_resource_class(type_token)
    assert resource_class is not None
    schema_to_python = {
        schema: python
        for python, schema in sdk_types.input_type_py_to_pulumi_names(
            sdk_args_class(resource_class)
        ).items()
    }
    # A typed Kubernetes class sets apiVersion and kind itself.
    fixed = ("apiVersion", "kind") if type_token.startswith("kubernetes:") else ()
    arguments = {schema_to_python[key]: value for key, value in inputs.items() if key not in fixed}
    mocks = run_under_twin_mocks(lambda: resource_class(name, **arguments).urn)
    [(registered_type, registered)] = mocks.registered
    return registered_type, whole_numbers(redact(registered))


def _without_nulls(value: Any) -> Any:
    """A null property is an absent one to a provider."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


@pytest.mark.parametrize("stack", STACKS)
def test_every_token_is_an_sdk_class_or_a_flux_kind(stack: str) -> None:
    without_class = {
        resource.type
        for resource in declared_by_token(stack)
        if sdk_resource_class(resource.type) is None
    }
    assert without_class == {
        "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository",
        "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization",
    }
    assert all(FLUX_GROUP_SUFFIX in token for token in without_class)


@pytest.mark.parametrize("stack", STACKS)
def test_each_names_its_provider(stack: str) -> None:
    # A typed class pins the SDK's plugin version for a default provider; a token has none to pin,
    # so every one of them goes through one of the program's explicit providers.
    without_provider = [r.type_and_name for r in declared_by_token(stack) if r.provider is None]
    assert without_provider == []


@pytest.mark.parametrize("stack", STACKS)
def test_inputs_fit_the_sdk_schema(stack: str) -> None:
    problems = [
        f"{resource.type_and_name}: {problem}"
        for resource in declared_by_token(stack)
        if (resource_class := sdk_resource_class(resource.type)) is not None
        for problem in schema_problems(
            resource.plain_inputs, sdk_args_class(resource_class), "inputs"
        )
    ]
    assert problems == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_typed_class_registers_the_same_type_and_inputs(stack: str) -> None:
    for resource in declared_by_token(stack):
        if sdk_resource_class(resource.type) is None:
            continue
        # Redacted on both sides: what either side marks secret must be secret on the other too.
        registered_type, registered = typed_registration(
            resource.type, resource.name, resource.plain_inputs
        )
        assert (registered_type, _without_nulls(registered)) == (
            resource.type,
            _without_nulls(resource.redacted_inputs),
        ), resource.type_and_name


@pytest.mark.parametrize("stack", STACKS)
def test_mock_outputs_are_properties_of_the_typed_class(stack: str) -> None:
    mocks = RecordingMocks("eu-west-1", stack)
    for resource in declared_by_token(stack):
        resource_class = sdk_resource_class(resource.type)
        if resource_class is None:
            continue
        _, outputs = mocks.new_resource(
            pulumi_mocks.MockResourceArgs(resource.type, resource.name, resource.plain_inputs)
        )
        properties = set(sdk_types.resource_pulumi_to_py_names(resource_class))
        assert set(outputs) - {"id"} <= properties, resource.type_and_name


def test_a_misspelt_input_is_caught() -> None:
    from pulumi_aws.ec2.launch_template import LaunchTemplateArgs

    problems = list(
        schema_problems(
            {"metadataOptions": {"httpToken": "required", "httpPutResponseHopLimit": "one"}},
            LaunchTemplateArgs,
            "inputs",
        )
    )
    assert problems == [
        "inputs.metadataOptions.httpToken: not a property of LaunchTemplateMetadataOptionsArgs",
        "inputs.metadataOptions.httpPutResponseHopLimit: expected a number, got 'one'",
    ]


def test_a_missing_required_input_is_caught() -> None:
    from pulumi_aws.ec2.route_table_association import RouteTableAssociationArgs

    assert list(schema_problems({"subnetId": "subnet-1"}, RouteTableAssociationArgs, "inputs")) == [
        "inputs.routeTableId: required by RouteTableAssociationArgs, missing"
    ]


@pytest.mark.parametrize(
    ("module", "resource", "sdk_module"),
    [
        ("ec2", "RouteTable", "pulumi_aws.ec2.route_table"),
        ("ec2", "Eip", "pulumi_aws.ec2.eip"),
        ("eks", "AccessPolicyAssociation", "pulumi_aws.eks.access_policy_association"),
        ("iam", "OpenIdConnectProvider", "pulumi_aws.iam.open_id_connect_provider"),
    ],
)
def test_aws_tokens_name_the_sdk_class(module: str, resource: str, sdk_module: str) -> None:
    resource_class = sdk_resource_class(aws_type_token(module, resource))
    assert resource_class is not None
    assert (resource_class.__module__, resource_class.__name__) == (sdk_module, resource)


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("v1", "Secret"),
        ("v1", "ConfigMap"),
        ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
        ("policy/v1", "PodDisruptionBudget"),
    ],
)
def test_kubernetes_tokens_are_those_the_typed_classes_register(
    api_version: str, kind: str
) -> None:
    token = kubernetes_type_token(api_version, kind)
    registered_type, registered_inputs = typed_registration(
        token, "object", {"apiVersion": api_version, "kind": kind, "metadata": {"name": "object"}}
    )
    assert registered_type == token
    assert (registered_inputs["apiVersion"], registered_inputs["kind"]) == (api_version, kind)


def test_only_inputs_and_declared_outputs_can_be_read() -> None:
    read: list[Any] = []

    def declare() -> pulumi.Output[Any]:
        vpc = SchemaResource(
            aws_type_token("ec2", "Vpc"), "vpc", {"cidrBlock": "10.0.0.0/16"}, outputs=["arn"]
        )
        with pytest.raises(AttributeError, match=r"aws:ec2/vpc:Vpc has no .* 'arnn'"):
            vpc.output("arnn")
        return pulumi.Output.all(vpc.output("cidrBlock"), vpc.output("arn")).apply(read.extend)

    run_under_twin_mocks(declare)
    # The twin mocks answer with no outputs: an input reads back as declared, an output as None.
    assert read == ["10.0.0.0/16", None]
