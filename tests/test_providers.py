"""Every resource goes through one of the program's explicit providers, and the mock engine's outputs
are ones the SDK's typed classes can read."""

from __future__ import annotations

import importlib
import re

import pulumi
import pytest
from pulumi import _types as sdk_types
from pulumi.runtime import mocks as pulumi_mocks

from offline.outputs import RecordingMocks
from tests.conftest import ENVIRONMENTS, repo_plan

CREDENTIALED_PACKAGES = ("aws", "kubernetes", "github")


def sdk_resource_class(type_token: str) -> type[pulumi.CustomResource] | None:
    """The typed class the AWS or Kubernetes SDK has for a token; None for a custom resource kind
    (the Flux CRDs' objects) that the SDK has no class for."""
    package, module, name = type_token.split(":")
    if package == "aws":
        service, resource = module.split("/")
        module_name = f"pulumi_aws.{service}.{re.sub(r'(?<!^)(?=[A-Z])', '_', resource).lower()}"
    else:
        group, version = module.rsplit("/", 1)
        module_name = f"pulumi_kubernetes.{group.split('.')[0]}.{version}.{name}"
    try:
        sdk_module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    resource_class: type[pulumi.CustomResource] | None = getattr(sdk_module, name, None)
    return resource_class


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_resource_names_an_explicit_provider(stack: str) -> None:
    # With none named, the engine would use a default provider built from the operator's ambient
    # AWS credentials, kubeconfig or GITHUB_TOKEN: the wrong account, cluster or owner, silently.
    # The TLS provider has no configuration at all, so its default provider reads nothing ambient.
    resources = [
        resource
        for resource in repo_plan(stack).run.resources
        if resource.custom and resource.type.split(":")[0] in CREDENTIALED_PACKAGES
    ]
    assert len(resources) > 20
    assert [resource.type_and_name for resource in resources if resource.provider is None] == []


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_mock_outputs_are_properties_of_the_typed_class(stack: str) -> None:
    # A typed class drops an output it does not declare, so a mock answering under another name
    # would leave the program reading None where a real run reads a value.
    mocks = RecordingMocks("eu-west-1", stack)
    checked = 0
    for resource in repo_plan(stack).run.resources:
        if not resource.custom or not resource.type.startswith(("aws:", "kubernetes:")):
            continue
        resource_class = sdk_resource_class(resource.type)
        if resource_class is None:
            continue
        _, outputs = mocks.new_resource(
            pulumi_mocks.MockResourceArgs(resource.type, resource.name, resource.plain_inputs)
        )
        properties = set(sdk_types.resource_pulumi_to_py_names(resource_class))
        assert set(outputs) - {"id"} <= properties, resource.type_and_name
        checked += 1
    assert checked > 20
