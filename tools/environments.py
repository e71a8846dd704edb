"""The environments in promotion order, as the pipeline asks for them (environments.yaml).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from eks_gitops.flux.commit_status import CONTEXT_PREFIX
from tools.gitops.cluster_tree import cluster_directory
from tools.paths import REPO_ROOT, stack_filename

ENVIRONMENTS_FILE: Final = "environments.yaml"
# Files and directories every stack's `pulumi preview`/`up` runs or reads.
SHARED_INPUTS: Final = (
    "eks_gitops/",
    "__main__.py",
    "Pulumi.yaml",
    "requirements.txt",
    "policy_pack/",
    ENVIRONMENTS_FILE,
)
# What `git diff` gives as the base of a push that created the branch: no commit to compare with.
NO_COMMIT: Final = re.compile(r"0{40}")


class EnvironmentsError(Exception):
    """environments.yaml or a request about it is wrong; the message says how, in one line."""


@dataclass(frozen=True)
class Environment:
    name: str
    production: bool


def load_environments(root: Path = REPO_ROOT) -> tuple[Environment, ...]:
    path = root / ENVIRONMENTS_FILE
    document = yaml.safe_load(path.read_text())
    entries = document.get("environments") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise EnvironmentsError(f"{path.name}: expected 'environments:' with a list of entries")
    found = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        production = entry.get("production", False) if isinstance(entry, dict) else None
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9-]*", name):
            raise EnvironmentsError(f"{path.name}: {entry!r} needs a lowercase 'name'")
        if not isinstance(production, bool):
            raise EnvironmentsError(f"{path.name}: {name}.production must be true or false")
        found.append(Environment(name, production))
    names = [environment.name for environment in found]
    if len(set(names)) != len(names):
        raise EnvironmentsError(f"{path.name}: an environment is listed twice in {names}")
    return tuple(found)


def next_environment(environments: Sequence[Environment], name: str) -> str | None:
    names = [environment.name for environment in environments]
    if name not in names:
        raise EnvironmentsError(f"no environment {name!r} in {ENVIRONMENTS_FILE} ({names})")
    index = names.index(name)
    return names[index + 1] if index + 1 < len(names) else None


def promotions(
    environments: Sequence[Environment], context: str | None = None
) -> list[dict[str, str]]:
    """Each environment with the one after it; with a commit status `context`, only the pair whose
    source posted it (none for a context of another kind, an unknown or the last environment)."""
    names = [environment.name for environment in environments]
    pairs = [{"from": a, "to": b} for a, b in itertools.pairwise(names)]
    if not context:
        return pairs
    prefix, _, rest = context.partition("/")
    source = rest.split("/", 1)[0]
    return [pair for pair in pairs if prefix == CONTEXT_PREFIX and pair["from"] == source]


def stacks_changed(environments: Sequence[Environment], paths: Iterable[str]) -> list[str]:
    """The environments, in order, whose stack inputs include one of the changed `paths`."""
    changed = list(paths)
    if any(path.startswith(SHARED_INPUTS) for path in changed):
        return [environment.name for environment in environments]
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
        environments = load_environments(root)
        if args.command == "names":
            print(json.dumps([environment.name for environment in environments]))
        elif args.command == "next":
            print(next_environment(environments, args.source) or "")
        elif args.command == "promotions":
            print(json.dumps(promotions(environments, args.context)))
        else:
            paths = changed_paths(args.base, args.head, root)
            names = (
                [environment.name for environment in environments]
                if paths is None
                else stacks_changed(environments, paths)
            )
            print(json.dumps(names))
    except (EnvironmentsError, OSError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
