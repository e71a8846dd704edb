"""Typed helpers over pulumi.Output."""

from __future__ import annotations

from typing import TypeVar, cast

import pulumi

T = TypeVar("T")


def secret(value: pulumi.Output[T]) -> pulumi.Output[T]:
    """`pulumi.Output.secret` for an Output. Its `Input[U]` parameter leaves mypy unable to pick U
    from an Output argument; naming the input type settles it."""
    return pulumi.Output.secret(cast("pulumi.Input[T]", value))
