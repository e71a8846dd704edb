"""A repository the program creates can be synced: it gets the synced branch and the cluster's path.

GitHub's initial commit of a repository created with `auto_init` holds a README only, on the first
branch (pulumi/pulumi-github sdk/python/pulumi_github/repository.py, `auto_init`: "Set to `true` to
produce an initial commit in the repository."). Without the path, kustomize-controller stops the
bootstrap Kustomization at "kustomization path not found" (fluxcd/kustomize-controller
internal/controller/kustomization_controller.go: `os.Stat` of the path, Ready=False with reason
ArtifactFailed), and without the branch source-controller has nothing to check out, so `pulumi up`
would wait its whole readyTimeout and fail.

pulumi-github (sdk/python/pulumi_github/branch.py and repository_file.py, from
integrations/terraform-provider-github github/resource_github_branch.go and
resource_github_repository_file.go): a Branch is created from `source_branch` (default `main`) and
deleting it deletes the branch; a RepositoryFile's `branch` "must already exist", `overwrite_on_create`
false makes the create fail ("refusing to overwrite existing file") instead of overwriting a file
that is there, a refresh reads the file's current content, and deleting it commits the file's removal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gitops.github.repository import INITIAL_BRANCH, SEED_KUSTOMIZATION, seed_file
from tests.conftest import ENVIRONMENTS, repo_plan, stack_document
from tests.graph_support import graph_of
from tools.gitops.kustomize import Builder
from tools.offline.engine import RecordedResource
from tools.plan import Plan

REPOSITORY = "github:index/repository:Repository"
BRANCH = "github:index/branch:Branch"
REPOSITORY_FILE = "github:index/repositoryFile:RepositoryFile"
GIT_REPOSITORY = "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository"
KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"


def create_repository(document: dict[str, Any]) -> None:
    document["config"]["eks-gitops:github"]["createRepository"] = True


def sync_settings(stack: str) -> dict[str, str]:
    sync: dict[str, str] = stack_document(stack)["config"]["eks-gitops:sync"]
    return sync


@pytest.fixture
def created(plan_edited: Callable[..., Plan]) -> Callable[[str], Plan]:
    def run(stack: str) -> Plan:
        return plan_edited(stack, create_repository)

    return run


def one(plan: Plan, type_token: str) -> RecordedResource:
    (resource,) = plan.run.of_type(type_token)
    return resource


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_a_created_repository_gets_the_cluster_path_on_the_synced_branch(
    stack: str, created: Callable[[str], Plan]
) -> None:
    plan = created(stack)
    sync = sync_settings(stack)
    repository = one(plan, REPOSITORY)
    seed = one(plan, REPOSITORY_FILE)
    assert seed.plain_inputs["repository"] == repository.plain_inputs["name"]
    assert seed.plain_inputs["file"] == f"{sync['path']}/kustomization.yaml"
    assert seed.plain_inputs["branch"] == sync["branch"]
    assert seed.plain_inputs["content"] == SEED_KUSTOMIZATION
    # Never clobber: the create fails on a file that exists, and later edits stay the team's.
    assert seed.plain_inputs["overwriteOnCreate"] is False
    assert {"content", "file", "branch"} <= set(seed.ignore_changes)

    branches = plan.run.of_type(BRANCH)
    if sync["branch"] == INITIAL_BRANCH:
        # dev and qa sync main, the branch of GitHub's initial commit: nothing to create.
        assert branches == []
    else:
        # prod syncs `production`, which a new repository does not have.
        (branch,) = branches
        assert branch.plain_inputs == {
            "repository": repository.plain_inputs["name"],
            "branch": sync["branch"],
            "sourceBranch": INITIAL_BRANCH,
        }
        assert branch.urn in seed.dependencies
        assert repository.urn in branch.dependencies

    # Destroy keeps what teams build on, like the repository itself.
    for kept in (repository, seed, *branches):
        assert kept.retain_on_delete, kept.name


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_sync_objects_wait_for_the_branch_and_the_path(
    stack: str, created: Callable[[str], Plan]
) -> None:
    plan = created(stack)
    graph = graph_of(plan)
    seeded = [one(plan, REPOSITORY_FILE), *plan.run.of_type(BRANCH)]
    for sync_object in (*graph.of_type(GIT_REPOSITORY), *graph.of_type(KUSTOMIZATION)):
        for resource in seeded:
            assert graph.reaches(sync_object.urn, resource.urn), (sync_object.name, resource.name)


def test_a_sync_that_does_not_wait_for_the_seed_is_caught(created: Callable[[str], Plan]) -> None:
    plan = created("prod")
    graph = graph_of(plan)
    seed = one(plan, REPOSITORY_FILE)
    (sync_component,) = graph.of_type("eks-gitops:sync:Sync")
    broken = graph.without_edge(sync_component.urn, seed.urn)
    (source,) = broken.of_type(GIT_REPOSITORY)
    assert not broken.reaches(source.urn, seed.urn)


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_a_repository_the_program_does_not_create_is_left_alone(stack: str) -> None:
    plan = repo_plan(stack)
    for type_token in (REPOSITORY, BRANCH, REPOSITORY_FILE):
        assert plan.run.of_type(type_token) == [], type_token


def test_the_seed_is_seeded_once(plan_edited: Callable[..., Plan]) -> None:
    # A later change of the synced path keeps the seed resource (its file input is ignored), so
    # nothing is committed over what the team pushed for the new path.
    before = plan_edited("prod", create_repository)

    def moved(document: dict[str, Any]) -> None:
        create_repository(document)
        document["config"]["eks-gitops:sync"]["path"] = "gitops/aws/clusters/prod-next"

    after = plan_edited("prod", moved)
    old, new = one(before, REPOSITORY_FILE), one(after, REPOSITORY_FILE)
    assert old.urn == new.urn
    changed = {k for k in old.plain_inputs if old.plain_inputs[k] != new.plain_inputs.get(k)}
    assert changed <= set(new.ignore_changes)
    assert changed == {"file"}


def test_the_seed_is_a_kustomization_that_builds_to_nothing(tmp_path: Path) -> None:
    path = tmp_path / Path(seed_file("gitops/aws/clusters/dev")).parent
    path.mkdir(parents=True)
    (path / "kustomization.yaml").write_text(SEED_KUSTOMIZATION)
    build = Builder().build(path)
    assert build.error is None
    assert build.documents == ()
    document = yaml.safe_load(SEED_KUSTOMIZATION)
    assert document["kind"] == "Kustomization"
