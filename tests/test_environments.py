"""The environments come from environments.yaml: adding `staging` between dev and qa is a stack file,
a cluster folder and one line there, as docs/environments.md describes, and the plan, the gitops
validator, the records and promotion follow without a code change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from eks_gitops.settings.environments import (
    ENVIRONMENTS_FILENAME,
    Environment,
    check_cluster_names,
    parse_environments,
    read_environments,
)
from eks_gitops.settings.model import ConfigError
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import stack_document
from tests.gitops_support import CLUSTERS, commit, copy_project, git, snapshot
from tools.plan import PlanError, plan_stack
from tools.promotion.command import main as promote
from tools.render import render_record
from tools.validate import validate


def test_the_project_promotes_dev_qa_prod_and_prod_is_production() -> None:
    environments = read_environments()
    assert environments.names == ("dev", "qa", "prod")
    assert [e.name for e in environments if e.production] == ["prod"]


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"environments": []}, "environments.yaml: environments"),
        ({"environments": [{"name": "Dev"}]}, "environments.yaml: environments[0].name"),
        ({"environments": [{"name": "dev"}, {"name": "dev"}]}, "environments[1].name"),
        ({"environments": [{"name": "dev", "prod": True}]}, "environments.yaml: environments[0]"),
        ({"environments": [{"name": "dev", "production": "yes"}]}, "environments[0].production"),
    ],
    ids=["empty", "not a name", "twice", "unknown field", "not a boolean"],
)
def test_a_wrong_environments_file_is_one_error_naming_the_entry(
    document: object, key: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_environments(document)
    assert key in error.value.key
    assert len(str(error.value).splitlines()) == 1


def test_a_stack_deploys_only_the_environment_it_is_named_after() -> None:
    with pytest.raises(ConfigError) as error:
        parse_stack_config(stack_document("dev")["config"], "sandbox")
    assert error.value.key == "eks-gitops:environment"
    assert "Pulumi.dev.yaml" in str(error.value)


def test_two_stacks_with_one_cluster_name_are_refused() -> None:
    with pytest.raises(ConfigError) as error:
        check_cluster_names({"dev": "gitops-dev", "qa": "gitops-shared", "prod": "gitops-shared"})
    assert error.value.key == "qa: eks-gitops:cluster.name"
    assert "stack prod" in str(error.value)


def test_the_plan_refuses_a_stack_whose_cluster_name_another_stack_uses(
    project_copy: Path,
) -> None:
    qa = stack_document("qa")
    qa["config"]["eks-gitops:cluster"]["name"] = "gitops-dev"
    (project_copy / "Pulumi.qa.yaml").write_text(yaml.safe_dump(qa, sort_keys=False))
    with pytest.raises(PlanError, match="gitops-dev"):
        plan_stack("dev", project_dir=project_copy)


@pytest.fixture
def with_staging(tmp_path: Path) -> Path:
    """A copy of the project with `staging` added between dev and qa as docs/environments.md says:
    a line in environments.yaml, a stack file (qa's, renamed), a cluster folder (qa's), records."""
    root = copy_project(tmp_path / "project")
    environments = yaml.safe_load((root / ENVIRONMENTS_FILENAME).read_text())
    environments["environments"].insert(1, {"name": "staging"})
    (root / ENVIRONMENTS_FILENAME).write_text(yaml.safe_dump(environments, sort_keys=False))
    stack = stack_document("qa")
    config = stack["config"]
    config["eks-gitops:environment"] = "staging"
    config["eks-gitops:cluster"]["name"] = "gitops-staging"
    config["eks-gitops:network"]["vpcCidr"] = "10.15.0.0/16"
    config["eks-gitops:sync"]["path"] = "gitops/aws/clusters/staging"
    (root / "Pulumi.staging.yaml").write_text(yaml.safe_dump(stack, sort_keys=False))
    shutil.copytree(root / CLUSTERS / "qa", root / CLUSTERS / "staging")
    for path, content in render_record(plan_stack("staging", project_dir=root)).items():
        (root / path).write_text(content)
    git(root, "init", "-q", "-b", "main")
    commit(root, "staging between dev and qa")
    return root


def test_a_staging_environment_plans(with_staging: Path) -> None:
    plan = plan_stack("staging", project_dir=with_staging)
    assert plan.settings.environment == "staging"
    assert not plan.settings.is_production
    assert plan.settings.tags["environment"] == "staging"
    kustomizations = [
        r for r in plan.run.resources if r.type.endswith(":Kustomization") and r.custom
    ]
    assert [k.plain_inputs["spec"]["path"] for k in kustomizations] == [
        "./gitops/aws/clusters/staging"
    ]


def test_a_staging_environment_validates(with_staging: Path) -> None:
    report = validate(with_staging)
    assert report.problems == ()
    assert [summary.split(":")[0] for summary in report.summaries] == [
        "dev",
        "staging",
        "qa",
        "prod",
    ]


def test_promotion_goes_dev_to_staging_and_no_longer_dev_to_qa(
    with_staging: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(with_staging)
    assert (
        promote(["--from", "dev", "--to", "qa", "--root", str(with_staging), "--unverified"]) == 2
    )
    assert "dev -> qa skips staging" in capsys.readouterr().err
    assert snapshot(with_staging) == before
    assert (
        promote(["--from", "dev", "--to", "staging", "--root", str(with_staging), "--unverified"])
        == 0
    )


def test_environment_order_is_the_file_order() -> None:
    parsed = parse_environments(
        {"environments": [{"name": "dev"}, {"name": "prod-eu", "production": True}]}
    )
    assert parsed.all == (Environment("dev", False), Environment("prod-eu", True))
