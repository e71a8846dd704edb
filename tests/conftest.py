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
from eks_gitops.settings.model import MANIFESTS_INSTALLER
from tools.offline.engine import RecordedResource
from tools.paths import REPO_ROOT, stack_filename
from tools.plan import Plan, plan_stack

ENVIRONMENTS = read_environments().names

FLUX_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "flux"
FLUX_V294 = FLUX_FIXTURES / "install-v2.9.4.yaml"
FLUX_V285 = FLUX_FIXTURES / "install-v2.8.5.yaml"
# Shaped like the Flux Operator v0.61.0 release's install.yaml; plans of stacks on the manifests
# installer ignore it.
OPERATOR_V0610 = REPO_ROOT / "tests" / "fixtures" / "flux-operator" / "install-v0.61.0.yaml"
FLUX_V295 = FLUX_FIXTURES / "install-v2.9.5.yaml"


class _StackVersion:
    """Default for a plan's manifest: the fixture of the Flux version the stack file pins."""


STACK_VERSION: Any = _StackVersion()


def flux_fixture(version: str) -> Path:
    """The install-manifest fixture shaped like Flux release `version`."""
    path = FLUX_FIXTURES / f"install-{version}.yaml"
    assert path.is_file(), f"no Flux fixture for {version}"
    return path


def _toolkit_version(document: dict[str, Any]) -> str:
    version: str = document["config"]["eks-gitops:toolkit"]["version"]
    return version


@pytest.fixture(autouse=True, scope="session")
def _isolated_flux_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # A developer's real Flux download cache must not change what a test sees.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@functools.cache
def _cached_plan(stack: str, flux_manifests: Path | None) -> Plan:
    return plan_stack(stack, flux_manifests=flux_manifests, operator_manifests=OPERATOR_V0610)


def repo_plan(stack: str, flux_manifests: Path | None = STACK_VERSION) -> Plan:
    """The plan of a stack file in the repository (computed once per session; do not mutate), with
    the fixture of the Flux version the stack pins unless told otherwise."""
    if flux_manifests is STACK_VERSION:
        flux_manifests = flux_fixture(_toolkit_version(stack_document(stack)))
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


def installer_of(stack: str) -> str:
    """The committed stack file's `toolkit.installer`."""
    toolkit = stack_document(stack)["config"]["eks-gitops:toolkit"]
    return str(toolkit.get("installer", MANIFESTS_INSTALLER))


# The stacks that apply Flux's manifest object by object (qa and prod until they are switched), for
# the tests of what that installer declares; dev installs Flux with the operator.
MANIFESTS_STACKS = tuple(
    stack for stack in ENVIRONMENTS if installer_of(stack) == MANIFESTS_INSTALLER
)
OPERATOR_STACKS = tuple(stack for stack in ENVIRONMENTS if stack not in MANIFESTS_STACKS)


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
    """plan_edited(stack, edit, name=...) plans `stack`'s file after `edit(document)` changed it,
    with the fixture of the Flux version the edited file pins unless told otherwise."""

    def run(
        stack: str,
        edit: Callable[[dict[str, Any]], None],
        *,
        name: str | None = None,
        flux_manifests: Path | None = STACK_VERSION,
    ) -> Plan:
        document = stack_document(stack)
        edit(document)
        if flux_manifests is STACK_VERSION:
            flux_manifests = flux_fixture(_toolkit_version(document))
        target = name or stack
        write_stack(project_copy, target, document)
        return plan_stack(
            target,
            project_dir=project_copy,
            flux_manifests=flux_manifests,
            operator_manifests=OPERATOR_V0610,
        )

    return run
