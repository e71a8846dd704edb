"""Offline plan of the pipeline's own project (pipeline/): what `pulumi up` there would declare.

    python -m tools.pipeline_plan [--stack example] [--out build/plan]

Runs pipeline.access under the mock engine with the stack file pipeline/Pulumi.<stack>.yaml and
writes OUT/pipeline-<stack>/resources.json and outputs.json, as `tools.plan` does for the program.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

import pulumi
import yaml

from pipeline.access import PROJECT
from pipeline.access import main as pipeline_program
from tools.offline.engine import ProgramRun, run_program
from tools.offline.wire import redact
from tools.paths import REPO_ROOT
from tools.plan import PlanError, resource_entry, stack_config

PIPELINE_DIR: Final = REPO_ROOT / "pipeline"


def plan_pipeline(stack: str, project_dir: Path = PIPELINE_DIR) -> ProgramRun:
    document = stack_config(project_dir, stack)
    project = yaml_config(project_dir)
    values = {**project, **(document.get("config") or {})}
    # Pulumi hands config to the engine as strings: objects and lists as JSON.
    config = {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()
    }
    try:
        return run_program(pipeline_program, project=PROJECT, stack=stack, config=config)
    except pulumi.RunError as error:
        raise PlanError(str(error)) from None


def yaml_config(project_dir: Path) -> dict[str, Any]:
    """The values Pulumi.yaml gives every stack of the pipeline project (keys as written)."""
    declared = (yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}).get("config")
    return {key: entry for key, entry in (declared or {}).items() if not isinstance(entry, dict)}


def write(run: ProgramRun, out_dir: Path) -> Path:
    target = out_dir / f"pipeline-{run.stack}"
    target.mkdir(parents=True, exist_ok=True)
    entries = [resource_entry(resource) for resource in sorted(run.resources, key=lambda r: r.urn)]
    (target / "resources.json").write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    (target / "outputs.json").write_text(
        json.dumps(redact(run.stack_outputs), indent=2, sort_keys=True) + "\n"
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pipeline_plan", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stack", default="example")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "plan")
    args = parser.parse_args(argv)
    try:
        run = plan_pipeline(args.stack)
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    target = write(run, args.out)
    print(
        f"plan of the pipeline's stack {args.stack}: {len(run.resources)} resources, in {target}/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
