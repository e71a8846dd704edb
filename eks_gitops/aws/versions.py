"""What the EKS API says about the versions a stack pins, asked at run time so that `pulumi preview`
judges them by today's support calendar (`policy.support` decides what to make of it)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_aws import eks

from eks_gitops.policy.support import AddonRelease, VersionSupport
from eks_gitops.settings.model import ClusterConfig


def _date(timestamp: str) -> str:
    # The provider reports the API's timestamps as RFC 3339 (terraform-provider-aws
    # internal/service/eks/cluster_versions_data_source.go, timetypes.RFC3339); the day is enough.
    return timestamp[:10]


def kubernetes_support(version: str, opts: pulumi.InvokeOptions) -> VersionSupport | None:
    """What EKS reports for `version`; None when it does not offer it at all."""
    reported = eks.get_cluster_versions(
        cluster_versions_onlies=[version],
        # Without it the API leaves out versions past extended support: a version that old must be
        # reported as UNSUPPORTED, not as unknown.
        include_all=True,
        opts=opts,
    ).cluster_versions
    for entry in reported or ():
        if entry.cluster_version == version:
            return VersionSupport(
                version=version,
                status=entry.version_status,
                end_of_standard_support=_date(entry.end_of_standard_support_date),
                end_of_extended_support=_date(entry.end_of_extended_support_date),
            )
    return None


def addon_releases(
    kubernetes_version: str, addons: Sequence[str], opts: pulumi.InvokeOptions
) -> list[AddonRelease]:
    """For each add-on, the version EKS installs by default on `kubernetes_version` and the most
    recent one it offers there (the data source's `most_recent`)."""

    def version(addon: str, *, most_recent: bool) -> str:
        return eks.get_addon_version(
            addon_name=addon,
            kubernetes_version=kubernetes_version,
            most_recent=most_recent,
            opts=opts,
        ).version

    return [
        AddonRelease(
            name=addon,
            default=version(addon, most_recent=False),
            most_recent=version(addon, most_recent=True),
        )
        for addon in addons
    ]


def reported_versions(
    config: ClusterConfig, opts: pulumi.InvokeOptions
) -> tuple[VersionSupport | None, list[AddonRelease]]:
    """Everything `policy.support.enforce_support` judges the cluster's pins by. EKS lists no
    add-on versions for a Kubernetes version it does not offer, so then none are asked for."""
    support = kubernetes_support(config.kubernetes_version, opts)
    if support is None:
        return None, []
    return support, addon_releases(config.kubernetes_version, list(config.addons), opts)
