"""The environments in promotion order (environments.yaml, eks_gitops.settings.environments), as
the pipeline asks for them.

    python -m tools.environments names                       ["dev", "qa", "prod"]
    python -m tools.environments next --from dev             qa (nothing after the last)
    python -m tools.environments changed --base REV [--head REV]
                                                             JSON list of the stacks whose inputs
                                                             changed between the two commits
    python -m tools.environments promotions [--context CTX]  JSON list of {"from", "to"} pairs:
                                                             the one a commit status context
                                                             (eks-gitops/<env>/...) names, or all

A stack's inputs are its stack file, its cluster tree under gitops/aws/clusters/<env>/, and what
every stack runs: the program, its project file and requirements, the policy pack and this list.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from eks_gitops.flux.commit_status import CONTEXT_PREFIX
from eks_gitops.settings.environments import (
    ENVIRONMENTS_FILENAME,
    Environments,
    read_environments,
)
from eks_gitops.settings.model import ConfigError
from tools.gitops.cluster_tree import cluster_directory
from tools.paths import REPO_ROOT, stack_filename

# Files and directories every stack's `pulumi preview`/`up` runs or reads.
SHARED_INPUTS: Final = (
    "eks_gitops/",
    "__main__.py",
    "Pulumi.yaml",
    "requirements.txt",
    "policy_pack/",
    ENVIRONMENTS_FILENAME,
)
# What `git diff` gives as the base of a push that created the branch: no commit to compare with.
NO_COMMIT: Final = re.compile(r"0{40}")


class EnvironmentsError(Exception):
    """A request about the environments is wrong; the message says how, in one line."""


def next_environment(environments: Environments, name: str) -> str | None:
    names = list(environments.names)
    if name not in names:
        raise EnvironmentsError(f"no environment {name!r} in {ENVIRONMENTS_FILENAME} ({names})")
    index = names.index(name)
    return names[index + 1] if index + 1 < len(names) else None


def promotions(environments: Environments, context: str | None = None) -> list[dict[str, str]]:
    """Each environment with the one after it; with a commit status `context`, only the pair whose
    source posted it (none for a context of another kind, an unknown or the last environment)."""
    pairs = [{"from": a, "to": b} for a, b in itertools.pairwise(environments.names)]
    if not context:
        return pairs
    prefix, _, rest = context.partition("/")
    source = rest.split("/", 1)[0]
    return [pair for pair in pairs if prefix == CONTEXT_PREFIX and pair["from"] == source]


def stacks_changed(environments: Environments, paths: Iterable[str]) -> list[str]:
    """The environments, in order, whose stack inputs include one of the changed `paths`."""
    changed = list(paths)
    if any(path.startswith(SHARED_INPUTS) for path in changed):
        return list(environments.names)
    return [
        environment.name
        for environment in environments
        if any(
            path == stack_filename(environment.name)
            or path.startswith(f"{cluster_directory(Path(), environment.name).as_posix()}/")
            for path in changed
        )
    ]


def changed_paths(base: str, head: str, root: Path = REPO_ROOT) -> list[str] | None:
    """The files that differ between two commits; None when there is no base to compare with."""
    if NO_COMMIT.fullmatch(base):
        return None
    completed = subprocess.run(
        ["git", "diff", "--name-only", "--no-renames", base, head],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise EnvironmentsError(f"git diff {base} {head}: {completed.stderr.strip()}")
    return completed.stdout.splitlines()


def main(argv: Sequence[str] | None = None, root: Path = REPO_ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.environments", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("names", help="every environment, in promotion order (JSON)")
    following = commands.add_parser("next", help="the environment after one, if any")
    following.add_argument("--from", dest="source", required=True)
    changed = commands.add_parser("changed", help="stacks whose inputs changed (JSON)")
    changed.add_argument("--base", required=True)
    changed.add_argument("--head", default="HEAD")
    promoting = commands.add_parser("promotions", help="environment pairs to promote (JSON)")
    promoting.add_argument("--context", help="the commit status that reported a success")
    args = parser.parse_args(argv)
    try:
        environments = read_environments(root)
        if args.command == "names":
            print(json.dumps(list(environments.names)))
        elif args.command == "next":
            print(next_environment(environments, args.source) or "")
        elif args.command == "promotions":
            print(json.dumps(promotions(environments, args.context)))
        else:
            paths = changed_paths(args.base, args.head, root)
            names = (
                list(environments.names) if paths is None else stacks_changed(environments, paths)
            )
            print(json.dumps(names))
    except (EnvironmentsError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
