"""Switching a live stack between installers deletes nothing in the cluster.

A resource that leaves the program is deleted by the next update, unless it is marked
retainOnDelete: then "Pulumi will not call through to the resource provider's Delete method when
deleting or replacing the resource during pulumi up or pulumi destroy ... [it] will be removed from
the Pulumi state" (https://www.pulumi.com/docs/iac/concepts/resources/options/retainondelete/). A
resource no longer in the program has only its recorded options, so the mark must be in the state
before the removal, which is the procedure of "Removing resources without deleting them"
(https://www.pulumi.com/docs/iac/operations/stack-management/removing-resources-without-deleting-them/).
So a switch takes two runs: `toolkit.handOver: true` on the current installer records
retainOnDelete on everything that installer alone declares, then the run with the other installer
drops those from the state and the other installer adopts the objects in place.

Deleting a CRD would delete every object of its kind, and deleting a FluxInstance uninstalls Flux
with its CRDs (flux-operator internal/controller/fluxinstance_uninstaller.go); each plan below lists
what leaves Pulumi's state on the switch and shows every one of those recorded retainOnDelete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eks_gitops.flux.instance import DISABLED, RECONCILE_ANNOTATION
from tests.test_teardown import FLUX_INSTANCE
from tools.offline.engine import RecordedResource
from tools.plan import Plan

CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _installer(installer: str, *, hand_over: bool) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        toolkit = document["config"]["eks-gitops:toolkit"]
        toolkit["installer"] = installer
        toolkit["operator"] = {"version": "v0.61.0"}
        toolkit["handOver"] = hand_over

    return edit


def leaving(before: Plan, after: Plan) -> list[RecordedResource]:
    """What `before` declares and `after` neither declares nor names among its aliases: what the
    run with `after` removes from the state."""
    kept = {r.urn for r in after.run.resources} | {
        alias for r in after.run.resources for alias in r.aliases
    }
    return sorted((r for r in before.run.resources if r.urn not in kept), key=lambda r: r.urn)


def kubernetes(resources: list[RecordedResource]) -> list[RecordedResource]:
    return [r for r in resources if r.type.startswith("kubernetes:") and r.custom]


SWITCHES = [("manifests", "operator"), ("operator", "manifests")]


@pytest.mark.parametrize(("current", "target"), SWITCHES)
def test_everything_that_leaves_the_state_on_a_switch_stays_in_the_cluster(
    current: str, target: str, plan_edited: Callable[..., Plan]
) -> None:
    handed_over = plan_edited("dev", _installer(current, hand_over=True))
    switched = plan_edited("dev", _installer(target, hand_over=False))
    gone = leaving(handed_over, switched)
    # The plan of the switch: this is the list docs/installers.md describes.
    listed = [r.type_and_name for r in gone]
    assert listed, "a switch that drops nothing would not test anything"
    assert [r.type_and_name for r in gone if not r.retain_on_delete] == []
    # Only objects of the installer itself leave, all of them Kubernetes objects under the toolkit.
    assert all(r.type.startswith("kubernetes:") for r in gone)
    assert all((r.parent or "").endswith("eks-gitops:toolkit:Toolkit::toolkit") for r in gone)
    # The dangerous ones are among them, so the check above covers them.
    assert any(r.type == CRD for r in gone)
    assert any(r.type == DEPLOYMENT for r in gone)
    if current == "operator":
        assert any(r.type == FLUX_INSTANCE for r in gone)


@pytest.mark.parametrize(("current", "target"), SWITCHES)
def test_the_namespace_and_the_sync_stay_in_the_state(
    current: str, target: str, plan_edited: Callable[..., Plan]
) -> None:
    handed_over = plan_edited("dev", _installer(current, hand_over=True))
    switched = plan_edited("dev", _installer(target, hand_over=False))
    gone = {r.urn for r in leaving(handed_over, switched)}
    staying = [
        r
        for r in kubernetes(handed_over.run.resources)
        if r.type
        in (
            "kubernetes:core/v1:Namespace",
            "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository",
            "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization",
            "kubernetes:core/v1:Secret",
            "kubernetes:notification.toolkit.fluxcd.io/v1:Receiver",
        )
    ]
    assert len(staying) >= 5
    assert [r.type_and_name for r in staying if r.urn in gone] == []
    # They are never retained either: the hand-over changes nothing about what stays.
    assert [r.type_and_name for r in staying if r.retain_on_delete] == []


@pytest.mark.parametrize(("current", "target"), SWITCHES)
def test_without_the_hand_over_run_the_switch_would_delete_them(
    current: str, target: str, plan_edited: Callable[..., Plan]
) -> None:
    # The same switch from a state written without handOver: every object that leaves would be
    # deleted. This is what the two-run procedure exists for.
    plain = plan_edited("dev", _installer(current, hand_over=False))
    switched = plan_edited("dev", _installer(target, hand_over=False))
    gone = leaving(plain, switched)
    assert gone
    assert [r for r in gone if r.retain_on_delete] == []


def test_the_operator_leaves_flux_alone_while_handing_over(
    plan_edited: Callable[..., Plan],
) -> None:
    # Suspended, the operator neither reverts what the manifests installer applies next nor, when
    # the instance is deleted later, uninstalls anything: a disabled instance loses its finalizer
    # with no deletions (fluxinstance_uninstaller.go, `obj.IsDisabled()` short-circuit).
    plan = plan_edited("dev", _installer("operator", hand_over=True))
    [instance] = plan.run.of_type(FLUX_INSTANCE)
    assert instance.plain_inputs["metadata"]["annotations"][RECONCILE_ANNOTATION] == DISABLED
    running = plan_edited("dev", _installer("operator", hand_over=False))
    [instance] = running.run.of_type(FLUX_INSTANCE)
    assert RECONCILE_ANNOTATION not in instance.plain_inputs["metadata"]["annotations"]


def test_the_hand_over_changes_nothing_else_in_the_manifests_plan(
    plan_edited: Callable[..., Plan],
) -> None:
    # The hand-over run only records an option: the objects sent to the cluster are the same.
    plain = plan_edited("qa", lambda d: None, name="qa")
    handed_over = plan_edited(
        "qa", lambda d: d["config"]["eks-gitops:toolkit"].update(handOver=True), name="qa"
    )
    assert plain.manifests() == handed_over.manifests()
    assert {r.urn for r in plain.run.resources} == {r.urn for r in handed_over.run.resources}


def test_a_hand_over_run_says_so(plan_edited: Callable[..., Plan]) -> None:
    plan = plan_edited("dev", _installer("operator", hand_over=True))
    [warning] = [line for line in plan.run.logs if "toolkit.handOver" in line]
    assert warning.startswith("warning: eks-gitops:toolkit.handOver is on: the operator installer")
