"""Promote everything one environment pins to the next, once it has proved itself there.

    python -m tools.promote --from dev --to qa [--allow-skip] [--unverified] [--root DIR]

Moves the chart versions of the cluster's versions.env (those the target already runs) and the
infrastructure pins of the stack file (Flux version and digest, Kubernetes version, EKS add-on
versions); every other byte of both target files stays as it was. Before writing, asks GitHub
(GITHUB_TOKEN) whether the source environment's cluster reported success on a commit carrying
those pins; without that answer it refuses in one line and writes nothing. --unverified skips the
question, loudly. Promotion goes dev -> qa -> prod; skipping one needs --allow-skip, backwards never.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from eks_gitops.flux.commit_status import commit_status_context
from eks_gitops.settings.model import ConfigError, StackConfig
from eks_gitops.settings.parse import parse_stack_config
from tools.gitops.cluster_tree import cluster_directory
from tools.gitops.versions import VERSIONS_FILENAME, plan_promotion, promotion_refusal, read_pins
from tools.paths import REPO_ROOT, stack_filename
from tools.promotion_gate import (
    GITHUB_API,
    GateError,
    StatusSource,
    commits_carrying_pins,
    verified_commit,
)
from tools.stack_pins import PinError, config_key, plan_stack_promotion, stack_pins

TOKEN_ENV = "GITHUB_TOKEN"


class PromotionRefusedError(Exception):
    """The promotion cannot go ahead; the message is the one line that says why."""


def versions_filename(environment: str) -> str:
    return f"{cluster_directory(Path(), environment).as_posix()}/{VERSIONS_FILENAME}"


def parse_stack(text: str, environment: str) -> StackConfig:
    return parse_stack_config(yaml.safe_load(text)["config"], environment)


def environment_pins(environment: str) -> Callable[[Callable[[str], str | None]], object]:
    """What promotion hands on from the environment, read through a function giving file texts."""

    def read(text_of: Callable[[str], str | None]) -> object:
        stack = text_of(stack_filename(environment))
        versions = text_of(versions_filename(environment))
        return (
            stack_pins(yaml.safe_load(stack)) if stack is not None else None,
            read_pins(versions) if versions is not None else None,
        )

    return read


def verify(root: Path, environment: str, settings: StackConfig, api_url: str | None) -> str:
    """The commit on which environment's cluster reported success with its current pins."""
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
        # The bootstrap Kustomization waits for the whole tree, so its status covers all of it.
        context=commit_status_context(environment, "Kustomization", settings.toolkit.namespace),
        token=token,
    )
    paths = (stack_filename(environment), versions_filename(environment))
    try:
        commits = commits_carrying_pins(root, paths, environment_pins(environment))
        sha = verified_commit(source, commits, environment)
    except GateError as error:
        raise PromotionRefusedError(f"cannot verify {environment}: {error}") from error
    print(f"verified: {source.context} reported success on {sha[:12]}")
    return sha


def read(path: Path) -> str:
    if not path.is_file():
        raise PromotionRefusedError(f"{path} does not exist")
    # Bytes, not text mode: the files keep their own line endings.
    return path.read_bytes().decode("utf-8")


def promote(args: argparse.Namespace) -> None:
    refusal = promotion_refusal(args.source, args.target, args.allow_skip)
    if refusal is not None:
        raise PromotionRefusedError(refusal)
    root: Path = args.root
    texts = {
        name: read(root / name)
        for env in (args.source, args.target)
        for name in (stack_filename(env), versions_filename(env))
    }
    source_stack, target_stack = (stack_filename(env) for env in (args.source, args.target))
    source_versions, target_versions = (versions_filename(e) for e in (args.source, args.target))
    try:
        source_settings = parse_stack(texts[source_stack], args.source)
        parse_stack(texts[target_stack], args.target)
        stack = plan_stack_promotion(
            texts[source_stack], texts[target_stack], args.source, args.target
        )
        # The promoted file must still be a stack the program accepts (add-ons match Kubernetes).
        parse_stack(stack.text, args.target)
    except (ConfigError, PinError, yaml.YAMLError) as error:
        raise PromotionRefusedError(f"{args.source} -> {args.target}: {error}") from error
    versions = plan_promotion(texts[source_versions], texts[target_versions])

    if args.unverified:
        print(
            f"WARNING: UNVERIFIED PROMOTION: not checking that {args.source} reported success "
            f"for these pins",
            file=sys.stderr,
        )
    else:
        verify(root, args.source, source_settings, args.github_api_url)

    for key in versions.not_pinned:
        print(f"{key}: pinned in {args.source} only; {args.target} does not run it, left out")
    if not versions.changes and not stack.changes:
        print(f"nothing to promote: {args.target} already pins {args.source}'s versions")
        return
    for pin in stack.changes:
        print(f"{args.target}: {config_key(pin.path)} {pin.old or '(unset)'} -> {pin.new}")
    for change in versions.changes:
        print(f"{args.target}: {change.key} {change.old} -> {change.new}")
    for name, text, changed in (
        (target_stack, stack.text, bool(stack.changes)),
        (target_versions, versions.text, bool(versions.changes)),
    ):
        if changed:
            (root / name).write_bytes(text.encode("utf-8"))
            print(f"updated {name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.promote", description=__doc__)
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--to", dest="target", required=True)
    parser.add_argument("--allow-skip", action="store_true", help="allow dev -> prod")
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="do not ask GitHub whether the source environment reported success",
    )
    parser.add_argument(
        "--github-api-url",
        help="GitHub's REST API root (default: from the source stack's github.host)",
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        promote(args)
    except PromotionRefusedError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
