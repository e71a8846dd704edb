"""The GitHub Actions workflows: pinned actions, least permissions, event data kept out of scripts,
`pulumi up` per stack in environments.yaml's order, and the commit status promotion waits for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gitops.flux.commit_status import pulumi_status_context
from tests.conftest import ENVIRONMENTS
from tools.paths import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
STACKS = list(ENVIRONMENTS)


def workflow(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return document


def triggers(document: dict[str, Any]) -> Any:
    # YAML 1.1 reads the key `on` as the boolean true.
    return document.get("on", document.get(True))


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def uses_lines(path: Path) -> list[str]:
    return [
        line.split("uses:", 1)[1].strip()
        for line in path.read_text().splitlines()
        if line.strip().startswith(("uses:", "- uses:"))
    ]


def test_there_are_workflows() -> None:
    assert {path.name for path in WORKFLOW_FILES} >= {
        "pull-request.yml",
        "deploy.yml",
        "pulumi-up.yml",
        "promote.yml",
    }


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_actions_are_pinned_by_commit_with_their_version(path: Path) -> None:
    for uses in uses_lines(path):
        if uses.startswith("./"):
            continue
        assert PINNED.match(uses), uses


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_no_permission_but_what_each_job_is_granted(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    assert document["permissions"] == {}
    for name, job in document["jobs"].items():
        assert "permissions" in job, name
        assert job["permissions"] not in ("write-all", "read-all"), name


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_scripts_take_event_data_through_the_environment(path: Path) -> None:
    # An expression expanded into a script is code whoever controls its value wrote (template
    # injection); through `env:` it is a shell variable's value.
    for step in steps(yaml.safe_load(path.read_text())):
        assert "${{" not in step.get("run", ""), step


def test_no_workflow_holds_long_lived_aws_keys() -> None:
    for path in WORKFLOW_FILES:
        text = path.read_text()
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, path.name


def test_up_runs_for_each_changed_stack_in_environment_order() -> None:
    jobs = workflow("deploy.yml")["jobs"]
    # The changed stacks come from tools.environments, in environments.yaml's order (tested in
    # tests/test_pipeline_environments.py), so a new environment needs no job of its own.
    [changed] = [
        step["run"]
        for step in jobs["stacks"]["steps"]
        if "tools.environments" in step.get("run", "")
    ]
    assert "-m tools.environments changed" in changed
    up = jobs["up"]
    assert up["needs"] == "stacks"
    assert up["uses"] == "./.github/workflows/pulumi-up.yml"
    assert up["with"] == {"stack": "${{ matrix.stack }}"}
    # GitHub Actions runs a matrix's jobs in the order its values are listed; with max-parallel 1
    # they run one after the other, and fail-fast cancels the rest when one fails (docs.github.com,
    # "Running variations of jobs in a workflow": max-parallel, fail-fast).
    assert up["strategy"] == {
        "max-parallel": 1,
        "fail-fast": True,
        "matrix": {"stack": "${{ fromJSON(needs.stacks.outputs.stacks) }}"},
    }
    # An empty matrix is an error in GitHub Actions: no changed stack, no job.
    assert up["if"] == "needs.stacks.outputs.stacks != '[]'"
    assert up["permissions"] == {"contents": "read", "id-token": "write", "statuses": "write"}


def test_up_is_one_per_stack_in_its_environment_with_oidc_credentials() -> None:
    document = workflow("pulumi-up.yml")
    assert set(triggers(document)) == {"workflow_call"}
    [job] = document["jobs"].values()
    assert job["environment"] == "${{ inputs.stack }}"
    assert job["concurrency"] == {
        "group": "pulumi-${{ inputs.stack }}",
        "cancel-in-progress": False,
    }
    [aws] = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    [pulumi] = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "up"
    assert pulumi["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert pulumi["with"]["policyPacks"] == "policy_pack"


@pytest.mark.parametrize("stack", STACKS)
def test_up_posts_the_status_promotion_waits_for(stack: str) -> None:
    [job] = workflow("pulumi-up.yml")["jobs"].values()
    names = [s.get("uses", s.get("name")) for s in job["steps"]]
    [status] = [s for s in job["steps"] if "statuses/" in s.get("run", "")]
    # after the `up`, on the commit it applied
    assert names.index(status["name"]) > max(
        i for i, name in enumerate(names) if str(name).startswith("pulumi/actions@")
    )
    assert status["env"]["APPLIED"] == "${{ github.sha }}"
    assert "-f state=success" in status["run"]
    assert '-f context="$STATUS_CONTEXT"' in status["run"]
    context = status["env"]["STATUS_CONTEXT"].replace("${{ inputs.stack }}", stack)
    assert context == pulumi_status_context(stack)


def test_pull_requests_are_tested_and_previewed_with_the_policy_pack() -> None:
    document = workflow("pull-request.yml")
    assert set(triggers(document)) == {"pull_request"}
    jobs = document["jobs"]
    assert any(step.get("run") == ".ci/run" for step in jobs["test"]["steps"])
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
    preview = jobs["preview"]
    [pulumi] = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy_pack"
    [compare] = [s for s in preview["steps"] if "tools.plandiff" in s.get("run", "")]
    assert "$GITHUB_STEP_SUMMARY" in compare["run"]
    assert preview["permissions"]["pull-requests"] == "write"


def test_promotion_follows_statuses_and_opens_a_pull_request() -> None:
    document = workflow("promote.yml")
    assert {"status", "workflow_run"} <= set(triggers(document))
    promote = document["jobs"]["promote"]
    assert promote["strategy"]["matrix"]["pair"] == "${{ fromJSON(needs.pairs.outputs.pairs) }}"
    [run] = [s for s in promote["steps"] if "make --no-print-directory promote" in s.get("run", "")]
    assert "tools.plandiff" in run["run"]
    [pull_request] = [s for s in promote["steps"] if "create-pull-request" in s.get("uses", "")]
    assert pull_request["with"]["body-path"] == "build/promotion.md"


def code_owners(path: str) -> str:
    """The owners GitHub asks for a file: the last CODEOWNERS pattern that matches it."""
    owners = ""
    for line in (REPO_ROOT / ".github" / "CODEOWNERS").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        pattern, *names = line.split()
        regex = re.escape(pattern.lstrip("/")).replace(r"\*", "[^/]*")
        if re.match(regex + ("" if pattern.endswith("/") else "$"), path):
            owners = " ".join(names)
    return owners


def test_prod_and_waivers_need_their_code_owners() -> None:
    # Where waivers are written (eks-gitops:policy.relax) and what promotion to prod changes.
    assert "prod-approvers" in code_owners("Pulumi.prod.yaml")
    assert "prod-approvers" in code_owners("gitops/aws/clusters/prod/versions.env")
    for stack in STACKS:
        assert "platform-leads" in code_owners(f"Pulumi.{stack}.yaml")
    assert "prod-approvers" not in code_owners("Pulumi.dev.yaml")
    for path in ("policy_pack/rules.py", "eks_gitops/policy/__init__.py", "environments.yaml"):
        assert code_owners(path), path
