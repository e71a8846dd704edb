"""Compare two environments: the manifests their clusters get, and their stacks' offline plans.

    python -m tools.envdiff --from dev --to qa [--root DIR]

Prints a unified diff of the fully expanded manifests of the two cluster paths (every Flux
Kustomization followed and substituted, as `tools.validate` does), then of the two stacks'
`resources.json` and `manifests.yaml` from `python -m tools.plan`. Exits 1 when a plan cannot be made.
"""

from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tools.gitops.cluster_tree import cluster_directory, expand_cluster, render_manifests
from tools.gitops.kustomize import Builder
from tools.paths import REPO_ROOT

PLAN_FILES = ("resources.json", "manifests.yaml")
PLAN_TIMEOUT_SECONDS = 600


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def manifests_diff(root: Path, source: str, target: str, builder: Builder) -> str:
    rendered = {}
    for env in (source, target):
        cluster = expand_cluster(root, cluster_directory(root, env), builder)
        rendered[env] = render_manifests(cluster)
    return unified_diff(
        rendered[source], rendered[target], f"{source}/manifests", f"{target}/manifests"
    )


def run_plan(stack: str, out: Path) -> str | None:
    """Run the offline plan for a stack into out/stack/; the reason it failed, or None."""
    command = [sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(out)]
    try:
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=PLAN_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {PLAN_TIMEOUT_SECONDS}s"
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        return f"exit {completed.returncode}: {detail[-1] if detail else 'no output'}"
    missing = [name for name in PLAN_FILES if not (out / stack / name).is_file()]
    return f"did not write {', '.join(missing)}" if missing else None


def plans_diff(source: str, target: str) -> tuple[str, list[str]]:
    """The diff of the two stacks' plan files, and what went wrong making them."""
    with tempfile.TemporaryDirectory(prefix="envdiff-") as tmp:
        out = Path(tmp)
        failures = [
            f"offline plan of stack {stack} failed ({reason})"
            for stack in (source, target)
            if (reason := run_plan(stack, out)) is not None
        ]
        if failures:
            return "", failures
        diff = "".join(
            unified_diff(
                (out / source / name).read_text(),
                (out / target / name).read_text(),
                f"{source}/{name}",
                f"{target}/{name}",
            )
            for name in PLAN_FILES
        )
        return diff, []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.envdiff", description=__doc__)
    parser.add_argument("--from", dest="source", required=True)
    parser.add_argument("--to", dest="target", required=True)
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    for env in (args.source, args.target):
        if not cluster_directory(root, env).is_dir():
            print(f"error: no cluster directory for {env}", file=sys.stderr)
            return 2

    print(f"## manifests: {args.source} -> {args.target}")
    print(manifests_diff(root, args.source, args.target, Builder()) or "(no differences)")
    print(f"## offline plans: {args.source} -> {args.target}")
    diff, failures = plans_diff(args.source, args.target)
    for failure in failures:
        print(f"error: {failure}; the plan diff is missing", file=sys.stderr)
    if failures:
        return 1
    print(diff or "(no differences)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
