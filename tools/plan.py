"""Offline plan: run the real program for one stack under the mock engine and write what it declares.

    python -m tools.plan --stack dev [--out build/plan] [--flux-manifests FILE] [--project-dir DIR]

Writes OUT/STACK/resources.json (every resource, secrets shown as "[secret]"), OUT/STACK/manifests.yaml
(every Kubernetes object, Secret data redacted) and OUT/STACK/outputs.json (stack outputs, redacted).
Needs no cloud account, no Pulumi CLI and no network; two runs give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml

import guardrails
from flux.release import MANIFESTS_SHA256_CONFIG_KEY, pin_command
from offline.engine import ProgramRun, RecordedResource, config_from_stack_file, run_program
from offline.guardrails import declared_from_graph
from offline.wire import SECRET_MARK, redact
from settings.model import OFFLINE_ENV, PROJECT, SECRET_KEYS, ConfigError, StackConfig
from settings.parse import parse_stack_config
from tools.paths import REPO_ROOT, stack_filename
from urns import type_and_name

# Stack files never hold credentials in clear; the plan stands in for them with marked placeholders.
PLACEHOLDER_SECRET = "plan-placeholder"
TOOLKIT_TYPE = "eks-gitops:toolkit:Toolkit"


class PlanError(Exception):
    """The stack cannot be planned; the message says why in one line."""


@dataclass
class Plan:
    stack: str
    settings: StackConfig
    run: ProgramRun

    def resources(self) -> list[dict[str, Any]]:
        return [
            _resource_entry(resource)
            for resource in sorted(self.run.resources, key=lambda r: r.urn)
        ]

    def manifests(self, under: str | None = None) -> list[dict[str, Any]]:
        """Every Kubernetes object the stack applies; with `under`, only those declared by a
        component of that type."""
        objects = [
            _manifest(resource)
            for resource in self.run.resources
            if resource.type.startswith("kubernetes:")
            and resource.custom
            and (under is None or _parent_type(resource.parent) == under)
        ]
        return sorted(objects, key=_manifest_sort_key)

    def outputs(self) -> dict[str, Any]:
        return dict(sorted(redact(self.run.stack_outputs).items()))

    def toolkit_entry(self) -> dict[str, Any] | None:
        toolkits = [r for r in self.run.resources if r.type == TOOLKIT_TYPE]
        return toolkits[0].plain_inputs if toolkits else None


def _resource_entry(resource: RecordedResource) -> dict[str, Any]:
    return {
        "type": resource.type,
        "name": resource.name,
        "urn": resource.urn,
        "parent": _parent_name(resource.parent),
        "custom": resource.custom,
        "provider": resource.provider,
        "inputs": resource.redacted_inputs,
        "dependencies": sorted(type_and_name(urn) for urn in resource.dependencies),
        "protect": resource.protect,
        "deleteBeforeReplace": resource.delete_before_replace,
        "retainOnDelete": resource.retain_on_delete,
        "ignoreChanges": resource.ignore_changes,
        "replaceOnChanges": resource.replace_on_changes,
        "customTimeouts": resource.custom_timeouts,
        "deletedWith": type_and_name(resource.deleted_with) if resource.deleted_with else None,
        "additionalSecretOutputs": resource.additional_secret_outputs,
        "aliases": resource.aliases,
    }


def _parent_type(parent_urn: str | None) -> str | None:
    return type_and_name(parent_urn).split("::")[0] if parent_urn else None


def _parent_name(parent_urn: str | None) -> str | None:
    if parent_urn is None:
        return None
    parent = type_and_name(parent_urn)
    return None if parent.startswith("pulumi:pulumi:Stack::") else parent


def _manifest(resource: RecordedResource) -> dict[str, Any]:
    body = {key: value for key, value in resource.redacted_inputs.items() if value is not None}
    if body.get("kind") == "Secret":
        for field in ("data", "stringData"):
            if isinstance(body.get(field), dict):
                body[field] = dict.fromkeys(sorted(body[field]), SECRET_MARK)
            elif field in body:
                body[field] = SECRET_MARK
    ordered = {key: body[key] for key in ("apiVersion", "kind", "metadata") if key in body}
    ordered.update({key: body[key] for key in sorted(body) if key not in ordered})
    return ordered


def _manifest_sort_key(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


def stack_config(project_dir: Path, stack: str) -> dict[str, Any]:
    path = project_dir / stack_filename(stack)
    if not path.is_file():
        raise PlanError(f"no stack file {path}")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise PlanError(
            f"{path.name}{where}: not valid YAML ({getattr(error, 'problem', error)})"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise PlanError(f"{path.name}: expected a mapping with a 'config:' mapping at the top")
    # YAML reads `1:` or `true:` as a number or boolean key; config keys are `namespace:name` text.
    for key in document.get("config", {}):
        if not isinstance(key, str):
            raise PlanError(f"{path.name}: config key {key!r} is not a 'namespace:name' string")
    return document


def project_config(project_dir: Path) -> dict[str, Any]:
    """The config values Pulumi.yaml gives every stack: keys of other namespaces as written
    (`pulumi:disable-default-providers`), the project's own under its name; a stack file overrides them.
    Declarations with a `value` give it; those that only declare a type or default give nothing here."""
    path = project_dir / "Pulumi.yaml"
    declared = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    values: dict[str, Any] = {}
    for key, entry in declared.items():
        name = key if ":" in key else f"{PROJECT}:{key}"
        if not isinstance(entry, dict):
            values[name] = entry
        elif "value" in entry:
            values[name] = entry["value"]
    return values


def plan_stack(
    stack: str,
    *,
    project_dir: Path = REPO_ROOT,
    flux_manifests: Path | None = None,
    secret_values: Mapping[str, str] | None = None,
) -> Plan:
    document = stack_config(project_dir, stack)
    config = config_from_stack_file(
        {"config": {**project_config(project_dir), **(document.get("config") or {})}}
    )
    # Parsed first: which secret settings the stack needs depends on its settings.
    try:
        settings = parse_stack_config(document.get("config") or {}, stack)
    except ConfigError as error:
        raise PlanError(str(error)) from None
    needed = {f"{PROJECT}:{key}" for key in settings.secret_keys}
    secret_keys = []
    for key in (f"{PROJECT}:{key}" for key in SECRET_KEYS):
        value = document.get("config", {}).get(key)
        if secret_values and key in secret_values:
            config[key] = secret_values[key]
        elif isinstance(value, dict) or (value is None and key in needed):
            # `secure:` ciphertext that only the stack's secrets provider can open, or a needed
            # secret the file lacks: a marked placeholder stands in.
            config[key] = PLACEHOLDER_SECRET
        else:
            # Absent and not needed, or written in clear: the latter stays unmarked, so the
            # program refuses it as a run would.
            continue
        secret_keys.append(key)
    if flux_manifests is not None:
        toolkit_key = f"{PROJECT}:toolkit"
        toolkit = json.loads(config.get(toolkit_key, "{}"))
        if isinstance(toolkit, dict):
            toolkit["manifestsFile"] = str(flux_manifests.resolve())
            config[toolkit_key] = json.dumps(toolkit)
    try:
        run = run_program(
            project_dir / "__main__.py",
            project=PROJECT,
            stack=stack,
            config=config,
            secret_keys=secret_keys,
            environment={OFFLINE_ENV: "1"},
        )
    except pulumi.RunError as error:
        raise PlanError(str(error)) from None
    # The mock engine does not call stack transforms, so the per-resource guardrails the real engine
    # applies during the run are checked here, over what the program declared.
    violations = guardrails.check_resources(settings, declared_from_graph(run.resources))
    if violations:
        raise PlanError("\n".join(str(violation) for violation in violations))
    return Plan(stack, settings, run)


# libyaml emits byte-identical YAML for these plain objects in a third of the time.
_SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump_yaml(objects: list[dict[str, Any]]) -> str:
    return (
        yaml.dump_all(
            objects, Dumper=_SAFE_DUMPER, sort_keys=True, default_flow_style=False, width=120
        )
        if objects
        else ""
    )


def write_plan(plan: Plan, out_dir: Path) -> Path:
    target = out_dir / plan.stack
    target.mkdir(parents=True, exist_ok=True)
    (target / "resources.json").write_text(
        json.dumps(plan.resources(), indent=2, sort_keys=True) + "\n"
    )
    (target / "manifests.yaml").write_text(_dump_yaml(plan.manifests()))
    (target / "outputs.json").write_text(
        json.dumps(plan.outputs(), indent=2, sort_keys=True) + "\n"
    )
    return target


def summary(plan: Plan, target: Path) -> str:
    counts = Counter(resource.type for resource in plan.run.resources)
    lines = [f"plan of stack {plan.stack}: {len(plan.run.resources)} resources"]
    lines += [f"  {count:4d}  {type_token}" for type_token, count in sorted(counts.items())]
    toolkit = plan.toolkit_entry()
    if toolkit is not None and not toolkit.get("expanded"):
        lines.append(
            f"  toolkit NOT expanded: Flux {toolkit.get('version')} manifests ({toolkit.get('url')}) are not "
            "available offline; pass --flux-manifests FILE to see every toolkit object"
        )
    if toolkit is not None and not toolkit.get("manifestPinned"):
        consequence = (
            "`pulumi up` refuses to apply it on this production stack"
            if plan.settings.is_production
            else "a run trusts whatever it downloads"
        )
        lines.append(
            f"  toolkit manifest NOT pinned ({MANIFESTS_SHA256_CONFIG_KEY} unset): {consequence}; "
            f"pin it with {pin_command(plan.stack)}"
        )
    lines.append(f"  written to {target}/ (resources.json, manifests.yaml, outputs.json)")
    return "\n".join(lines)


def arguments(
    stack: str,
    out_dir: Path,
    *,
    flux_manifests: Path | None = None,
    project_dir: Path | None = None,
) -> list[str]:
    """The arguments `main` takes to plan `stack` into `out_dir`."""
    argv = ["--stack", stack, "--out", str(out_dir)]
    if flux_manifests is not None:
        argv += ["--flux-manifests", str(flux_manifests)]
    if project_dir is not None:
        argv += ["--project-dir", str(project_dir)]
    return argv


def command(
    stack: str,
    out_dir: Path,
    *,
    flux_manifests: Path | None = None,
    project_dir: Path | None = None,
) -> list[str]:
    """The command line that plans `stack` in a fresh process (for benchmarks and isolation tests)."""
    return [
        sys.executable,
        "-m",
        "tools.plan",
        *arguments(stack, out_dir, flux_manifests=flux_manifests, project_dir=project_dir),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build" / "plan")
    parser.add_argument(
        "--flux-manifests", type=Path, help="a Flux install.yaml to expand the toolkit from"
    )
    parser.add_argument("--project-dir", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.flux_manifests is not None and not args.flux_manifests.is_file():
        print(f"error: --flux-manifests {args.flux_manifests}: no such file", file=sys.stderr)
        return 2
    try:
        plan = plan_stack(
            args.stack, project_dir=args.project_dir, flux_manifests=args.flux_manifests
        )
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    target = write_plan(plan, args.out)
    print(summary(plan, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
