"""Kubernetes support windows: each stack says which support it accepts, and the program judges the
Kubernetes and add-on versions it pins by what the EKS API reports at run time (the offline engine's
EKS answers from a dated table of its own, tools/offline/outputs.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from eks_gitops.policy import PolicyError
from eks_gitops.policy.support import (
    AddonRelease,
    Findings,
    VersionSupport,
    addon_findings,
    addon_version_key,
    kubernetes_findings,
)
from eks_gitops.settings.model import ConfigError, StackConfig
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import ENVIRONMENTS, repo_plan, stack_document
from tools.offline import outputs as mock_outputs
from tools.plan import Plan, PlanError

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EXTENDED_1_34 = VersionSupport("1.34", "EXTENDED_SUPPORT", "2026-12-02", "2027-12-02")
STANDARD_1_35 = VersionSupport("1.35", "STANDARD_SUPPORT", "2027-03-27", "2028-03-27")
UNSUPPORTED_1_31 = VersionSupport("1.31", "UNSUPPORTED", "2025-11-26", "2026-11-26")


def settings_of(stack: str, **cluster: Any) -> StackConfig:
    document = stack_document(stack)
    document["config"]["eks-gitops:cluster"].update(cluster)
    return parse_stack_config(document["config"], stack)


def relaxed(settings: StackConfig, *rules: str) -> StackConfig:
    return dataclasses.replace(
        settings,
        policy=dataclasses.replace(settings.policy, relax=(*settings.policy.relax, *rules)),
    )


def support_type(settings: StackConfig, value: str) -> StackConfig:
    return dataclasses.replace(
        settings, cluster=dataclasses.replace(settings.cluster, support_type=value)
    )


def to_1_34(document: dict[str, Any]) -> None:
    """A stack back on 1.34, with the add-ons EKS installs by default there."""
    section = document["config"]["eks-gitops:cluster"]
    section["kubernetesVersion"] = "1.34"
    section["addons"] = {
        name: mock_outputs.MOCK_ADDON_VERSIONS["1.34"][name][0] for name in section["addons"]
    }


# --- the settings --------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_stack_says_which_support_it_accepts_and_the_cluster_gets_it(stack: str) -> None:
    # EKS API UpgradePolicyRequest (docs.aws.amazon.com/eks/latest/APIReference/
    # API_UpgradePolicyRequest.html): supportType "Valid Values: STANDARD | EXTENDED"; "The default
    # value is EXTENDED" and "If the cluster is set to STANDARD, it will be automatically upgraded at
    # the end of standard support." Left to the default, every cluster would run into extended
    # support's fee silently; so each stack file says which it wants.
    section = stack_document(stack)["config"]["eks-gitops:cluster"]
    assert section["supportType"] in ("STANDARD", "EXTENDED")
    [cluster] = repo_plan(stack).run.of_type(EKS_CLUSTER)
    assert cluster.plain_inputs["upgradePolicy"] == {"supportType": section["supportType"]}


def test_a_missing_or_unknown_support_type_is_refused() -> None:
    for value in (None, "extended", "NONE"):
        document = stack_document("qa")
        document["config"]["eks-gitops:cluster"]["supportType"] = value
        with pytest.raises(ConfigError) as refused:
            parse_stack_config(document["config"], "qa")
        assert refused.value.key == "eks-gitops:cluster.supportType"
        assert "STANDARD" in str(refused.value) and "EXTENDED" in str(refused.value)


@pytest.mark.parametrize("version", ["1.3", "1", "1.35.2", "v1.35", "2.0"])
def test_the_kubernetes_version_is_checked_for_spelling_only(version: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_of("qa", kubernetesVersion=version)
    assert refused.value.key == "eks-gitops:cluster.kubernetesVersion"
    assert "quoted" in str(refused.value)


# --- the Kubernetes version ----------------------------------------------------------------------


def test_a_version_in_standard_support_passes_quietly() -> None:
    for stack in ENVIRONMENTS:
        assert kubernetes_findings(settings_of(stack), STANDARD_1_35) == Findings(None, ())


def test_dev_and_qa_are_warned_past_standard_support() -> None:
    for stack in ("dev", "qa"):
        findings = kubernetes_findings(settings_of(stack), EXTENDED_1_34)
        assert findings.refusal is None
        [warning] = findings.warnings
        assert warning.startswith("policy warning [standard-support]: ")
        assert "eks-gitops:cluster.kubernetesVersion" in warning
        assert "2026-12-02" in warning


def test_prod_past_standard_support_is_refused_in_one_line_naming_the_key_and_the_date() -> None:
    findings = kubernetes_findings(settings_of("prod"), EXTENDED_1_34)
    assert isinstance(findings.refusal, PolicyError)
    message = str(findings.refusal)
    assert len(message.splitlines()) == 1
    assert "eks-gitops:cluster.kubernetesVersion" in message
    assert "1.34 left EKS standard support on 2026-12-02" in message
    assert "standard-support in eks-gitops:policy.relax" in message


def test_prod_may_waive_extended_support_it_pays_for_only() -> None:
    prod = relaxed(settings_of("prod"), "standard-support")
    assert prod.cluster.support_type == "EXTENDED"
    assert kubernetes_findings(prod, EXTENDED_1_34).refusal is None
    # supportType STANDARD: EKS upgrades the cluster itself, so there is nothing to pay for.
    assert isinstance(
        kubernetes_findings(support_type(prod, "STANDARD"), EXTENDED_1_34).refusal, PolicyError
    )
    # Past extended support too: no waiver covers it.
    assert isinstance(kubernetes_findings(prod, UNSUPPORTED_1_31).refusal, PolicyError)


def test_a_waiver_the_version_does_not_need_is_a_warning() -> None:
    findings = kubernetes_findings(relaxed(settings_of("prod"), "standard-support"), STANDARD_1_35)
    assert findings.refusal is None
    [warning] = findings.warnings
    assert "remove it from the list" in warning


def test_a_version_eks_does_not_report_is_refused_everywhere() -> None:
    for stack in ENVIRONMENTS:
        refusal = kubernetes_findings(settings_of(stack), None).refusal
        assert isinstance(refusal, ConfigError)
        assert refusal.key == "eks-gitops:cluster.kubernetesVersion"


# --- the add-on versions -------------------------------------------------------------------------


def releases(default: str, most_recent: str) -> list[AddonRelease]:
    return [AddonRelease("coredns", default, most_recent)]


def test_an_addon_newer_than_eks_offers_for_the_version_is_refused() -> None:
    # terraform-provider-aws internal/service/eks/addon_version_data_source.go,
    # findAddonVersionByTwoPartKey: DescribeAddonVersions for the Kubernetes version; most_recent
    # takes the first version it lists, otherwise the one whose compatibility is defaultVersion. A
    # pinned version above the most recent is not offered for that Kubernetes version.
    settings = settings_of("qa")
    pinned = settings.cluster.addons["coredns"]
    findings = addon_findings(settings, releases("v1.12.3-eksbuild.1", "v1.13.1-eksbuild.9"))
    assert isinstance(findings.refusal, ConfigError)
    assert findings.refusal.key == "eks-gitops:cluster.addons.coredns"
    assert pinned in str(findings.refusal) and "v1.13.1-eksbuild.9" in str(findings.refusal)


def test_an_addon_older_than_the_eks_default_is_a_warning() -> None:
    settings = settings_of("qa")
    pinned = settings.cluster.addons["coredns"]
    findings = addon_findings(settings, releases("v1.13.2-eksbuild.4", "v1.14.0-eksbuild.1"))
    assert findings.refusal is None
    [warning] = findings.warnings
    assert warning.startswith(f"eks-gitops:cluster.addons.coredns {pinned} is older than")
    assert addon_findings(settings, releases(pinned, pinned)) == Findings(None, ())


def test_addon_versions_compare_as_numbers() -> None:
    assert addon_version_key("v1.9.0-eksbuild.10") < addon_version_key("v1.10.0-eksbuild.1")
    assert addon_version_key("v1.21.1-eksbuild.3") < addon_version_key("v1.21.1-eksbuild.10")


# --- at run time, from the EKS API ---------------------------------------------------------------


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_committed_stack_is_in_standard_support_with_its_addons(stack: str) -> None:
    plan = repo_plan(stack)
    version = plan.settings.cluster.kubernetes_version
    assert mock_outputs.MOCK_CLUSTER_VERSIONS[version][0] == "STANDARD_SUPPORT"
    for name, pinned in plan.settings.cluster.addons.items():
        default, most_recent = mock_outputs.MOCK_ADDON_VERSIONS[version][name]
        assert addon_version_key(default) <= addon_version_key(pinned)
        assert addon_version_key(pinned) <= addon_version_key(most_recent)
    assert not [line for line in plan.run.logs if "standard-support" in line or "addons." in line]


def test_prod_takes_qas_kubernetes_and_addon_pins() -> None:
    # prod moved to 1.35 by promotion from qa: the same pins, nothing else of qa's.
    qa, prod = (stack_document(s)["config"]["eks-gitops:cluster"] for s in ("qa", "prod"))
    assert prod["kubernetesVersion"] == qa["kubernetesVersion"] == "1.35"
    assert prod["addons"] == qa["addons"]


def test_preview_refuses_prod_on_a_version_past_standard_support(
    plan_edited: Callable[..., Plan],
) -> None:
    with pytest.raises(PlanError) as refused:
        plan_edited("prod", to_1_34)
    [line] = str(refused.value).splitlines()
    assert line.startswith(
        "policy violation [standard-support]: eks-gitops:cluster.kubernetesVersion"
    )
    assert "2026-12-02" in line


def test_preview_warns_qa_on_a_version_past_standard_support(
    plan_edited: Callable[..., Plan],
) -> None:
    plan = plan_edited("qa", to_1_34)
    warnings = [line for line in plan.run.logs if "[standard-support]" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: policy warning [standard-support]: ")


def test_prod_runs_past_standard_support_only_when_it_waives_it(
    plan_edited: Callable[..., Plan],
) -> None:
    def waived(document: dict[str, Any]) -> None:
        to_1_34(document)
        document["config"]["eks-gitops:policy"] = {"relax": ["standard-support"]}

    plan = plan_edited("prod", waived)
    [cluster] = plan.run.of_type(EKS_CLUSTER)
    assert cluster.plain_inputs["version"] == "1.34"
    assert cluster.plain_inputs["upgradePolicy"] == {"supportType": "EXTENDED"}


def test_the_support_calendar_comes_from_eks_not_from_the_program(
    plan_edited: Callable[..., Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Let the (mock) EKS API say 1.35 has left standard support: the same stack file is refused.
    status, released, _, extended_end = mock_outputs.MOCK_CLUSTER_VERSIONS["1.35"]
    monkeypatch.setitem(
        mock_outputs.MOCK_CLUSTER_VERSIONS,
        "1.35",
        ("EXTENDED_SUPPORT", released, "2026-12-01", extended_end),
    )
    assert status == "STANDARD_SUPPORT"
    with pytest.raises(PlanError) as refused:
        plan_edited("prod", lambda document: None)
    assert "1.35 left EKS standard support on 2026-12-01" in str(refused.value)


def test_an_addon_eks_does_not_offer_for_the_version_stops_the_plan(
    plan_edited: Callable[..., Plan],
) -> None:
    def too_new(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:cluster"]["addons"]["vpc-cni"] = "v1.30.0-eksbuild.1"

    with pytest.raises(PlanError) as refused:
        plan_edited("dev", too_new)
    assert str(refused.value).startswith(
        'config error: eks-gitops:cluster.addons.vpc-cni = "v1.30.0-eksbuild.1": expected a '
        "version EKS offers for Kubernetes 1.35"
    )


def test_the_mock_answers_the_version_invokes_like_the_api() -> None:
    # DescribeClusterVersions (docs.aws.amazon.com/eks/latest/APIReference/
    # API_DescribeClusterVersions.html): versionStatus UNSUPPORTED | STANDARD_SUPPORT |
    # EXTENDED_SUPPORT; includeAll adds versions that are no longer supported.
    without = mock_outputs.cluster_versions_result({"clusterVersionsOnlies": ["1.31"]}, "eu-west-1")
    assert without["clusterVersions"] == []
    [entry] = mock_outputs.cluster_versions_result(
        {"clusterVersionsOnlies": ["1.31"], "includeAll": True}, "eu-west-1"
    )["clusterVersions"]
    assert entry["versionStatus"] == "UNSUPPORTED"
    assert entry["endOfStandardSupportDate"] == "2025-11-26T00:00:00Z"
    latest = mock_outputs.addon_version_result(
        {"addonName": "coredns", "kubernetesVersion": "1.35", "mostRecent": True}, "eu-west-1"
    )
    default = mock_outputs.addon_version_result(
        {"addonName": "coredns", "kubernetesVersion": "1.35"}, "eu-west-1"
    )
    assert addon_version_key(default["version"]) < addon_version_key(latest["version"])
    with pytest.raises(LookupError):
        mock_outputs.addon_version_result(
            {"addonName": "coredns", "kubernetesVersion": "1.99"}, "x"
        )
