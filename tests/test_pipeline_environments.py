"""tools.environments: what the pipeline asks of environments.yaml (the next environment, the
promotion pairs a status names) and which stacks a change feeds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from eks_gitops.flux.commit_status import commit_status_context, pulumi_status_context
from eks_gitops.settings.environments import ENVIRONMENTS_FILENAME, read_environments
from tools import environments
from tools.environments import EnvironmentsError, next_environment, promotions, stacks_changed

ORDER = read_environments()


def test_the_project_order_is_dev_qa_prod() -> None:
    assert ORDER.names == ("dev", "qa", "prod")


def test_next_environment() -> None:
    assert next_environment(ORDER, "dev") == "qa"
    assert next_environment(ORDER, "prod") is None
    with pytest.raises(EnvironmentsError, match="no environment 'staging'"):
        next_environment(ORDER, "staging")


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["Pulumi.qa.yaml"], ["qa"]),
        (["gitops/aws/clusters/prod/versions.env", "Pulumi.dev.yaml"], ["dev", "prod"]),
        (["eks_gitops/aws/cluster.py"], ["dev", "qa", "prod"]),
        (["policy_pack/rules.py"], ["dev", "qa", "prod"]),
        (["requirements.txt"], ["dev", "qa", "prod"]),
        (["docs/pipeline.md", "tests/test_plan.py", "gitops/aws/clusters/devx/a.yaml"], []),
    ],
)
def test_stacks_changed(paths: list[str], expected: list[str]) -> None:
    assert stacks_changed(ORDER, paths) == expected


def test_promotions_from_a_status_context() -> None:
    assert promotions(ORDER) == [{"from": "dev", "to": "qa"}, {"from": "qa", "to": "prod"}]
    for context in (
        pulumi_status_context("dev"),
        commit_status_context("dev", "Kustomization", "a"),
    ):
        assert promotions(ORDER, context) == [{"from": "dev", "to": "qa"}]
    assert promotions(ORDER, pulumi_status_context("prod")) == []
    assert promotions(ORDER, "ci/dev/build") == []


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_changed_between_two_commits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ENVIRONMENTS_FILENAME).write_text(
        (environments.REPO_ROOT / ENVIRONMENTS_FILENAME).read_text()
    )
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    base = git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "Pulumi.qa.yaml").write_text("config: {}\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "qa")
    assert environments.main(["changed", "--base", base], root=tmp_path) == 0
    assert json.loads(capsys.readouterr().out) == ["qa"]
    # A push that created the branch has no commit before it: every stack.
    assert environments.main(["changed", "--base", "0" * 40], root=tmp_path) == 0
    assert json.loads(capsys.readouterr().out) == ["dev", "qa", "prod"]
    assert environments.main(["changed", "--base", "f" * 40], root=tmp_path) == 2
    assert capsys.readouterr().err.startswith("error: git diff")
