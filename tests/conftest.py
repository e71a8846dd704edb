"""Shared helpers: plan a stack of the real program under the mock engine, on the real stack files
or on a copy of the project with an edited stack file."""

from __future__ import annotations

import copy
import functools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gitops.settings.environments import ENVIRONMENTS_FILENAME, read_environments
from tools.offline.engine import RecordedResource
from tools.paths import REPO_ROOT, stack_filename
from tools.plan import Plan, plan_stack

ENVIRONMENTS = read_environments().names

FLUX_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "flux"
FLUX_V294 = FLUX_FIXTURES / "install-v2.9.4.yaml"
FLUX_V285 = FLUX_FIXTURES / "install-v2.8.5.yaml"


@pytest.fixture(autouse=True, scope="session")
def _isolated_flux_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # A developer's real Flux download cache must not change what a test sees.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@functools.cache
def _cached_plan(stack: str, flux_manifests: Path | None) -> Plan:
    return plan_stack(stack, flux_manifests=flux_manifests)


def repo_plan(stack: str, flux_manifests: Path | None = FLUX_V294) -> Plan:
    """The plan of a stack file in the repository (computed once per session; do not mutate)."""
    return _cached_plan(stack, flux_manifests)


def ssh_secret(plan: Plan) -> RecordedResource:
    """The Secret Flux pulls with: in the toolkit namespace, named like it."""
    [namespace] = [
        resource.plain_inputs["metadata"]["name"]
        for resource in plan.run.of_type("kubernetes:core/v1:Namespace")
    ]
    [secret] = [
        resource
        for resource in plan.run.of_type("kubernetes:core/v1:Secret")
        if resource.plain_inputs["metadata"] == {"name": namespace, "namespace": namespace}
    ]
    return secret


def stack_document(stack: str) -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()))


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of the project's configuration (Pulumi.yaml, environments.yaml and the stack files) to
    edit them in;
    the plan runs the installed program on it."""
    target = tmp_path / "project"
    target.mkdir()
    for name in (
        "Pulumi.yaml",
        ENVIRONMENTS_FILENAME,
        *(stack_filename(stack) for stack in ENVIRONMENTS),
    ):
        shutil.copy(REPO_ROOT / name, target)
    return target


def write_stack(project_dir: Path, stack: str, document: dict[str, Any]) -> None:
    (project_dir / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture
def plan_edited(project_copy: Path) -> Callable[..., Plan]:
    """plan_edited(stack, edit, name=...) plans `stack`'s file after `edit(document)` changed it."""

    def run(
        stack: str,
        edit: Callable[[dict[str, Any]], None],
        *,
        name: str | None = None,
        flux_manifests: Path | None = FLUX_V294,
    ) -> Plan:
        document = stack_document(stack)
        edit(document)
        target = name or stack
        write_stack(project_copy, target, document)
        return plan_stack(target, project_dir=project_copy, flux_manifests=flux_manifests)

    return run
