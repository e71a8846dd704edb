"""pipeline/: the AWS prerequisites of the GitHub Actions pipeline, planned offline.

GitHub's OIDC token for a job names its repository and, for a job that references an environment,
that environment: `sub` = `repo:OWNER/REPO:environment:NAME`; for a pull request job
`repo:OWNER/REPO:pull_request`; `aud` defaults to `sts.amazonaws.com` for
aws-actions/configure-aws-credentials (docs.github.com, "About security hardening with OpenID
Connect", Example subject claims; "Configuring OpenID Connect in Amazon Web Services").
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.access import (
    BOUNDARY_DENIED,
    PROJECT,
    deploy_role_name,
    deploy_subject,
    preview_subject,
)
from tests.conftest import ENVIRONMENTS
from tools.offline.engine import ProgramRun, RecordedResource
from tools.pipeline_plan import PIPELINE_DIR, plan_pipeline, write
from tools.plan import PlanError

REPOSITORY = "acme-platform/eks-gitops"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


@functools.cache
def example() -> ProgramRun:
    return plan_pipeline("example")


def roles() -> dict[str, RecordedResource]:
    return {r.plain_inputs["name"]: r for r in example().of_type(ROLE)}


def statement(role: RecordedResource) -> dict[str, Any]:
    [only] = json.loads(role.plain_inputs["assumeRolePolicy"])["Statement"]
    assert isinstance(only, dict)
    return only


def attached(role_name: str) -> list[str]:
    return sorted(
        a.plain_inputs["policyArn"]
        for a in example().of_type(ATTACHMENT)
        if a.plain_inputs["role"] == role_name
    )


def test_the_example_stack_covers_every_environment() -> None:
    document = yaml.safe_load((PIPELINE_DIR / "Pulumi.example.yaml").read_text())
    assert document["config"][f"{PROJECT}:environments"] == list(ENVIRONMENTS)
    assert document["config"][f"{PROJECT}:repository"] == REPOSITORY


def test_github_is_trusted_as_an_oidc_issuer_for_sts() -> None:
    [provider] = example().of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.plain_inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.plain_inputs["clientIdLists"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_deploy_role_trusts_only_its_environment_of_this_repository(environment: str) -> None:
    role = roles()[deploy_role_name(environment)]
    trust = statement(role)
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"]["Federated"].endswith(
        ":oidc-provider/token.actions.githubusercontent.com"
    )
    # StringEquals, not StringLike: no wildcard can widen the subject.
    assert trust["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:{environment}",
        }
    }
    others = {deploy_subject(REPOSITORY, e) for e in ENVIRONMENTS if e != environment}
    assert (
        trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] not in others
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_deploy_role_is_administrator_under_the_boundary(environment: str) -> None:
    role = roles()[deploy_role_name(environment)]
    [boundary] = example().of_type("aws:iam/policy:Policy")
    # The mock engine gives the boundary its ARN; the role names exactly that policy.
    assert role.plain_inputs["permissionsBoundary"].endswith(":policy/eks-gitops-pipeline-boundary")
    assert boundary.plain_inputs["name"] == "eks-gitops-pipeline-boundary"
    assert attached(deploy_role_name(environment)) == [
        "arn:aws:iam::aws:policy/AdministratorAccess"
    ]


def test_the_boundary_keeps_deploy_roles_off_the_pipeline_and_long_lived_keys() -> None:
    [boundary] = example().of_type("aws:iam/policy:Policy")
    statements = {s["Sid"]: s for s in json.loads(boundary.plain_inputs["policy"])["Statement"]}
    own = statements["NotThePipelineItself"]
    assert (own["Effect"], own["Action"]) == ("Deny", "iam:*")
    assert "arn:aws:iam::*:role/eks-gitops-deploy-*" in own["Resource"]
    assert "arn:aws:iam::*:role/eks-gitops-preview" in own["Resource"]
    assert "arn:aws:iam::*:policy/eks-gitops-pipeline-boundary" in own["Resource"]
    assert any(
        r.endswith(":oidc-provider/token.actions.githubusercontent.com") for r in own["Resource"]
    )
    keys = statements["NoLongLivedKeysNoAccountChanges"]
    assert keys["Effect"] == "Deny" and "iam:CreateAccessKey" in keys["Action"]
    assert tuple(keys["Action"]) == BOUNDARY_DENIED


def test_the_preview_role_reads_decrypts_and_locks_only() -> None:
    role = roles()["eks-gitops-preview"]
    assert statement(role)["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"
    ] == preview_subject(REPOSITORY)
    assert "permissionsBoundary" not in role.plain_inputs
    assert attached("eks-gitops-preview") == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    [inline] = example().of_type("aws:iam/rolePolicy:RolePolicy")
    document = yaml.safe_load((PIPELINE_DIR / "Pulumi.example.yaml").read_text())["config"]
    assert json.loads(inline.plain_inputs["policy"])["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": document[f"{PROJECT}:secretsKeyArn"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{document[f'{PROJECT}:stateBucket']}/.pulumi/locks/*",
        },
    ]


def test_outputs_name_the_roles_the_repository_variables_hold(tmp_path: Path) -> None:
    target = write(example(), tmp_path)
    outputs = json.loads((target / "outputs.json").read_text())
    assert outputs["deployRoleArns"] == {
        e: f"arn:aws:iam::123456789012:role/eks-gitops-deploy-{e}" for e in ENVIRONMENTS
    }
    assert set(outputs["previewRoleArns"]) == set(ENVIRONMENTS)


def test_a_repository_without_owner_is_one_error(tmp_path: Path) -> None:
    for name in ("Pulumi.yaml", "Pulumi.example.yaml"):
        (tmp_path / name).write_text((PIPELINE_DIR / name).read_text())
    stack = tmp_path / "Pulumi.example.yaml"
    stack.write_text(stack.read_text().replace(REPOSITORY, "eks-gitops"))
    with pytest.raises(PlanError, match=f"{PROJECT}:repository: expected OWNER/REPO"):
        plan_pipeline("example", tmp_path)
