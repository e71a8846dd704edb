"""Feed the guardrails what the offline engine recorded. The mock engine calls no stack transforms,
so the plan checks the recorded resources with the same rules `guardrails.ResourceGuard` applies
during a real run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eks_gitops.policy import AWS_PROVIDER_TYPE, DeclaredResource, default_tags


class RecordedGraphResource(Protocol):
    """What the offline engine records of a resource (offline.engine.RecordedResource)."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def protect(self) -> bool: ...
    @property
    def provider(self) -> str | None:
        """`TYPE::NAME` of the provider resource."""

    @property
    def plain_inputs(self) -> Any: ...


def declared_from_graph(resources: Sequence[RecordedGraphResource]) -> list[DeclaredResource]:
    tags_by_provider = {
        f"{resource.type}::{resource.name}": default_tags(resource.plain_inputs)
        for resource in resources
        if resource.type == AWS_PROVIDER_TYPE
    }
    return [
        DeclaredResource(
            type=resource.type,
            name=resource.name,
            protect=resource.protect,
            inputs=resource.plain_inputs,
            provider_default_tags=tags_by_provider.get(resource.provider or ""),
        )
        for resource in resources
    ]
