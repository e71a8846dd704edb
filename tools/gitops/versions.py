"""The chart versions a cluster pins (`versions.env`) and moving them between environments."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from eks_gitops.settings.model import ENVIRONMENTS

VERSIONS_FILENAME = "versions.env"

_PIN = re.compile(
    r"^(?P<lead>\s*)(?P<key>[_a-zA-Z][_a-zA-Z0-9]*)(?P<sep>\s*=\s*)(?P<value>[^\s#]*)(?P<rest>.*)$"
)


def read_pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN.match(line)
        if match and not line.lstrip().startswith("#"):
            pins[match["key"]] = match["value"]
    return pins


def with_pins(text: str, pins: Mapping[str, str]) -> str:
    """text with the values of the keys in pins replaced, and every other character kept."""
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = _PIN.match(body)
        if match and not body.lstrip().startswith("#") and match["key"] in pins:
            replaced = match["lead"] + match["key"] + match["sep"] + pins[match["key"]]
            lines[number] = replaced + match["rest"] + line[len(body) :]
    return "".join(lines)


@dataclass(frozen=True)
class Change:
    key: str
    old: str
    new: str


@dataclass(frozen=True)
class Promotion:
    changes: tuple[Change, ...]
    # Pinned by the source only: a chart the target does not run, left out.
    not_pinned: tuple[str, ...]
    text: str


def plan_promotion(source_text: str, target_text: str) -> Promotion:
    source, target = read_pins(source_text), read_pins(target_text)
    changes = tuple(
        Change(key, target[key], value)
        for key, value in source.items()
        if key in target and target[key] != value
    )
    text = with_pins(target_text, {change.key: change.new for change in changes})
    return Promotion(changes, tuple(key for key in source if key not in target), text)


def promotion_refusal(source: str, target: str, allow_skip: bool) -> str | None:
    """Why promoting source -> target is not allowed, or None when it is."""
    unknown = [env for env in (source, target) if env not in ENVIRONMENTS]
    if unknown:
        return f"unknown environment {unknown[0]}; environments are {', '.join(ENVIRONMENTS)}"
    step = ENVIRONMENTS.index(target) - ENVIRONMENTS.index(source)
    if step <= 0:
        return f"{source} -> {target} is not forward; promotion goes {' -> '.join(ENVIRONMENTS)}"
    if step > 1 and not allow_skip:
        skipped = ", ".join(
            ENVIRONMENTS[ENVIRONMENTS.index(source) + 1 : ENVIRONMENTS.index(target)]
        )
        return f"{source} -> {target} skips {skipped}; pass --allow-skip to do it anyway"
    return None
