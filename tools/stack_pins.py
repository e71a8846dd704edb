"""The infrastructure pins of a stack file, and setting values in a stack file's text.

A pin is a setting every environment should run at the same value once it has proved itself in the
one before: the Flux release (`toolkit.version`, with its `toolkit.manifestsSha256` when pinned),
the Kubernetes version and the EKS add-on versions. Everything else in a stack file (region,
sizes, CIDRs, branch, names) belongs to its environment and is never promoted.

The stack files are edited as text, not dumped from a parsed form, so their comments, order, quoting
and line endings stay as they were; every edit is checked against PyYAML's reading of the result.
Pure: text in, text out.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

from eks_gitops.settings.model import EKS_ADDONS, PROJECT

KeyPath = tuple[str, ...]
"""A key's path from the document root, e.g. ("config", "eks-gitops:toolkit", "version")."""

TOOLKIT: Final = ("config", f"{PROJECT}:toolkit")
CLUSTER: Final = ("config", f"{PROJECT}:cluster")
FLUX_VERSION: Final = (*TOOLKIT, "version")
FLUX_DIGEST: Final = (*TOOLKIT, "manifestsSha256")
PIN_PATHS: Final = (
    FLUX_VERSION,
    FLUX_DIGEST,
    (*CLUSTER, "kubernetesVersion"),
    *((*CLUSTER, "addons", name) for name in EKS_ADDONS),
)


class PinError(Exception):
    """A stack file cannot be edited or promoted as asked; the message says why."""


def config_key(path: KeyPath) -> str:
    """How the settings and their errors name a key: `eks-gitops:toolkit.version`."""
    return ".".join(path[1:])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


@dataclass(frozen=True)
class _Block:
    """The lines of one block mapping: its keys sit at `indent` in lines[start:end]."""

    start: int
    end: int
    indent: int


def _block_under(lines: list[str], number: int) -> _Block | None:
    """The block mapping under the key in lines[number], or None when its value is inline."""
    outer = _indent(lines[number])
    end = number + 1
    indent: int | None = None
    for later in range(number + 1, len(lines)):
        if not _is_content(lines[later]):
            continue
        if _indent(lines[later]) <= outer:
            break
        if indent is None:
            indent = _indent(lines[later])
        end = later + 1
    return None if indent is None else _Block(number + 1, end, indent)


def _key_line(lines: list[str], block: _Block, key: str) -> int | None:
    pattern = re.compile(rf"^ {{{block.indent}}}{re.escape(key)}:(\s|$)")
    found = [n for n in range(block.start, block.end) if pattern.match(lines[n])]
    if len(found) > 1:
        raise PinError(f"`{key}` appears {len(found)} times in one mapping")
    return found[0] if found else None


def _scalar(value: str, written: str | None) -> str:
    """value as a YAML scalar, in the quoting style of the value it replaces where that reads back."""
    if written is not None and written.startswith("'"):
        return "'" + value.replace("'", "''") + "'"
    if written and not written.startswith('"') and yaml.safe_load(value) == value:
        return value
    # JSON's double-quoted strings are YAML's too.
    return json.dumps(value)


_LEAF_VALUE = re.compile(
    r"""^(?P<key>[^:]*: *)(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#]*)(?P<rest>.*)$""", re.S
)


def _set(lines: list[str], path: KeyPath, value: str) -> None:
    block = _Block(0, len(lines), 0)
    for depth, key in enumerate(path[:-1]):
        number = _key_line(lines, block, key)
        if number is None:
            raise PinError(
                f"the stack file has no `{'.'.join(path[: depth + 1])}` to set {config_key(path)} in"
            )
        under = _block_under(lines, number)
        if under is None:
            raise PinError(f"`{key}:` has no block mapping under it")
        block = under
    number = _key_line(lines, block, path[-1])
    if number is not None:
        match = _LEAF_VALUE.match(lines[number])
        if match is None:
            raise PinError(f"cannot read the value of {config_key(path)} in its line")
        lines[number] = match["key"] + _scalar(value, match["value"]) + match["rest"]
        return
    last = block.end - 1
    ending = re.search(r"\r?\n$", lines[last])
    newline = ending.group(0) if ending else "\n"
    if not ending:
        lines[last] += newline
    lines.insert(last + 1, f"{' ' * block.indent}{path[-1]}: {_scalar(value, None)}{newline}")


def with_values(text: str, values: Mapping[KeyPath, str]) -> str:
    """text with the scalar at each key path set: a value there is replaced in its line, a key its
    mapping lacks is added as that mapping's last line. Nothing else changes."""
    lines = text.splitlines(keepends=True)
    for path, value in values.items():
        _set(lines, path, value)
    edited = "".join(lines)
    expected: Any = copy.deepcopy(yaml.safe_load(text))
    for path, value in values.items():
        mapping = expected
        for key in path[:-1]:
            mapping = mapping[key]
        mapping[path[-1]] = value
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


@dataclass(frozen=True)
class PinChange:
    path: KeyPath
    old: str | None
    new: str


@dataclass(frozen=True)
class StackPromotion:
    changes: tuple[PinChange, ...]
    text: str


def plan_stack_promotion(
    source_text: str, target_text: str, source: str, target: str
) -> StackPromotion:
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
    changes = tuple(
        PinChange(path, target_pins.get(path), value)
        for path, value in source_pins.items()
        if target_pins.get(path) != value
    )
    text = with_values(target_text, {change.path: change.new for change in changes})
    return StackPromotion(changes, text)
