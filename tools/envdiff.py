"""Compare two environments: the manifests their clusters get, and their stacks' offline plans.

    python -m tools.envdiff --from dev --to qa [--root DIR]

Prints, as Markdown, the objects added, removed and changed (field by field) between the fully
expanded manifests of the two cluster paths (every Flux Kustomization followed and substituted, as
`tools.validate` does), then between the two stacks' offline plans (`python -m tools.plan`), both
through `tools.plandiff` with each environment's name replaced by `<stack>`: what is left is what the
environments' settings make different, not every name that carries the environment.
Exits 1 when a plan cannot be made.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tools.gitops.cluster_tree import cluster_directory, expand_cluster
from tools.gitops.kustomize import Builder
from tools.paths import REPO_ROOT
from tools.plandiff import (
    MANIFESTS_FILE,
    OUTPUTS_FILE,
    RESOURCES_FILE,
    PlanDiff,
    diff_objects,
    diff_plans,
    load_plan_dir,
    normalised,
    objects_by_key,
    render_markdown,
)

PLAN_FILES = (RESOURCES_FILE, MANIFESTS_FILE, OUTPUTS_FILE)
PLAN_TIMEOUT_SECONDS = 600
# Both plans derive their made-up ids, ARNs and keys from this rather than from their stack names.
MATERIAL_SEED = "envdiff"


def manifests_diff(root: Path, source: str, target: str, builder: Builder) -> str:
    objects = {}
    for env in (source, target):
        cluster = expand_cluster(root, cluster_directory(root, env), builder)
        bodies = [dict(manifest.body) for manifest in cluster.manifests.values()]
        objects[env] = objects_by_key(normalised(bodies, env))
    return render_markdown(
        PlanDiff(objects=diff_objects(objects[source], objects[target])),
        f"gitops/aws/clusters: {source} → {target}",
    )


def run_plan(stack: str, out: Path) -> str | None:
    """Run the offline plan for a stack into out/stack/; the reason it failed, or None."""
    command = [
        *(sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(out)),
        *("--material-seed", MATERIAL_SEED),
    ]
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
        diff = diff_plans(
            load_plan_dir(out / source, normalise=True), load_plan_dir(out / target, normalise=True)
        )
        return render_markdown(diff, f"offline plans: {source} → {target}"), []


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

    print(manifests_diff(root, args.source, args.target, Builder()))
    diff, failures = plans_diff(args.source, args.target)
    for failure in failures:
        print(f"error: {failure}; the plan diff is missing", file=sys.stderr)
    if failures:
        return 1
    print(diff)
    return 0


if __name__ == "__main__":
    sys.exit(main())
