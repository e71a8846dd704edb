"""Naming resources by URN, the one way the guardrails, the offline engine and the plan all use."""

from __future__ import annotations


def type_and_name(urn: str) -> str:
    """`TYPE::NAME` of a URN (`urn:pulumi:STACK::PROJECT::PARENT$TYPE::NAME`); the parent chain is
    left out, as the plan names resources."""
    qualified_type, name = urn.split("::")[2:4]
    return f"{qualified_type.split('$')[-1]}::{name}"
