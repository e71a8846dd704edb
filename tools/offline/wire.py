"""Values as the SDK sends them to the engine: secrets wrapped in a signature object, numbers as
protobuf doubles. The recorder keeps them so; these helpers show them plainly or redacted."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from eks_gitops.policy import whole_numbers

SECRET_MARK = "[secret]"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"


def unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def from_struct(struct: Any) -> Any:
    return whole_numbers(json_format.MessageToDict(struct, preserving_proto_field_name=True))


def is_secret(value: Any) -> bool:
    """Whether a value as sent to the engine is a secret."""
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def redact(value: Any) -> Any:
    """Replace every value the engine would treat as secret with the string `[secret]`.

    A secret map keeps its keys: they name what it holds (as `kubectl describe secret` does), and a
    plan that shows a Secret's keys shows a missing or misspelt one."""
    if isinstance(value, dict):
        if is_secret(value):
            inner = value.get("value")
            if isinstance(inner, dict):
                return dict.fromkeys(inner, SECRET_MARK)
            return SECRET_MARK
        if value.get(SECRET_SIG_KEY) == RESOURCE_SIG:
            return {"urn": value.get("urn")}
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def string_leaves(value: Any) -> set[str]:
    """Every string inside a value (secrets unwrapped), map keys left out."""
    plain = unwrap(value)
    if isinstance(plain, str):
        return {plain}
    if isinstance(plain, dict):
        return {leaf for item in plain.values() for leaf in string_leaves(item)}
    if isinstance(plain, list):
        return {leaf for item in plain for leaf in string_leaves(item)}
    return set()
