"""A stack created from an earlier main must see no replacement: every URN that main planned (listed
in tests/fixtures/urns/<stack>.txt, taken with the v2.9.4 install fixture) is still planned, or a
resource that moved names it among its aliases, which the engine then treats as the same resource
(https://www.pulumi.com/docs/iac/concepts/options/aliases/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eks_gitops.settings.model import MANIFESTS_INSTALLER
from tests.conftest import ENVIRONMENTS, OPERATOR_STACKS, repo_plan
from tools.plan import Plan

URN_LISTS = Path(__file__).parent / "fixtures" / "urns"


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_earlier_urn_is_planned_or_aliased(
    stack: str, plan_edited: Callable[..., Plan]
) -> None:
    earlier = set((URN_LISTS / f"{stack}.txt").read_text().split())
    plan = repo_plan(stack)
    planned = {resource.urn for resource in plan.run.resources}
    aliased = {alias for resource in plan.run.resources for alias in resource.aliases}
    missing = earlier - planned - aliased
    if stack in OPERATOR_STACKS:
        # A stack switched to the operator installer no longer declares the Flux objects the
        # manifests installer applied one by one: the switch hands them to the operator, which
        # adopts them in place (docs/installers.md). Those, and only those, may be missing: what
        # the hand-over run on the manifests installer records retainOnDelete, so that they leave
        # the state and stay in the cluster (tests/test_installer_switch.py).
        handed_over = plan_edited(
            stack,
            lambda document: document["config"]["eks-gitops:toolkit"].update(
                installer=MANIFESTS_INSTALLER, handOver=True
            ),
        )
        retained = {r.urn for r in handed_over.run.resources if r.retain_on_delete}
        assert len(missing & retained) > 10
        missing -= retained
    assert sorted(missing) == []


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_urn_list_is_of_this_stack(stack: str) -> None:
    # Guards the comparison above against a list that is empty or taken from another stack.
    urns = (URN_LISTS / f"{stack}.txt").read_text().split()
    assert len(urns) > 50
    assert all(urn.startswith(f"urn:pulumi:{stack}::eks-gitops::") for urn in urns)
