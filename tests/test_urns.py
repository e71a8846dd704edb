"""A stack created from an earlier main must see no replacement: every URN that main planned (listed
in tests/fixtures/urns/<stack>.txt, taken with the v2.9.4 install fixture) is still planned, or a
resource that moved names it among its aliases, which the engine then treats as the same resource
(https://www.pulumi.com/docs/iac/concepts/options/aliases/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ENVIRONMENTS, repo_plan

URN_LISTS = Path(__file__).parent / "fixtures" / "urns"


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_earlier_urn_is_planned_or_aliased(stack: str) -> None:
    earlier = set((URN_LISTS / f"{stack}.txt").read_text().split())
    plan = repo_plan(stack)
    planned = {resource.urn for resource in plan.run.resources}
    aliased = {alias for resource in plan.run.resources for alias in resource.aliases}
    assert sorted(earlier - planned - aliased) == []


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_urn_list_is_of_this_stack(stack: str) -> None:
    # Guards the comparison above against a list that is empty or taken from another stack.
    urns = (URN_LISTS / f"{stack}.txt").read_text().split()
    assert len(urns) > 50
    assert all(urn.startswith(f"urn:pulumi:{stack}::eks-gitops::") for urn in urns)
