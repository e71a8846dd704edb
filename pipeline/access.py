"""The AWS side of the pipeline: GitHub Actions' OIDC issuer, one deploy role per environment and a
preview role, so that workflows get short-lived credentials and no AWS key is stored anywhere.

- The deploy role of environment E trusts only a job of this repository running in the GitHub
  environment E (`sub` = `repo:OWNER/REPO:environment:E`, `aud` = `sts.amazonaws.com`): that job
  waits for E's protection rules (required reviewers on prod) before GitHub issues it a token.
- Its permissions: AWS's AdministratorAccess, under a permissions boundary. `pulumi up` of this
  program creates VPCs, an EKS cluster, IAM roles with their policies and an OIDC provider, and a
  KMS key; a narrower managed-policy set would have to grant iam:CreateRole, iam:AttachRolePolicy
  and iam:PassRole anyway, which is as much as administrator. The boundary (BOUNDARY_DENIED) keeps
  the role from changing the pipeline's own roles, this OIDC provider and the boundary, from
  creating IAM users or access keys, and from leaving the account (Organizations, account
  settings). It does not bound the roles `up` creates: a workflow that runs in E can create a role
  with more rights and use it. The real isolation is the account: give prod an account of its own
  (one stack of this project per account) and protect the prod GitHub environment.
- The preview role trusts pull request jobs of this repository (`repo:OWNER/REPO:pull_request`) and
  may read everything (ReadOnlyAccess), decrypt with the secrets provider's key and take the
  self-managed backend's lock in the state bucket; it cannot change anything else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import pulumi
import pulumi_aws as aws
from pulumi_aws import iam

PROJECT: Final = "eks-gitops-pipeline"
GITHUB_ISSUER: Final = "token.actions.githubusercontent.com"
AUDIENCE: Final = "sts.amazonaws.com"
ROLE_PREFIX: Final = "eks-gitops-"
BOUNDARY_NAME: Final = f"{ROLE_PREFIX}pipeline-boundary"
PREVIEW_ROLE_NAME: Final = f"{ROLE_PREFIX}preview"
# The self-managed (DIY) backend keeps its stack locks under this prefix of the state bucket.
LOCKS_PREFIX: Final = ".pulumi/locks/"
BOUNDARY_DENIED: Final = (
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "organizations:*",
    "account:*",
)


def deploy_role_name(environment: str) -> str:
    return f"{ROLE_PREFIX}deploy-{environment}"


def deploy_subject(repository: str, environment: str) -> str:
    """The `sub` of a job of `repository` that runs in the GitHub environment `environment`."""
    return f"repo:{repository}:environment:{environment}"


def preview_subject(repository: str) -> str:
    """The `sub` of a job of `repository` that runs for a pull request."""
    return f"repo:{repository}:pull_request"


def trust_policy(provider_arn: str, subject: str) -> dict[str, Any]:
    """Who may assume a role: GitHub's OIDC tokens for exactly `subject`, meant for STS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_ISSUER}:aud": AUDIENCE,
                        f"{GITHUB_ISSUER}:sub": subject,
                    }
                },
            }
        ],
    }


def boundary_policy(partition: str, provider_arn: str) -> dict[str, Any]:
    """What a deploy role may never do, whatever policies it holds."""
    own = [
        f"arn:{partition}:iam::*:role/{ROLE_PREFIX}deploy-*",
        f"arn:{partition}:iam::*:role/{PREVIEW_ROLE_NAME}",
        f"arn:{partition}:iam::*:policy/{BOUNDARY_NAME}",
        provider_arn,
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "NotThePipelineItself", "Effect": "Deny", "Action": "iam:*", "Resource": own},
            {
                "Sid": "NoLongLivedKeysNoAccountChanges",
                "Effect": "Deny",
                "Action": list(BOUNDARY_DENIED),
                "Resource": "*",
            },
        ],
    }


def preview_policy(partition: str, state_bucket: str, secrets_key_arn: str) -> dict[str, Any]:
    """Beyond ReadOnlyAccess: decrypting the stacks' secrets and the backend's lock."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": secrets_key_arn},
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:{partition}:s3:::{state_bucket}/{LOCKS_PREFIX}*",
            },
        ],
    }


def _trust(provider_arn: pulumi.Output[str], subject: str) -> pulumi.Output[str]:
    return provider_arn.apply(lambda arn: json.dumps(trust_policy(arn, subject)))


def managed_policy_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


@dataclass(frozen=True)
class PipelineSettings:
    region: str
    repository: str
    """OWNER/REPO"""
    environments: tuple[str, ...]
    state_bucket: str
    secrets_key_arn: str


@dataclass(frozen=True)
class PipelineAccessArgs:
    repository: str
    environments: Sequence[str]
    state_bucket: str
    secrets_key_arn: str


class PipelineAccess(pulumi.ComponentResource):
    """Declared with the AWS provider of the account the environments' stacks run in."""

    TYPE_TOKEN: ClassVar[str] = "eks-gitops:pipeline:PipelineAccess"

    deploy_role_arns: dict[str, pulumi.Output[str]]
    preview_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PipelineAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self)).partition
        # IAM checks GitHub's issuer against its own trusted CAs, so no thumbprint is pinned
        # (pulumi-aws iam.OpenIdConnectProvider, `thumbprint_lists`: "For certain OIDC identity
        # providers (e.g., Auth0, GitHub, ...) AWS relies on its own library of trusted root CAs").
        provider = iam.OpenIdConnectProvider(
            f"{name}-github",
            url=f"https://{GITHUB_ISSUER}",
            client_id_lists=[AUDIENCE],
            opts=child,
        )
        boundary = iam.Policy(
            f"{name}-boundary",
            name=BOUNDARY_NAME,
            description="What eks-gitops deploy roles may never do (pipeline/access.py)",
            policy=pulumi.Output.all(partition, provider.arn).apply(
                lambda values: json.dumps(boundary_policy(values[0], values[1]))
            ),
            opts=child,
        )
        self.deploy_role_arns = {}
        for environment in args.environments:
            role = iam.Role(
                f"{name}-deploy-{environment}",
                name=deploy_role_name(environment),
                description=f"pulumi up of stack {environment} from {args.repository}",
                assume_role_policy=_trust(
                    provider.arn, deploy_subject(args.repository, environment)
                ),
                permissions_boundary=boundary.arn,
                max_session_duration=3600 * 2,
                opts=child,
            )
            iam.RolePolicyAttachment(
                f"{name}-deploy-{environment}-admin",
                role=role.name,
                policy_arn=partition.apply(lambda p: managed_policy_arn(p, "AdministratorAccess")),
                opts=child,
            )
            self.deploy_role_arns[environment] = role.arn
        preview = iam.Role(
            f"{name}-preview",
            name=PREVIEW_ROLE_NAME,
            description=f"pulumi preview of pull requests to {args.repository}",
            assume_role_policy=_trust(provider.arn, preview_subject(args.repository)),
            opts=child,
        )
        iam.RolePolicyAttachment(
            f"{name}-preview-read-only",
            role=preview.name,
            policy_arn=partition.apply(lambda p: managed_policy_arn(p, "ReadOnlyAccess")),
            opts=child,
        )
        iam.RolePolicy(
            f"{name}-preview-state",
            role=preview.name,
            policy=partition.apply(
                lambda p: json.dumps(preview_policy(p, args.state_bucket, args.secrets_key_arn))
            ),
            opts=child,
        )
        self.preview_role_arn = preview.arn
        self.register_outputs(
            {"deployRoleArns": self.deploy_role_arns, "previewRoleArn": preview.arn}
        )


def load_settings() -> PipelineSettings:
    config = pulumi.Config(PROJECT)
    environments = config.require_object("environments")
    if not isinstance(environments, list) or not all(isinstance(e, str) for e in environments):
        raise pulumi.RunError(f"{PROJECT}:environments: expected a list of environment names")
    repository = config.require("repository")
    if repository.count("/") != 1:
        raise pulumi.RunError(f"{PROJECT}:repository: expected OWNER/REPO, got {repository!r}")
    return PipelineSettings(
        region=pulumi.Config("aws").require("region"),
        repository=repository,
        environments=tuple(environments),
        state_bucket=config.require("stateBucket"),
        secrets_key_arn=config.require("secretsKeyArn"),
    )


def declare(settings: PipelineSettings) -> PipelineAccess:
    provider = aws.Provider("aws", region=settings.region)
    access = PipelineAccess(
        "pipeline",
        PipelineAccessArgs(
            repository=settings.repository,
            environments=settings.environments,
            state_bucket=settings.state_bucket,
            secrets_key_arn=settings.secrets_key_arn,
        ),
        opts=pulumi.ResourceOptions(providers=[provider]),
    )
    # What the repository's variables hold (docs/pipeline.md): each environment's AWS_ROLE_ARN,
    # and AWS_PREVIEW_ROLE_ARNS as JSON by stack.
    pulumi.export("deployRoleArns", access.deploy_role_arns)
    pulumi.export(
        "previewRoleArns",
        {environment: access.preview_role_arn for environment in settings.environments},
    )
    return access


def main() -> None:
    declare(load_settings())
