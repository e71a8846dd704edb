"""Offline plan: run the real program for one stack under the mock engine and write what it declares.

    python -m tools.plan --stack dev [--out build/plan] [--flux-manifests FILE]
        [--operator-manifests FILE] [--project-dir DIR]

Writes OUT/STACK/resources.json (every resource, secrets shown as "[secret]"), OUT/STACK/manifests.yaml
(every Kubernetes object, Secret data redacted), OUT/STACK/outputs.json (stack outputs, redacted;
a value the offline engine made up, such as an ARN, an endpoint or a revision, is written as
{"offline": value}) and OUT/STACK/policy.json (the guardrails the stack waives). Needs no cloud
account, no Pulumi CLI and no network; two runs give byte-identical files.
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
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError

from eks_gitops import policy
from eks_gitops.flux.release import InstallManifest
from eks_gitops.program import declare, flux_manifest, operator_manifest, pin_command
from eks_gitops.settings.environments import (
    check_cluster_names,
    project_cluster_names,
    read_environments,
)
from eks_gitops.settings.model import (
    MANIFESTS_SHA256_KEY,
    OPERATOR_INSTALLER,
    PROJECT,
    StackConfig,
)
from eks_gitops.settings.parse import (
    check_credentials_in_clear,
    check_secrets,
    parse_stack_config,
    secret_setting_names,
    secret_settings,
)
from eks_gitops.urns import type_and_name
from tools.offline.engine import (
    DISABLE_DEFAULT_PROVIDERS_KEY,
    ProgramRun,
    RecordedResource,
    run_program,
)
from tools.offline.guardrails import declared_from_graph
from tools.offline.wire import SECRET_MARK, redact, string_leaves
from tools.paths import REPO_ROOT, stack_filename

# Stack files never hold credentials in clear; the plan stands in for them with marked placeholders.
PLACEHOLDER_SECRET = "plan-placeholder"
# outputs.json wraps a value the offline engine made up as {OFFLINE_MARK: value}.
OFFLINE_MARK = "offline"


class PlanError(Exception):
    """The stack cannot be planned; the message says why in one line."""


@dataclass
class Plan:
    stack: str
    settings: StackConfig
    run: ProgramRun
    manifest: InstallManifest | None
    """The Flux release manifest the toolkit was expanded from; None leaves it unexpanded."""
    operator: InstallManifest | None = None
    """The Flux Operator's release manifest (operator installer); None leaves it unexpanded."""

    def resources(self) -> list[dict[str, Any]]:
        return [
            resource_entry(resource) for resource in sorted(self.run.resources, key=lambda r: r.urn)
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

    def marked_outputs(self) -> dict[str, Any]:
        """`outputs()` as outputs.json shows them: each value that holds something the offline
        engine made up (an id, ARN, endpoint, key or revision; a kubeconfig naming a made-up
        endpoint) wrapped as {"offline": value}, so nobody takes it for a real one."""
        made_up = self.run.made_up
        return {
            name: {OFFLINE_MARK: value}
            if any(
                invented in leaf
                for leaf in string_leaves(self.run.stack_outputs[name])
                for invented in made_up
            )
            else value
            for name, value in self.outputs().items()
        }


def resource_entry(resource: RecordedResource) -> dict[str, Any]:
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
        known = sorted(
            name.removeprefix("Pulumi.").removesuffix(".yaml")
            for name in (candidate.name for candidate in project_dir.glob(stack_filename("*")))
        )
        raise PlanError(f"no stack {stack} (no {path.name}); the stacks are {', '.join(known)}")
    try:
        # ruamel.yaml refuses a key given twice in one mapping, as the Pulumi CLI does; PyYAML
        # would keep the last one silently.
        document = YAML(typ="safe", pure=True).load(path.read_text())
    except DuplicateKeyError as error:
        mark = error.problem_mark
        key = str(error.problem).split('"')[1] if '"' in str(error.problem) else "a key"
        raise PlanError(
            f"{path.name} line {mark.line + 1}: {key} is set twice in one mapping; "
            "keep one (the Pulumi CLI refuses the file)"
        ) from None
    except YAMLError as error:
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
    if DISABLE_DEFAULT_PROVIDERS_KEY in document.get("config", {}):
        raise PlanError(
            f"{path.name}: {DISABLE_DEFAULT_PROVIDERS_KEY} belongs to Pulumi.yaml, which disables "
            "every default provider for all stacks; remove it from the stack file"
        )
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


def _encrypted(value: object) -> bool:
    """Whether a stack file holds a value as ciphertext (`secure: ...`), as `--secret` writes it."""
    return isinstance(value, dict) and set(value) == {"secure"}


def plan_stack(
    stack: str,
    *,
    project_dir: Path = REPO_ROOT,
    flux_manifests: Path | None = None,
    operator_manifests: Path | None = None,
    secret_values: Mapping[str, str] | None = None,
    material_seed: str | None = None,
) -> Plan:
    """Plan a stack as `pulumi up` would run it: its settings parsed once from the stack file, its
    secrets checked the way the program checks them and given as placeholders (or `secret_values`,
    by full key: `eks-gitops:githubStatusToken`), and the Flux manifest from `flux_manifests`, the stack's own file or the cache, if any.
    `material_seed` replaces the stack name as what the mock engine derives ids, ARNs and keys from."""
    document = stack_config(project_dir, stack)
    values = {**project_config(project_dir), **(document.get("config") or {})}
    prefix = f"{PROJECT}:"
    # `secure:` ciphertext is a mapping in the file, a credential in clear a plain value.
    encrypted = {
        key for key, value in values.items() if key.startswith(prefix) and _encrypted(value)
    }
    try:
        environments = read_environments(project_dir)
        settings = parse_stack_config(
            {key: value for key, value in values.items() if key not in encrypted},
            stack,
            environments,
        )
        check_cluster_names(project_cluster_names(environments, project_dir))
        check_credentials_in_clear(key for key, value in values.items() if not _encrypted(value))
        # A needed secret the file lacks (it is set per deployment) is planned as a placeholder.
        set_in_file = {
            key.removeprefix(prefix): key in encrypted
            for key in values
            if key.startswith(prefix)
            and (key in encrypted or key.removeprefix(prefix) in secret_setting_names(settings))
        }
        check_secrets(
            settings.secret_keys, {**dict.fromkeys(settings.secret_keys, True), **set_in_file}
        )
    except pulumi.RunError as error:
        raise PlanError(str(error)) from None
    given = secret_values or {}
    manifest: InstallManifest | None = None
    operator: InstallManifest | None = None

    def program() -> None:
        # Inside the run, so that what obtaining the manifest logs is the run's log, as in `up`.
        nonlocal manifest, operator
        manifest = flux_manifest(settings, file=flux_manifests, download=False)
        operator = operator_manifest(settings, file=operator_manifests, download=False)
        secrets = secret_settings(
            settings,
            lambda key: pulumi.Output.secret(given.get(f"{PROJECT}:{key}", PLACEHOLDER_SECRET)),
        )
        declare(settings, secrets, manifest, operator)

    # Pulumi hands config to the engine as strings: objects and lists as JSON.
    engine_config = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
        if not _encrypted(value)
    }
    try:
        run = run_program(
            program,
            project=PROJECT,
            stack=stack,
            config=engine_config,
            material_seed=material_seed,
        )
    except pulumi.RunError as error:
        raise PlanError(str(error)) from None
    # The mock engine does not call stack transforms, so the per-resource guardrails the real engine
    # applies during the run are checked here, over what the program declared.
    violations = policy.check_resources(settings, declared_from_graph(run.resources))
    if violations:
        raise PlanError("\n".join(str(violation) for violation in violations))
    return Plan(stack, settings, run, manifest, operator)


def _dump_yaml(objects: list[dict[str, Any]]) -> str:
    return (
        yaml.safe_dump_all(objects, sort_keys=True, default_flow_style=False, width=120)
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
        json.dumps(plan.marked_outputs(), indent=2, sort_keys=True) + "\n"
    )
    # The waivers change what the stack is allowed to declare; a comparison of two plans shows them.
    (target / "policy.json").write_text(
        json.dumps({"relax": list(plan.settings.policy.relax)}, indent=2) + "\n"
    )
    return target


def summary(plan: Plan, target: Path) -> str:
    counts = Counter(resource.type for resource in plan.run.resources)
    lines = [f"plan of stack {plan.stack}: {len(plan.run.resources)} resources"]
    lines += [f"  {count:4d}  {type_token}" for type_token, count in sorted(counts.items())]
    if plan.manifest is None:
        lines.append(
            f"  toolkit NOT expanded: the Flux {plan.settings.toolkit.version} install manifest is not "
            "available offline; pass --flux-manifests FILE to see every toolkit object"
        )
    toolkit = plan.settings.toolkit
    if toolkit.installer == OPERATOR_INSTALLER and plan.operator is None:
        lines.append(
            "  operator NOT expanded: the Flux Operator install manifest is not available offline; "
            "pass --operator-manifests FILE to see every operator object"
        )
    if plan.settings.toolkit.manifests_sha256 is None:
        consequence = (
            "`pulumi up` refuses to apply it on this production stack"
            if plan.settings.is_production
            else "a run trusts whatever it downloads"
        )
        lines.append(
            f"  toolkit manifest NOT pinned ({MANIFESTS_SHA256_KEY} unset): {consequence}; "
            f"pin it with {pin_command(plan.stack)}"
        )
    lines += [f"  {line}" for line in plan.run.logs if line.startswith(("warning", "error"))]
    lines.append(
        f"  written to {target}/ (resources.json, manifests.yaml, outputs.json, policy.json)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--stack",
        required=True,
        help=f"the stack to plan: {', '.join(read_environments().names)} (environments.yaml)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "build" / "plan",
        help="where STACK/ is written (default: build/plan)",
    )
    parser.add_argument(
        "--flux-manifests",
        type=Path,
        help="a Flux install.yaml to expand the toolkit from (default: toolkit.manifestsFile or "
        "the download cache; without one the toolkit is listed as not expanded)",
    )
    parser.add_argument(
        "--operator-manifests",
        type=Path,
        help="a Flux Operator install.yaml to expand the operator from (operator installer)",
    )
    parser.add_argument(
        "--material-seed",
        help="derive generated ids, ARNs and keys from this instead of the stack name, so that "
        "two stacks planned with one seed differ only where their settings do",
    )
    parser.add_argument("--project-dir", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for option, path in (
        ("--flux-manifests", args.flux_manifests),
        ("--operator-manifests", args.operator_manifests),
    ):
        if path is not None and not path.is_file():
            print(f"error: {option} {path}: no such file", file=sys.stderr)
            return 2
    try:
        plan = plan_stack(
            args.stack,
            project_dir=args.project_dir,
            flux_manifests=args.flux_manifests,
            operator_manifests=args.operator_manifests,
            material_seed=args.material_seed,
        )
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    target = write_plan(plan, args.out)
    print(summary(plan, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
