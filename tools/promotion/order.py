"""Which promotions may happen: forward one environment at a time, never a downgrade, and never a
Kubernetes jump EKS cannot make."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tools.promotion.pins import PinChange

# Make's variables for `make promote`, which the messages name: the user types these, not flags.
SKIP_VARIABLE = "SKIP=1"
FORCE_VARIABLE = "FORCE=1"


def step_refusal(
    source: str, target: str, environments: Sequence[str], *, allow_skip: bool
) -> str | None:
    """Why promoting source -> target is not allowed, or None when it is."""
    unknown = [env for env in (source, target) if env not in environments]
    if unknown:
        return f"unknown environment {unknown[0]}; environments are {', '.join(environments)}"
    step = environments.index(target) - environments.index(source)
    if step <= 0:
        return f"{source} -> {target} is not forward; promotion goes {' -> '.join(environments)}"
    if step > 1 and not allow_skip:
        skipped = ", ".join(
            environments[environments.index(source) + 1 : environments.index(target)]
        )
        return f"{source} -> {target} skips {skipped}; pass {SKIP_VARIABLE} to do it anyway"
    return None


def version_numbers(version: str) -> tuple[int, ...]:
    """The numbers of a version in order: `v1.21.1-eksbuild.3` is (1, 21, 1, 3), `"1.35"` (1, 35)."""
    return tuple(int(number) for number in re.findall(r"\d+", version))


def change_refusal(change: PinChange, *, kubernetes_key: str) -> str | None:
    """Why one pin may not move as planned without FORCE=1, or None when it may."""
    if change.old is None:
        return None
    old, new = version_numbers(change.old), version_numbers(change.new)
    if new < old:
        return f"{change.name} would go down from {change.old} to {change.new}"
    # EKS updates a control plane one minor version at a time ("Update existing cluster to new
    # Kubernetes version", Amazon EKS User Guide: you can update only one minor version at a time).
    if (
        change.name == kubernetes_key
        and old[:1] == new[:1]
        and len(old) > 1
        and new[1] - old[1] > 1
    ):
        return (
            f"{change.name} would jump from {change.old} to {change.new}; EKS upgrades one minor "
            "version at a time"
        )
    return None
