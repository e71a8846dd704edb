"""The generated gitops-system/ record in each cluster path agrees with what the program plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ENVIRONMENTS, REPO_ROOT, repo_plan
from tools.gitops.model import LOCK_FILENAME as LOCK_FILE
from tools.gitops.model import SYNC_FILENAME as SYNC_FILE
from tools.render import render_record


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_committed_record_matches_the_plan(stack: str) -> None:
    for relative, content in render_record(repo_plan(stack, flux_manifests=None)).items():
        on_disk = (REPO_ROOT / relative).read_text()
        assert on_disk == content, f"{relative} is stale: run `make render`"


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_record_is_never_synced_by_flux(stack: str) -> None:
    cluster = REPO_ROOT / "gitops" / "aws" / "clusters" / stack
    resources = yaml.safe_load((cluster / "kustomization.yaml").read_text())["resources"]
    assert all(not entry.startswith("gitops-system") for entry in resources)


def test_record_follows_a_changed_stack(plan_edited: Any) -> None:
    def move_branch(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:sync"]["branch"] = "release-candidate"

    plan = plan_edited("qa", move_branch, flux_manifests=None)
    files = render_record(plan)
    sync = files[Path("gitops/aws/clusters/qa/gitops-system") / SYNC_FILE]
    committed = (REPO_ROOT / "gitops/aws/clusters/qa/gitops-system" / SYNC_FILE).read_text()
    assert "branch: release-candidate" in sync
    assert sync != committed


def test_lock_names_version_components_and_program_objects() -> None:
    files = render_record(repo_plan("prod", flux_manifests=None))
    lock = yaml.safe_load(files[Path("gitops/aws/clusters/prod/gitops-system") / LOCK_FILE])
    assert lock["flux"]["version"] == "v2.9.4"
    assert lock["flux"]["components"][:2] == ["source-controller", "kustomize-controller"]
    identities = {(o["kind"], o["name"]) for o in lock["objects"]}
    assert {
        ("Namespace", "gitops-system"),
        ("Secret", "gitops-system"),
        ("Secret", "sumologic-credentials"),
    } <= identities
    assert ("GitRepository", "gitops-system") in identities


def test_the_record_of_a_stack_on_the_operator_names_it() -> None:
    files = render_record(repo_plan("dev", flux_manifests=None))
    lock = yaml.safe_load(files[Path("gitops/aws/clusters/dev/gitops-system") / LOCK_FILE])
    assert lock["flux"]["installer"] == "operator"
    assert lock["flux"]["operatorVersion"] == "v0.61.0"
    qa = render_record(repo_plan("qa", flux_manifests=None))
    assert (
        "installer"
        not in yaml.safe_load(qa[Path("gitops/aws/clusters/qa/gitops-system") / LOCK_FILE])["flux"]
    )
