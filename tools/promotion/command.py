"""`make promote FROM=dev TO=qa`: hand everything one environment pins to the next.

    python -m tools.promotion --from dev --to qa [--skip] [--force] [--unverified] [--root DIR]

Moves the chart versions of the cluster's versions.env (those the target already runs) and the
infrastructure pins of the stack file (Flux version and digest, Kubernetes version, EKS add-on
versions) as committed in the source, then regenerates the target's records
(`gitops/aws/clusters/<env>/gitops-system/`); every other byte of the target files stays. Before
writing, it asks GitHub (GITHUB_TOKEN) whether the source environment reported success on a commit
carrying those pins, from its cluster's Flux and from its `pulumi up`; without both it refuses in
one line and writes nothing. Each refusal names the make variable that overrides it, where one does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from eks_gitops.flux.commit_status import commit_status_context, pulumi_status_context
from eks_gitops.settings.environments import read_environments
from eks_gitops.settings.model import ConfigError, StackConfig
from eks_gitops.settings.parse import parse_stack_config
from tools.gitops.cluster_tree import cluster_directory
from tools.paths import REPO_ROOT, stack_filename
from tools.plan import PlanError, plan_stack
from tools.promotion.gate import (
    GITHUB_API,
    GateError,
    StatusSource,
    commits_carrying_pins,
    committed_text,
    verified_commit,
)
from tools.promotion.order import FORCE_VARIABLE, change_refusal, step_refusal
from tools.promotion.pins import (
    KUBERNETES_VERSION,
    VERSIONS_FILENAME,
    EditedFile,
    PinError,
    chart_pins,
    config_key,
    promoted_charts,
    promoted_stack,
    stack_pins,
)
from tools.render import render_record

TOKEN_ENV = "GITHUB_TOKEN"


class PromotionRefusedError(Exception):
    """The promotion cannot go ahead; the message is the one line that says why."""


@dataclass(frozen=True)
class PromotionRequest:
    source: str
    target: str
    allow_skip: bool = False
    """Promote past an environment (make's SKIP=1)."""
    force: bool = False
    """Allow a downgrade or a Kubernetes jump of more than one minor (make's FORCE=1)."""
    unverified: bool = False
    """Do not ask GitHub whether the source reported success (make's UNVERIFIED=1)."""
    github_api_url: str | None = None
    root: Path = REPO_ROOT


def versions_filename(environment: str) -> str:
    return f"{cluster_directory(Path(), environment).as_posix()}/{VERSIONS_FILENAME}"


def parse_stack(text: str, environment: str, root: Path) -> StackConfig:
    return parse_stack_config(yaml.safe_load(text)["config"], environment, read_environments(root))


def environment_pins(environment: str) -> Callable[[Callable[[str], str | None]], object]:
    """What promotion hands on from the environment, read through a function giving file texts."""

    def read(text_of: Callable[[str], str | None]) -> object:
        stack = text_of(stack_filename(environment))
        versions = text_of(versions_filename(environment))
        return (
            stack_pins(yaml.safe_load(stack)) if stack is not None else None,
            chart_pins(versions) if versions is not None else None,
        )

    return read


def verify(root: Path, environment: str, settings: StackConfig, api_url: str | None) -> str:
    """The commit on which environment reported success with its current pins, from both its
    cluster (the bootstrap Kustomization, which waits for the whole tree) and its `pulumi up`."""
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise PromotionRefusedError(
            f"{TOKEN_ENV} is not set, so whether {environment} reported success cannot be checked "
            "(UNVERIFIED=1 skips the check)"
        )
    source = StatusSource(
        api_url=api_url or settings.github.api_url or GITHUB_API,
        owner=settings.github.owner,
        repository=settings.github.repository,
        contexts=(
            commit_status_context(environment, "Kustomization", settings.toolkit.namespace),
            pulumi_status_context(environment),
        ),
        token=token,
    )
    paths = (stack_filename(environment), versions_filename(environment))
    try:
        commits = commits_carrying_pins(root, paths, environment_pins(environment))
        sha = verified_commit(source, commits, environment)
    except GateError as error:
        raise PromotionRefusedError(f"cannot verify {environment}: {error}") from error
    print(f"verified: {' and '.join(source.contexts)} reported success on {sha[:12]}")
    return sha


def _working_text(path: Path) -> str:
    if not path.is_file():
        raise PromotionRefusedError(f"{path} does not exist")
    # Bytes, not text mode: the files keep their own line endings.
    return path.read_bytes().decode("utf-8")


def _committed_source_text(root: Path, name: str) -> str:
    """The source's file as committed at HEAD: what was reviewed and what GitHub can vouch for."""
    working = _working_text(root / name)
    committed = committed_text(root, "HEAD", name)
    if committed != working:
        raise PromotionRefusedError(
            f"{name} has changes that are not committed; promotion hands on only what is "
            "committed: commit or stash them first"
        )
    return committed


def _refuse_unsafe_moves(request: PromotionRequest, files: Sequence[EditedFile]) -> None:
    if request.force:
        return
    for changes in files:
        for change in changes.changes:
            refusal = change_refusal(change, kubernetes_key=config_key(KUBERNETES_VERSION))
            if refusal is not None:
                raise PromotionRefusedError(
                    f"{request.source} -> {request.target}: {refusal} "
                    f"(pass {FORCE_VARIABLE} to do it anyway)"
                )


def promote(request: PromotionRequest) -> None:
    source, target, root = request.source, request.target, request.root
    for variable, value in (("FROM", source), ("TO", target)):
        if not value:
            raise PromotionRefusedError(
                f"{variable} is not set: make promote FROM=<environment> TO=<next environment> "
                f"(environments: {', '.join(read_environments(root).names)})"
            )
    environments = read_environments(root).names
    refusal = step_refusal(source, target, environments, allow_skip=request.allow_skip)
    if refusal is not None:
        raise PromotionRefusedError(refusal)
    source_stack, target_stack = stack_filename(source), stack_filename(target)
    source_versions, target_versions = versions_filename(source), versions_filename(target)
    source_texts = {
        name: _committed_source_text(root, name) for name in (source_stack, source_versions)
    }
    target_texts = {name: _working_text(root / name) for name in (target_stack, target_versions)}
    try:
        source_settings = parse_stack(source_texts[source_stack], source, root)
        parse_stack(target_texts[target_stack], target, root)
        stack = promoted_stack(
            source_texts[source_stack], target_texts[target_stack], source, target
        )
        # The promoted file must still be a stack the program accepts (add-ons match Kubernetes).
        parse_stack(stack.text, target, root)
    except (ConfigError, PinError, yaml.YAMLError) as error:
        raise PromotionRefusedError(f"{source} -> {target}: {error}") from error
    charts = promoted_charts(source_texts[source_versions], target_texts[target_versions])
    _refuse_unsafe_moves(request, (stack, charts))

    if request.unverified:
        print(
            f"WARNING: UNVERIFIED PROMOTION: not checking that {source} reported success "
            f"for these pins",
            file=sys.stderr,
        )
    else:
        verify(root, source, source_settings, request.github_api_url)

    for key in charts.not_pinned:
        print(f"{key}: pinned in {source} only; {target} does not run it, left out")
    if not charts.changes and not stack.changes:
        print(f"nothing to promote: {target} already pins {source}'s versions")
        return
    for change in (*stack.changes, *charts.changes):
        print(f"{target}: {change.name} {change.old or '(unset)'} -> {change.new}")
    if stack.changes:
        _write(root, target_stack, stack.text)
        try:
            # The generated records follow the stack file they are made from.
            record = render_record(plan_stack(target, project_dir=root))
        except PlanError as error:
            _write(root, target_stack, target_texts[target_stack])
            raise PromotionRefusedError(
                f"{target} cannot be planned with {source}'s pins: {error}"
            ) from error
        for path, content in record.items():
            _write(root, str(path), content)
    if charts.changes:
        _write(root, target_versions, charts.text)


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    if path.is_file() and path.read_bytes().decode("utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    print(f"updated {name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.promotion", description=__doc__)
    parser.add_argument("--from", dest="source", default="", help="make's FROM")
    parser.add_argument("--to", dest="target", default="", help="make's TO")
    parser.add_argument("--skip", action="store_true", help="make's SKIP=1: allow dev -> prod")
    parser.add_argument(
        "--force", action="store_true", help="make's FORCE=1: allow a downgrade or a jump"
    )
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="make's UNVERIFIED=1: do not ask GitHub whether the source reported success",
    )
    parser.add_argument(
        "--github-api-url",
        help="GitHub's REST API root (default: from the source stack's github.host)",
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        promote(
            PromotionRequest(
                source=args.source,
                target=args.target,
                allow_skip=args.skip,
                force=args.force,
                unverified=args.unverified,
                github_api_url=args.github_api_url,
                root=args.root,
            )
        )
    except PromotionRefusedError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    return 0
