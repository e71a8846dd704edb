"""Flux kustomize-controller's postBuild variable substitution, as a pure function.

Flux substitutes `${var}`, `${var:=default}` (also `:-`, `=`, `-`) in the YAML text of each built
object when the Kustomization has `spec.postBuild`; `$$` stands for a literal `$`, and objects
annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DISABLE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}")
_EXPRESSION = re.compile(r"^(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)(?:(?P<op>:=|:-|=|-)(?P<default>.*))?$")


@dataclass(frozen=True)
class Substitution:
    text: str
    undefined: tuple[str, ...]
    invalid: tuple[str, ...]


def substitute(text: str, variables: Mapping[str, str]) -> Substitution:
    """Expand every `${...}` in text; undefined names without a default expand to ''."""
    undefined: list[str] = []
    invalid: list[str] = []

    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        expression = match.group(1)
        parsed = _EXPRESSION.match(expression)
        if parsed is None:
            invalid.append(expression)
            return match.group(0)
        name, operator, default = parsed.group("name", "op", "default")
        value = variables.get(name)
        if operator is None:
            if value is None:
                undefined.append(name)
                return ""
            return value
        use_default = value is None or (operator.startswith(":") and value == "")
        return default if use_default else str(value)

    return Substitution(_TOKEN.sub(expand, text), tuple(undefined), tuple(invalid))


def substitution_disabled(manifest: Mapping[str, Any]) -> bool:
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DISABLE_ANNOTATION) == "disabled"


def iter_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, string) for every string key and value in a parsed manifest."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key)
            yield from iter_strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_strings(item, f"{path}[{index}]")


@dataclass(frozen=True)
class Unresolved:
    field: str
    token: str
    message: str


def unresolved_variables(
    manifest: Mapping[str, Any], variables: Mapping[str, str]
) -> list[Unresolved]:
    """Each variable used without a default that is not defined, and each `${...}` that Flux
    cannot parse, with the field it is in and the text to look for in the sources."""
    found: list[Unresolved] = []
    for field, text in iter_strings(manifest):
        result = substitute(text, variables)
        found.extend(
            Unresolved(field, "${" + name, f"postBuild variable ${{{name}}} is not defined")
            for name in result.undefined
        )
        found.extend(
            Unresolved(field, "${" + expr + "}", f"unsupported substitution ${{{expr}}}")
            for expr in result.invalid
        )
    return found
