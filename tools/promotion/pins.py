"""The pins an environment hands on, and editing them in place.

A pin is a setting every environment should run at the same value once it has proved itself in the
one before: in the stack file the Flux release (`toolkit.version`, with its `toolkit.manifestsSha256`
when pinned), the Kubernetes version and the EKS add-on versions; in the cluster's `versions.env` the
chart versions. Everything else (region, sizes, CIDRs, branch, names) belongs to its environment and
is never promoted.

Stack files are edited with ruamel.yaml's round trip, which keeps comments, order, quoting and flow
style, so only the values set change; every edit is checked against PyYAML's reading of the result.
`versions.env` is a dotenv file (kustomize's `envs`), edited line by line. Pure: text in, text out.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString

from eks_gitops.settings.model import EKS_ADDONS, PROJECT

KeyPath = tuple[str, ...]
"""A key's path from the document root, e.g. ("config", "eks-gitops:toolkit", "version")."""

TOOLKIT: Final = ("config", f"{PROJECT}:toolkit")
CLUSTER: Final = ("config", f"{PROJECT}:cluster")
FLUX_VERSION: Final = (*TOOLKIT, "version")
FLUX_DIGEST: Final = (*TOOLKIT, "manifestsSha256")
KUBERNETES_VERSION: Final = (*CLUSTER, "kubernetesVersion")
ADDON_VERSIONS: Final = tuple((*CLUSTER, "addons", name) for name in EKS_ADDONS)
PIN_PATHS: Final = (FLUX_VERSION, FLUX_DIGEST, KUBERNETES_VERSION, *ADDON_VERSIONS)
VERSIONS_FILENAME: Final = "versions.env"


class PinError(Exception):
    """A file cannot be edited or promoted as asked; the message says why."""


def config_key(path: KeyPath) -> str:
    """How the settings and their errors name a key: `eks-gitops:toolkit.version`."""
    return ".".join(path[1:])


def _round_trip() -> YAML:
    editor = YAML()
    editor.preserve_quotes = True
    # Never fold a long line (a comment or a digest) that was written on one.
    editor.width = 4096
    editor.indent(mapping=2, sequence=4, offset=2)
    return editor


def _like(written: object, value: str) -> str:
    """value in the quoting of the value it replaces (`"1.35"` stays double-quoted, a plain value
    plain where it reads back as text); a new value double-quoted, as the stack files quote pins."""
    styled: str
    if isinstance(written, ScalarString):
        styled = type(written)(value)
    elif written is not None and yaml.safe_load(value) == value:
        styled = value
    else:
        styled = DoubleQuotedScalarString(value)
    return styled


def _trailing_comment(mapping: CommentedMap) -> tuple[list[Any], int] | None:
    """Where ruamel keeps the comment after a mapping's last line: what follows that line (blank
    lines, the next section's heading) is stored with the last key or the last item below it."""
    if not mapping:
        return None
    last = list(mapping)[-1]
    value = mapping[last]
    own = mapping.ca.items.get(last)
    if own and own[2] is not None:
        return own, 2
    if isinstance(value, CommentedMap):
        return _trailing_comment(value)
    if isinstance(value, CommentedSeq) and value:
        below = value.ca.items.get(len(value) - 1)
        if below and below[0] is not None:
            return below, 0
    return None


def _append(mapping: CommentedMap, key: str, value: str) -> None:
    """Add key as the mapping's last key, keeping what followed the mapping after it."""
    holder = _trailing_comment(mapping)
    mapping[key] = value
    if holder is None:
        return
    slots, index = holder
    comment = slots[index]
    line_end, newline, following = comment.value.partition("\n")
    if not following:
        return
    comment.value = line_end + newline
    moved = copy.copy(comment)
    moved.value = "\n" + following
    mapping.ca.items[key] = [None, None, moved, None]


def with_values(text: str, values: Mapping[KeyPath, str]) -> str:
    """text with the scalar at each key path set: a value there is replaced, a key its mapping
    lacks is added as that mapping's last key. Nothing else changes."""
    # ruamel writes "\n"; a file written with "\r\n" gets its own line endings back.
    newline = "\r\n" if "\r\n" in text else "\n"
    editor = _round_trip()
    document = editor.load(text.replace("\r\n", "\n"))
    for path, value in values.items():
        mapping: Any = document
        for depth, key in enumerate(path[:-1]):
            mapping = mapping.get(key) if isinstance(mapping, CommentedMap) else None
            if not isinstance(mapping, CommentedMap):
                raise PinError(
                    f"the stack file has no `{'.'.join(path[: depth + 1])}` mapping "
                    f"to set {config_key(path)} in"
                )
        if path[-1] in mapping:
            mapping[path[-1]] = _like(mapping[path[-1]], value)
        else:
            _append(mapping, path[-1], _like(None, value))
    out = io.StringIO()
    editor.dump(document, out)
    edited = out.getvalue().replace("\n", newline)
    expected: Any = copy.deepcopy(yaml.safe_load(text))
    for path, value in values.items():
        target = expected
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    if yaml.safe_load(edited) != expected:
        names = ", ".join(config_key(path) for path in values)
        raise PinError(f"could not set {names} without changing anything else; set it by hand")
    return edited


def stack_pins(document: Mapping[str, Any]) -> dict[KeyPath, str]:
    """The pins a parsed stack file sets (absent ones left out)."""
    pins: dict[KeyPath, str] = {}
    for path in PIN_PATHS:
        value: Any = document
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value:
            pins[path] = value
    return pins


_ENV_LINE = re.compile(
    r"^(?P<lead>\s*)(?P<key>[_a-zA-Z][_a-zA-Z0-9]*)(?P<sep>\s*=\s*)(?P<value>[^\s#]*)(?P<rest>.*)$"
)


def chart_pins(text: str) -> dict[str, str]:
    """The `KEY=value` pins of a versions.env file."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = _ENV_LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            pins[match["key"]] = match["value"]
    return pins


def with_chart_pins(text: str, pins: Mapping[str, str]) -> str:
    """text with the values of the keys in pins replaced, and every other character kept."""
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = _ENV_LINE.match(body)
        if match and not body.lstrip().startswith("#") and match["key"] in pins:
            replaced = match["lead"] + match["key"] + match["sep"] + pins[match["key"]]
            lines[number] = replaced + match["rest"] + line[len(body) :]
    return "".join(lines)


@dataclass(frozen=True)
class PinChange:
    name: str
    """`eks-gitops:cluster.kubernetesVersion`, or a versions.env key."""
    old: str | None
    new: str


@dataclass(frozen=True)
class EditedFile:
    changes: tuple[PinChange, ...]
    text: str


def promoted_stack(source_text: str, target_text: str, source: str, target: str) -> EditedFile:
    """target_text with source_text's pins. A digest belongs to its version: the source's digest
    moves with the version, and a target digest is never left beside another version."""
    source_pins = stack_pins(yaml.safe_load(source_text))
    target_pins = stack_pins(yaml.safe_load(target_text))
    version_moves = source_pins.get(FLUX_VERSION) != target_pins.get(FLUX_VERSION)
    if version_moves and FLUX_DIGEST in target_pins and FLUX_DIGEST not in source_pins:
        raise PinError(
            f"{source} runs Flux {source_pins.get(FLUX_VERSION)} without {config_key(FLUX_DIGEST)}, "
            f"and {target}'s digest is for {target_pins.get(FLUX_VERSION)}: "
            f"pin {source} first (make pin-flux STACK={source})"
        )
    moved = {path: value for path, value in source_pins.items() if target_pins.get(path) != value}
    return EditedFile(
        tuple(
            PinChange(config_key(path), target_pins.get(path), new) for path, new in moved.items()
        ),
        with_values(target_text, moved),
    )


@dataclass(frozen=True)
class ChartPromotion(EditedFile):
    not_pinned: tuple[str, ...]
    """Pinned by the source only: charts the target does not run, left out."""


def promoted_charts(source_text: str, target_text: str) -> ChartPromotion:
    source, target = chart_pins(source_text), chart_pins(target_text)
    moved = {key: value for key, value in source.items() if key in target and target[key] != value}
    return ChartPromotion(
        tuple(PinChange(key, target[key], value) for key, value in moved.items()),
        with_chart_pins(target_text, moved),
        tuple(key for key in source if key not in target),
    )
