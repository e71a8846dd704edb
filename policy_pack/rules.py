"""The program's guardrails (eks_gitops.policy) as Pulumi policies: the same rule code, run by the
engine over every resource a preview or update registers, whatever the program's code does.

The policies need the stack's settings (what it waives, whether it is production, its tags). The
pack reads them from the stack file the resources' URNs name (`urn:pulumi:<stack>::...`), in the
project directory, parsed by the program's own `parse_stack_config`: the stack file under review
is what the pack judges, and no policy config has to repeat it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from eks_gitops.policy import (
    AWS_PROVIDER_TYPE,
    DeclaredResource,
    check_config,
    check_resources,
    check_waivers,
    default_tags,
)
from eks_gitops.settings.model import ConfigError, StackConfig
from eks_gitops.settings.parse import parse_stack_config
from tools.paths import REPO_ROOT
from tools.plan import PlanError, project_config, stack_config

PACK_NAME: Final = "eks-gitops-guardrails"
SETTINGS_POLICY: Final = "eks-gitops-settings"
RESOURCES_POLICY: Final = "eks-gitops-resources"


def stack_of(urn: str) -> str:
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


@functools.cache
def stack_settings(project_dir: Path, stack: str) -> StackConfig:
    """The settings `pulumi up` parses for the stack, from its file and Pulumi.yaml's defaults."""
    values = {
        **project_config(project_dir),
        **(stack_config(project_dir, stack).get("config") or {}),
    }
    return parse_stack_config(values, stack)


def declared(args: ResourceValidationArgs) -> DeclaredResource:
    """A resource as the rules see it; the AWS provider's default tags from its own inputs."""
    provider = args.provider
    tags = (
        default_tags(provider.props)
        if provider is not None and provider.resource_type == AWS_PROVIDER_TYPE
        else None
    )
    return DeclaredResource(
        args.resource_type, args.name, bool(args.opts.protect), dict(args.props), tags
    )


def policies(project_dir: Path = REPO_ROOT) -> list[Policy]:
    def settings_rules(args: StackValidationArgs, report: ReportViolation) -> None:
        stacks = {stack_of(resource.urn) for resource in args.resources}
        for stack in sorted(stacks):
            try:
                settings = stack_settings(project_dir, stack)
                check_waivers(settings)
            except (ConfigError, PlanError) as error:
                report(str(error), None)
                continue
            for violation in check_config(settings):
                report(str(violation), None)

    def resource_rules(args: ResourceValidationArgs, report: ReportViolation) -> None:
        try:
            settings = stack_settings(project_dir, stack_of(args.urn))
        except (ConfigError, PlanError):
            return  # a stack file the program cannot parse: the settings policy reports it
        for violation in check_resources(settings, [declared(args)]):
            report(str(violation), args.urn)

    return [
        StackValidationPolicy(
            name=SETTINGS_POLICY,
            description="The stack's settings keep every guardrail it does not waive "
            "(eks_gitops.policy.check_config), and it waives only what it may.",
            validate=settings_rules,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
        ResourceValidationPolicy(
            name=RESOURCES_POLICY,
            description="Every declared resource keeps the guardrails the stack does not waive "
            "(eks_gitops.policy.check_resources).",
            validate=resource_rules,
            enforcement_level=EnforcementLevel.MANDATORY,
        ),
    ]
