"""Every resource goes through one of the program's explicit providers, no provider keeps a credential
from the environment in its inputs, and the mock engine's outputs are ones the SDK's typed classes
can read."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_tls as tls
import pytest
import yaml
from pulumi import _types as sdk_types
from pulumi.runtime import mocks as pulumi_mocks

from eks_gitops import program
from tests.conftest import ENVIRONMENTS, FLUX_V294, repo_plan
from tools.offline.engine import DISABLE_DEFAULT_PROVIDERS_KEY, DefaultProviderDenied, run_program
from tools.offline.outputs import RecordingMocks
from tools.paths import REPO_ROOT
from tools.plan import PlanError, plan_stack, project_config, write_plan


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


def test_the_project_disables_every_default_provider() -> None:
    # Pulumi.yaml's namespaced config values reach every stack (pulumi/pulumi
    # sdk/go/common/workspace, TestNamespacedConfigValuesAreInheritedCorrectly), and `*` disables the
    # default provider of every package (Pulumi docs, Configuration: "pulumi:disable-default-providers").
    disabled = project_config(REPO_ROOT)[DISABLE_DEFAULT_PROVIDERS_KEY]
    assert disabled == ["*"]
    # A stack file would override the project's value.
    for stack in ENVIRONMENTS:
        document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
        assert DISABLE_DEFAULT_PROVIDERS_KEY not in document["config"]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_resource_names_an_explicit_provider(stack: str) -> None:
    # With none named, the engine would use a default provider built from the operator's ambient
    # AWS credentials, kubeconfig or GITHUB_TOKEN: the wrong account, cluster or owner, silently.
    # The offline engine refuses that as the real one does; this names the offenders if it did not.
    resources = [
        resource
        for resource in repo_plan(stack).run.resources
        if resource.custom and not resource.type.startswith("pulumi:providers:")
    ]
    # random only for the webhook's token, which prod leaves off.
    webhook = {"random"} if repo_plan(stack).settings.webhook.enabled else set()
    assert {resource.type.split(":")[0] for resource in resources} == {
        "aws",
        "kubernetes",
        "github",
        "tls",
        *webhook,
    }
    assert [resource.type_and_name for resource in resources if resource.provider is None] == []


def test_the_offline_engine_refuses_a_default_provider() -> None:
    def program() -> None:
        tls.PrivateKey("key", algorithm="ED25519")

    def run(disabled: list[str]) -> None:
        run_program(
            program,
            project="p",
            stack="s",
            config={DISABLE_DEFAULT_PROVIDERS_KEY: json.dumps(disabled)},
        )

    run(["aws"])
    for disabled in (["tls"], ["*"]):
        with pytest.raises(DefaultProviderDenied, match="'tls'"):
            run(disabled)


def test_a_resource_without_a_provider_stops_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    # The deploy key's TLS key takes its provider from the component's `providers`; a component
    # declared without it leaves the key on the (disabled) default provider.
    declared = program.DeployKey.__init__

    def without_tls(self: Any, name: str, args: Any, opts: pulumi.ResourceOptions) -> None:
        # ResourceOptions.merge hands providers on as a mapping by package.
        given = list(dict(opts.providers or {}).values())
        kept = [p for p in given if not isinstance(p, tls.Provider)]
        assert len(kept) == len(given) - 1, "the deploy key gets no TLS provider"
        declared(
            self, name, args, pulumi.ResourceOptions(providers=kept, depends_on=opts.depends_on)
        )

    monkeypatch.setattr(program.DeployKey, "__init__", without_tls)
    with pytest.raises(PlanError, match="default provider for 'tls' disabled"):
        plan_stack("dev", flux_manifests=FLUX_V294)


def test_the_github_token_never_becomes_a_provider_input(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # pulumi_github/provider.py `Provider._internal_init` sends GITHUB_TOKEN as the `token` input when
    # none is given, and the engine keeps provider inputs in the state for refresh and destroy. The
    # plugin needs no input: terraform-provider-github github/provider.go `Provider()` gives `token`
    # DefaultFunc EnvDefaultFunc("GITHUB_TOKEN"), read when the provider is configured, and the
    # bridge's CheckConfig (pulumi-terraform-bridge pkg/tfbridge/provider.go) returns the inputs
    # without applying that default, so nothing puts the token back into the state.
    token = "ghp_planTestTokenThatMustNotBeStored0123"
    monkeypatch.setenv("GITHUB_TOKEN", token)
    plan = plan_stack("dev", flux_manifests=FLUX_V294)
    (provider,) = plan.run.of_type("pulumi:providers:github")
    assert "token" not in provider.plain_inputs
    assert provider.plain_inputs["owner"] == "acme-platform"
    everything = json.dumps(
        [
            [resource.plain_inputs for resource in plan.run.resources],
            plan.run.stack_outputs,
            plan.run.logs,
        ],
        default=str,
    )
    assert token not in everything
    written = write_plan(plan, tmp_path)
    for path in written.iterdir():
        assert token not in path.read_text(), path.name


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


def test_a_failed_run_leaves_nothing_behind_for_the_next_one() -> None:
    # A program that fails leaves registrations pending; the next run (a plan after a refused one,
    # in one process) must record its own resources only, not finish the failed run's.
    disabled = {DISABLE_DEFAULT_PROVIDERS_KEY: json.dumps(["*"])}

    def failing() -> None:
        provider = tls.Provider("tls")
        for index in range(5):
            tls.PrivateKey(
                f"kept-{index}", algorithm="ED25519", opts=pulumi.ResourceOptions(provider=provider)
            )
        tls.PrivateKey("denied", algorithm="ED25519")

    def fine() -> None:
        tls.PrivateKey(
            "only", algorithm="ED25519", opts=pulumi.ResourceOptions(provider=tls.Provider("tls"))
        )

    with pytest.raises(DefaultProviderDenied):
        run_program(failing, project="p", stack="s", config=disabled)
    run = run_program(fine, project="p", stack="s", config=disabled)
    assert sorted(resource.name for resource in run.resources) == ["only", "tls"]
