"""The bootstrap sync objects make `pulumi up` report what Flux did with the whole tree.

The bootstrap Kustomization alone decides what `up` waits for: Pulumi waits for it to be Ready,
and without `wait` Flux marks it Ready as soon as its children are applied, even if they then fail.
"""

from __future__ import annotations

import pytest

from eks_gitops.flux.sync import SyncArgs, kustomization_spec
from eks_gitops.settings.parse import parse_go_duration
from tests.conftest import ENVIRONMENTS, repo_plan
from tests.gitops_support import flux_timeout_seconds

KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"

SYNC = SyncArgs(
    namespace="gitops-system",
    url="ssh://git@github.com/acme-platform/eks-gitops",
    secret_name="gitops-system",
    branch="main",
    path="gitops/aws/clusters/dev",
    interval="1m0s",
    kustomization_interval="10m0s",
    ready_timeout_seconds=1800,
    timeout="25m0s",
)


def test_the_bootstrap_kustomization_is_ready_only_when_its_tree_is_healthy() -> None:
    spec = kustomization_spec(SYNC)
    # Flux Kustomization v1 API reference (https://fluxcd.io/flux/components/kustomize/kustomizations/):
    # "Wait": `wait: true` health-checks every reconciled object (child Kustomizations and
    # HelmReleases by their Ready condition, "Health checks") before Ready turns True;
    # "Timeout": spec.timeout bounds applying and health checking, and otherwise follows the
    # interval (api/v1/kustomization_types.go, Kustomization.GetTimeout).
    assert spec["wait"] is True
    assert spec["timeout"] == "25m0s"
    # `wait` makes Flux ignore healthChecks; listing some would only mislead.
    assert "healthChecks" not in spec


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_pulumi_waits_for_ready_longer_than_flux_takes_to_decide(stack: str) -> None:
    plan = repo_plan(stack)
    [kustomization] = plan.run.of_type(KUSTOMIZATION)
    spec = kustomization.plain_inputs["spec"]
    annotations = kustomization.plain_inputs["metadata"]["annotations"]
    assert spec["wait"] is True
    # pulumi-kubernetes: `pulumi.com/waitFor: condition=Ready` makes create and update wait for the
    # object's Ready condition (provider/pkg/metadata/overrides.go, ReadyCondition), for the
    # resource's custom create/update timeout if set, else `pulumi.com/timeoutSeconds`
    # (TimeoutDuration), else 10 minutes (provider/pkg/await/await.go, Creation).
    assert annotations["pulumi.com/waitFor"] == "condition=Ready"
    assert not kustomization.custom_timeouts.get("create")
    assert not kustomization.custom_timeouts.get("update")
    pulumi_wait = int(annotations["pulumi.com/timeoutSeconds"])
    assert pulumi_wait == plan.settings.sync.ready_timeout_seconds
    # Longer than Flux's health-check timeout, so a tree that does not reconcile turns the
    # Kustomization's Ready False before Pulumi stops waiting, and `up` fails on Flux's verdict.
    assert pulumi_wait > flux_timeout_seconds(spec)
    assert flux_timeout_seconds(spec) == parse_go_duration(plan.settings.sync.timeout) // 10**9
