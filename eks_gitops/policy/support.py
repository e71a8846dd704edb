"""Kubernetes support windows: the versions a stack pins, judged by what the EKS API reports about
them at run time (looked up by `eks_gitops.aws.versions`), never by a table kept here.

- The Kubernetes version: EKS offers it (else refused everywhere); past its end of standard support
  (EKS reports EXTENDED_SUPPORT or UNSUPPORTED) dev and qa are warned, and production is refused
  unless it waives the `standard-support` rule and accepts extended support with
  `cluster.supportType: EXTENDED`. Extended support bills the control plane at $0.60 an hour instead
  of $0.10 (six times) and ends in an upgrade EKS makes itself.
- The add-on versions, against what EKS reports for the stack's Kubernetes version: a pinned
  version newer than the most recent one EKS lists for it is refused (EKS does not offer it there,
  and CreateAddon/UpdateAddon would fail half-way through `up`); one older than the version EKS
  installs by default is a warning on every stack. (That kube-proxy is built for the pinned minor is
  already a settings check, `cluster.addons`.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi

from eks_gitops.policy import RELAX_KEY, PolicyError, Violation
from eks_gitops.settings.model import PROJECT, ConfigError, StackConfig

STANDARD_SUPPORT_RULE: Final = "standard-support"
# DescribeClusterVersions `versionStatus` values.
IN_STANDARD_SUPPORT: Final = "STANDARD_SUPPORT"
IN_EXTENDED_SUPPORT: Final = "EXTENDED_SUPPORT"
UNSUPPORTED: Final = "UNSUPPORTED"
# The `cluster.supportType` that keeps a version in extended support instead of upgrading it.
EXTENDED: Final = "EXTENDED"

VERSION_KEY: Final = f"{PROJECT}:cluster.kubernetesVersion"
ADDONS_KEY: Final = f"{PROJECT}:cluster.addons"

_ADDON_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)-eksbuild\.(\d+)$")


@dataclass(frozen=True)
class VersionSupport:
    """What EKS reports for one Kubernetes version (DescribeClusterVersions)."""

    version: str
    status: str
    end_of_standard_support: str
    """A date, YYYY-MM-DD."""
    end_of_extended_support: str


@dataclass(frozen=True)
class AddonRelease:
    """What EKS reports for one add-on on the stack's Kubernetes version (DescribeAddonVersions):
    the version it installs by default and the most recent one it offers."""

    name: str
    default: str
    most_recent: str


@dataclass(frozen=True)
class Findings:
    refusal: pulumi.RunError | None
    """The first reason to stop the run; None when it may go on."""
    warnings: tuple[str, ...]


def addon_version_key(version: str) -> tuple[int, ...]:
    """An EKS add-on version (`v1.21.1-eksbuild.3`) as numbers, so versions compare in order."""
    match = _ADDON_VERSION.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not an EKS add-on version such as v1.21.1-eksbuild.3")
    return tuple(int(part) for part in match.groups())


def _past_standard_support(settings: StackConfig, support: VersionSupport) -> Violation:
    cluster = settings.cluster
    if support.status == UNSUPPORTED:
        consequence = (
            f"and its extended support ended on {support.end_of_extended_support}: EKS upgrades "
            "the cluster itself"
        )
    elif cluster.support_type == EXTENDED:
        consequence = (
            "and extended support bills the control plane at six times the standard fee "
            f"until {support.end_of_extended_support}, when EKS upgrades the cluster itself"
        )
    else:
        consequence = (
            f"and with {PROJECT}:cluster.supportType {cluster.support_type} EKS upgrades the "
            "cluster itself, away from the version the stack file pins"
        )
    waiver = (
        f", or pay for extended support: list {STANDARD_SUPPORT_RULE} in {RELAX_KEY}"
        + ("" if cluster.support_type == EXTENDED else f" with supportType {EXTENDED}")
        if support.status == IN_EXTENDED_SUPPORT
        else ""
    )
    return Violation(
        STANDARD_SUPPORT_RULE,
        VERSION_KEY,
        f"{support.version} left EKS standard support on {support.end_of_standard_support} "
        f"(EKS reports {support.status}), {consequence}",
        "upgrade kubernetesVersion and the add-ons one minor at a time to a version in "
        f"standard support{waiver}",
    )


def kubernetes_findings(settings: StackConfig, support: VersionSupport | None) -> Findings:
    """Whether the pinned Kubernetes version may run, judged by what EKS reports about it."""
    version = settings.cluster.kubernetes_version
    if support is None:
        return Findings(
            ConfigError(
                VERSION_KEY,
                version,
                "a Kubernetes version EKS offers (aws eks describe-cluster-versions)",
            ),
            (),
        )
    relaxed = STANDARD_SUPPORT_RULE in settings.policy.relax
    if support.status == IN_STANDARD_SUPPORT:
        stale = (
            f"policy: {RELAX_KEY} lists {STANDARD_SUPPORT_RULE}, but {version} is in EKS "
            f"standard support until {support.end_of_standard_support}; remove it from the list"
        )
        return Findings(None, (stale,) if relaxed else ())
    violation = _past_standard_support(settings, support)
    # Production waives only extended support it pays for: a version with none left, or a cluster
    # EKS will upgrade anyway (supportType STANDARD), cannot be waived into running.
    waived = (
        relaxed
        and support.status == IN_EXTENDED_SUPPORT
        and settings.cluster.support_type == EXTENDED
    )
    if settings.is_production:
        return Findings(None if waived else PolicyError([violation]), ())
    return Findings(None, () if relaxed else (violation.as_warning(),))


def addon_findings(settings: StackConfig, releases: Sequence[AddonRelease]) -> Findings:
    """Whether each pinned add-on version is one EKS offers for the stack's Kubernetes version."""
    kubernetes = settings.cluster.kubernetes_version
    refusal: pulumi.RunError | None = None
    warnings = []
    for release in releases:
        pinned = settings.cluster.addons[release.name]
        key = f"{ADDONS_KEY}.{release.name}"
        lookup = (
            f"aws eks describe-addon-versions --kubernetes-version {kubernetes} "
            f"--addon-name {release.name}"
        )
        if refusal is None and addon_version_key(pinned) > addon_version_key(release.most_recent):
            refusal = ConfigError(
                key,
                pinned,
                f"a version EKS offers for Kubernetes {kubernetes}: at most "
                f"{release.most_recent} ({lookup})",
            )
        elif addon_version_key(pinned) < addon_version_key(release.default):
            warnings.append(
                f"{key} {pinned} is older than {release.default}, the version EKS installs by "
                f"default on Kubernetes {kubernetes}; move it up ({lookup})"
            )
    return Findings(refusal, tuple(warnings))


def enforce_support(
    settings: StackConfig, support: VersionSupport | None, releases: Sequence[AddonRelease]
) -> None:
    """Stop the run at the first refusal; otherwise log each warning, so `pulumi preview` shows it."""
    found = (kubernetes_findings(settings, support), addon_findings(settings, releases))
    for findings in found:
        if findings.refusal is not None:
            raise findings.refusal
    for findings in found:
        for warning in findings.warnings:
            pulumi.log.warn(warning)
