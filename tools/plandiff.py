"""Compare two offline plans: what a change (or the next environment) adds, removes, changes and
replaces, field by field, as Markdown for a pull request or a job summary.

    python -m tools.plandiff BASE_DIR HEAD_DIR [--normalise] [--title TEXT]

Each directory is one stack's `python -m tools.plan` output (resources.json, manifests.yaml,
outputs.json, policy.json). Resources are matched by URN (or by an alias the head declares for the
base URN), Kubernetes objects by apiVersion, kind, namespace and name. A changed resource is shown
as replaced when a changed input is one its `replaceOnChanges` names or one the provider replaces
on (FORCE_NEW below), unless its `ignoreChanges` covers that input (then the change is marked as
not applied). With --normalise each directory's name is taken as its stack name and
replaced by `<stack>` wherever it stands as a word, so two environments' plans differ only where
their settings do, not in every URN, ARN and name that carries the stack.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml
from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

from eks_gitops.urns import type_and_name

RESOURCES_FILE: Final = "resources.json"
MANIFESTS_FILE: Final = "manifests.yaml"
OUTPUTS_FILE: Final = "outputs.json"
POLICY_FILE: Final = "policy.json"
STACK_MARK: Final = "<stack>"

# Inputs whose change the provider carries out as a replacement, beyond what a resource's own
# `replaceOnChanges` says, in Pulumi's input names (dotted paths into the inputs).
# - pulumi-aws wraps the Terraform AWS provider; its schema marks these ForceNew:
#   hashicorp/terraform-provider-aws internal/service/eks/node_group.go (resourceNodeGroup:
#   ami_type, capacity_type, cluster_name, disk_size, instance_types, launch_template.id/.name,
#   node_group_name(_prefix), node_role_arn, remote_access, subnet_ids), internal/service/eks/cluster.go
#   (name, role_arn, vpc_config.subnet_ids/.security_group_ids), internal/service/eks/addon.go
#   (addon_name, cluster_name).
# - pulumi-github wraps integrations/terraform-provider-github; github/resource_github_repository_deploy_key.go
#   marks key, read_only, repository and title ForceNew ("Deploy keys are defined immutable in the API").
# - pulumi-kubernetes provider/pkg/provider/diff.go `forceNewProperties`: metadata.name and
#   metadata.namespace of every object (KUBERNETES_FORCE_NEW).
FORCE_NEW: Final[Mapping[str, tuple[str, ...]]] = {
    "aws:eks/nodeGroup:NodeGroup": (
        "amiType",
        "capacityType",
        "clusterName",
        "diskSize",
        "instanceTypes",
        "launchTemplate.id",
        "launchTemplate.name",
        "nodeGroupName",
        "nodeGroupNamePrefix",
        "nodeRoleArn",
        "remoteAccess",
        "subnetIds",
    ),
    "aws:eks/cluster:Cluster": (
        "name",
        "roleArn",
        "vpcConfig.subnetIds",
        "vpcConfig.securityGroupIds",
    ),
    "aws:eks/addon:Addon": ("addonName", "clusterName"),
    "github:index/repositoryDeployKey:RepositoryDeployKey": (
        "key",
        "readOnly",
        "repository",
        "title",
    ),
}
KUBERNETES_FORCE_NEW: Final = ("metadata.name", "metadata.namespace")


class PlanDirError(Exception):
    """A plan directory is missing or unreadable; the message says which file."""


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any
    new: Any
    """Either is ABSENT when the field was added or removed."""


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Final = _Absent()


@dataclass(frozen=True)
class Change:
    kind: str
    """added, removed, changed or replaced"""
    subject: str
    fields: tuple[FieldChange, ...] = ()
    forcing: tuple[str, ...] = ()
    """For a replacement: the changed inputs that force it."""
    note: str = ""


@dataclass(frozen=True)
class PlanFiles:
    resources: dict[str, dict[str, Any]]
    """By URN."""
    objects: dict[str, dict[str, Any]]
    """Kubernetes objects by `apiVersion kind namespace/name`."""
    outputs: dict[str, Any]
    relaxed: tuple[str, ...] | None
    """The guardrails the stack waives; None for a plan written before policy.json existed."""


@dataclass
class PlanDiff:
    resources: list[Change] = field(default_factory=list)
    objects: list[Change] = field(default_factory=list)
    outputs: list[FieldChange] = field(default_factory=list)
    relaxed_before: tuple[str, ...] = ()
    relaxed_after: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.resources
            or self.objects
            or self.outputs
            or self.relaxed_before != self.relaxed_after
        )


def normalised(value: Any, stack: str) -> Any:
    """`value` with the stack name, where it stands as a word (`urn:pulumi:dev::`, `gitops-dev`,
    `clusters/dev`, not `device`), replaced by STACK_MARK. Between two slashes it is a directory
    (`/dev/xvda`), not the stack, and stays."""
    word = re.escape(stack)
    pattern = re.compile(rf"(?<![A-Za-z0-9/]){word}(?![A-Za-z0-9])|(?<=/){word}(?![A-Za-z0-9/])")

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(STACK_MARK, item)
        if isinstance(item, dict):
            return {walk(key): walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value)


def object_key(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace = metadata.get("namespace")
    where = f"{namespace}/{metadata.get('name')}" if namespace else str(metadata.get("name"))
    return f"{obj.get('apiVersion')} {obj.get('kind')} {where}"


def objects_by_key(documents: Iterable[Any]) -> dict[str, dict[str, Any]]:
    return {object_key(doc): doc for doc in documents if isinstance(doc, dict)}


def _read(directory: Path, name: str) -> str:
    try:
        return (directory / name).read_text()
    except OSError as error:
        raise PlanDirError(f"{directory / name}: {error.strerror or error}") from None


def load_plan_dir(directory: Path, *, normalise: bool = False) -> PlanFiles:
    resources = json.loads(_read(directory, RESOURCES_FILE))
    objects = list(yaml.safe_load_all(_read(directory, MANIFESTS_FILE)))
    outputs = json.loads(_read(directory, OUTPUTS_FILE))
    policy_path = directory / POLICY_FILE
    relaxed = (
        tuple(json.loads(policy_path.read_text()).get("relax", ()))
        if policy_path.is_file()
        else None
    )
    if normalise:
        resources, objects, outputs = normalised([resources, objects, outputs], directory.name)
    return PlanFiles(
        resources={entry["urn"]: entry for entry in resources},
        objects=objects_by_key(objects),
        outputs=outputs,
        relaxed=relaxed,
    )


def _render_path(elements: Sequence[Any]) -> str:
    text = ""
    for element in elements:
        text += f"[{element}]" if isinstance(element, int) else f".{element}"
    return text.lstrip(".")


def field_changes(old: Any, new: Any) -> list[FieldChange]:
    """Every leaf that differs, by path (`inputs.scalingConfig.minSize`, `spec.values[0]`)."""
    tree = DeepDiff(old, new, view="tree", verbose_level=2)
    changes = [
        FieldChange(
            _render_path(level.path(output_format="list")),
            ABSENT if isinstance(level.t1, NotPresent) else level.t1,
            ABSENT if isinstance(level.t2, NotPresent) else level.t2,
        )
        for levels in tree.values()
        for level in levels
    ]
    return sorted(changes, key=lambda change: change.path)


def _covers(rule: str, path: str) -> bool:
    return rule in ("*", path) or path.startswith((f"{rule}.", f"{rule}["))


def changed_inputs(changes: Iterable[FieldChange]) -> list[str]:
    return [c.path.removeprefix("inputs.") for c in changes if c.path.startswith("inputs.")]


def ignored_inputs(entry: Mapping[str, Any], changes: Iterable[FieldChange]) -> tuple[str, ...]:
    """The changed inputs the resource's `ignoreChanges` covers: the engine keeps the old values."""
    rules = entry.get("ignoreChanges") or ()
    return tuple(
        dict.fromkeys(
            path for path in changed_inputs(changes) if any(_covers(r, path) for r in rules)
        )
    )


def forcing_inputs(entry: Mapping[str, Any], changes: Iterable[FieldChange]) -> tuple[str, ...]:
    """The changed inputs of a resource the engine will replace it over (none it ignores)."""
    resource_type = str(entry.get("type", ""))
    rules = [
        *(entry.get("replaceOnChanges") or ()),
        *FORCE_NEW.get(resource_type, ()),
        *(KUBERNETES_FORCE_NEW if resource_type.startswith("kubernetes:") else ()),
    ]
    changes = list(changes)
    ignored = set(ignored_inputs(entry, changes))
    return tuple(
        dict.fromkeys(
            path
            for path in changed_inputs(changes)
            if path not in ignored and any(_covers(rule, path) for rule in rules)
        )
    )


def _subject(urn: str) -> str:
    return type_and_name(urn)


def diff_resources(
    base: Mapping[str, Mapping[str, Any]], head: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    # A head resource that names a base URN among its aliases is that resource, renamed.
    renamed = {
        alias: urn
        for urn, entry in head.items()
        for alias in entry.get("aliases") or ()
        if alias in base and alias not in head
    }
    changes: list[Change] = []
    for urn in sorted(base.keys() - head.keys() - renamed.keys()):
        changes.append(Change("removed", _subject(urn)))
    matched = [(urn, urn) for urn in sorted(base.keys() & head.keys())]
    matched += sorted(renamed.items())
    for old_urn, new_urn in matched:
        old = {k: v for k, v in base[old_urn].items() if k not in ("urn", "aliases")}
        new = {k: v for k, v in head[new_urn].items() if k not in ("urn", "aliases")}
        fields = tuple(field_changes(old, new))
        notes = [f"renamed from `{_subject(old_urn)}` (alias)"] if old_urn != new_urn else []
        if not fields and not notes:
            continue
        ignored = ignored_inputs(head[new_urn], fields)
        if ignored:
            shown = ", ".join(f"`{path}`" for path in ignored)
            notes.append(f"not applied (ignoreChanges): {shown}")
        note = "<br>".join(notes)
        forcing = forcing_inputs(head[new_urn], fields)
        kind = "replaced" if forcing else "changed"
        changes.append(Change(kind, _subject(new_urn), fields, forcing, note))
    taken = set(renamed.values())
    for urn in sorted(head.keys() - base.keys() - taken):
        changes.append(Change("added", _subject(urn)))
    return changes


def diff_objects(
    base: Mapping[str, Mapping[str, Any]], head: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    changes = [Change("removed", key) for key in sorted(base.keys() - head.keys())]
    for key in sorted(base.keys() & head.keys()):
        fields = tuple(field_changes(dict(base[key]), dict(head[key])))
        if fields:
            changes.append(Change("changed", key, fields))
    changes += [Change("added", key) for key in sorted(head.keys() - base.keys())]
    return changes


def diff_plans(base: PlanFiles, head: PlanFiles) -> PlanDiff:
    return PlanDiff(
        resources=diff_resources(base.resources, head.resources),
        objects=diff_objects(base.objects, head.objects),
        outputs=field_changes(base.outputs, head.outputs),
        relaxed_before=base.relaxed or (),
        relaxed_after=head.relaxed or (),
    )


# Markdown -------------------------------------------------------------------------------------

MAX_VALUE_CHARS: Final = 80
MAX_FIELDS_SHOWN: Final = 12
SYMBOLS: Final = {"added": "+ added", "removed": "- removed", "changed": "~ changed"}
SYMBOLS_REPLACED: Final = "± **replaced**"


def _value(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, default=str)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_field(change: FieldChange) -> str:
    return f"`{_cell(change.path)}`: `{_cell(_value(change.old))}` → `{_cell(_value(change.new))}`"


def _fields_cell(change: Change) -> str:
    parts = [change.note] if change.note else []
    if change.forcing:
        parts.append("forces replacement: " + ", ".join(f"`{path}`" for path in change.forcing))
    shown = change.fields[:MAX_FIELDS_SHOWN]
    parts += [render_field(item) for item in shown]
    if len(change.fields) > len(shown):
        parts.append(f"… and {len(change.fields) - len(shown)} more")
    return "<br>".join(parts)


def _counts(changes: Sequence[Change]) -> str:
    order = ("added", "removed", "changed", "replaced")
    return ", ".join(f"{sum(c.kind == kind for c in changes)} {kind}" for kind in order)


def _table(changes: Sequence[Change], subject: str) -> list[str]:
    lines = [f"| change | {subject} | fields |", "|---|---|---|"]
    for change in changes:
        symbol = SYMBOLS_REPLACED if change.kind == "replaced" else SYMBOLS[change.kind]
        lines.append(f"| {symbol} | `{_cell(change.subject)}` | {_fields_cell(change)} |")
    return lines


def waiver_lines(diff: PlanDiff) -> list[str]:
    """The guardrails the head waives, each marked new or kept, and those it stops waiving: a
    reviewer must see a waiver whether or not the resources change with it."""
    before, after = set(diff.relaxed_before), set(diff.relaxed_after)
    if not before and not after:
        return []
    marks = [
        f"`{rule}` ({'**new**' if rule not in before else 'kept'})" for rule in diff.relaxed_after
    ]
    marks += [f"~~`{rule}`~~ (no longer waived)" for rule in sorted(before - after)]
    return [f"**Guardrails waived** (`eks-gitops:policy.relax`): {', '.join(marks)}", ""]


def render_markdown(diff: PlanDiff, title: str) -> str:
    lines = [f"### {title}", ""]
    lines += waiver_lines(diff)
    if diff.empty:
        lines.append("No differences.")
        return "\n".join(lines) + "\n"
    if diff.resources:
        lines += [f"**Resources**: {_counts(diff.resources)}", ""]
        lines += [*_table(diff.resources, "resource"), ""]
    if diff.objects:
        lines += [f"**Kubernetes objects**: {_counts(diff.objects)}", ""]
        lines += [*_table(diff.objects, "object"), ""]
    if diff.outputs:
        lines += ["**Stack outputs**:", ""]
        lines += [f"- {render_field(change)}" for change in diff.outputs]
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plandiff", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("base", type=Path)
    parser.add_argument("head", type=Path)
    parser.add_argument(
        "--normalise",
        action="store_true",
        help="replace each directory's name (its stack) by <stack> before comparing",
    )
    parser.add_argument("--title", help="the heading (default: the two directories)")
    args = parser.parse_args(argv)
    try:
        base = load_plan_dir(args.base, normalise=args.normalise)
        head = load_plan_dir(args.head, normalise=args.normalise)
    except (PlanDirError, ValueError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    title = args.title or f"Plan comparison: `{args.base}` → `{args.head}`"
    print(render_markdown(diff_plans(base, head), title), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
