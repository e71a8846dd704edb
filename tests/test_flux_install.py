"""Behaviour of flux/install.py against the hand-written install.yaml fixtures."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eks_gitops.flux.install import (
    INSTANCE_LABEL,
    UPSTREAM_NAMESPACE,
    FluxManifestError,
    KubeObject,
    component_of,
    order_for_apply,
    parse_manifest,
    relocate,
    render_toolkit,
    resource_name,
    select_components,
)
from eks_gitops.settings.model import (
    DEFAULT_FLUX_COMPONENTS,
    KNOWN_FLUX_COMPONENTS,
    REQUIRED_FLUX_COMPONENTS,
)

FIXTURES = Path(__file__).parent / "fixtures" / "flux"
VERSIONS = ("v2.8.5", "v2.9.4")
NAMESPACE = "gitops-system"
IMAGE_COMPONENTS = ("image-reflector-controller", "image-automation-controller")
FIXTURE_COMPONENTS = (*DEFAULT_FLUX_COMPONENTS, *IMAGE_COMPONENTS)
EVENTS_ADDR = (
    "--events-addr=http://notification-controller.$(RUNTIME_NAMESPACE).svc.cluster.local./"
)
STORAGE_ADV_ADDR = "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local."


def served_kinds(objects: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str, str]]:
    """The (group, kind) pairs that the CRDs among `objects` serve in some version."""
    return frozenset(
        (obj["spec"]["group"], obj["spec"]["names"]["kind"])
        for obj in objects
        if obj["kind"] == "CustomResourceDefinition"
        and any(version.get("served") for version in obj["spec"].get("versions", []))
    )


def fixture_text(version: str) -> str:
    return (FIXTURES / f"install-{version}.yaml").read_text()


# Parsed once: the tests below must never mutate these (one of them checks exactly that).
PARSED = {version: parse_manifest(fixture_text(version)) for version in VERSIONS}


def everything(version: str = "v2.9.4") -> list[KubeObject]:
    return select_components(PARSED[version], FIXTURE_COMPONENTS)


def find(objects: list[KubeObject], kind: str, name: str) -> KubeObject:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def of_kind(objects: list[KubeObject], kind: str) -> list[KubeObject]:
    return [o for o in objects if o["kind"] == kind]


def replaced(objects: list[KubeObject], new: KubeObject) -> list[KubeObject]:
    """``objects`` with the object of ``new``'s kind and name swapped for ``new``."""
    old = find(objects, new["kind"], new["metadata"]["name"])
    return [new if o is old else o for o in objects]


def container_args(deployment: KubeObject) -> list[str]:
    args: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def flag_values(deployment: KubeObject, flag: str) -> list[str]:
    return [arg for arg in container_args(deployment) if arg.startswith(flag)]


def names(objects: list[KubeObject]) -> set[tuple[str, str]]:
    return {(o["kind"], resource_name(o)) for o in objects}


# --- parse_manifest -------------------------------------------------------------------------


def test_parse_skips_empty_documents() -> None:
    text = "---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n\n---\n"
    assert parse_manifest(text) == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
    ]


@pytest.mark.parametrize(
    ("second_document", "problem"),
    [
        ("- a\n- list\n", "expected a mapping"),
        ("kind: ConfigMap\nmetadata: {name: b}\n", "apiVersion"),
        ("apiVersion: v1\nmetadata: {name: b}\n", "kind"),
        ("apiVersion: v1\nkind: ConfigMap\n", "metadata"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {}}\n", "metadata.name"),
    ],
)
def test_parse_names_the_document_that_is_not_an_object(second_document: str, problem: str) -> None:
    text = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\n---\n{second_document}"
    with pytest.raises(FluxManifestError, match=r"document 2\b") as error:
        parse_manifest(text)
    assert problem in str(error.value)


def test_parse_reports_invalid_yaml() -> None:
    with pytest.raises(FluxManifestError, match="not valid YAML"):
        parse_manifest("apiVersion: v1\nkind: [unclosed\n")


@pytest.mark.parametrize("version", VERSIONS)
def test_fixtures_cover_every_controller_with_shared_objects(version: str) -> None:
    components = {component_of(o) for o in PARSED[version]}
    assert components == {None, *FIXTURE_COMPONENTS}


# --- select_components ----------------------------------------------------------------------


def test_default_selection_keeps_default_components_and_all_shared_objects() -> None:
    objects = PARSED["v2.9.4"]
    selected = select_components(objects, DEFAULT_FLUX_COMPONENTS)
    assert {component_of(o) for o in selected} == {None, *DEFAULT_FLUX_COMPONENTS}
    assert [o for o in selected if component_of(o) is None] == [
        o for o in objects if component_of(o) is None
    ]
    assert ("image.toolkit.fluxcd.io", "ImagePolicy") not in served_kinds(selected)
    assert {o["metadata"]["name"] for o in of_kind(selected, "Deployment")} == set(
        DEFAULT_FLUX_COMPONENTS
    )


def test_extra_components_bring_their_objects() -> None:
    selected = select_components(PARSED["v2.9.4"], (*DEFAULT_FLUX_COMPONENTS, *IMAGE_COMPONENTS))
    assert {component_of(o) for o in selected} == {
        None,
        *DEFAULT_FLUX_COMPONENTS,
        *IMAGE_COMPONENTS,
    }
    assert {
        ("image.toolkit.fluxcd.io", "ImageRepository"),
        ("image.toolkit.fluxcd.io", "ImagePolicy"),
        ("image.toolkit.fluxcd.io", "ImageUpdateAutomation"),
    } <= served_kinds(selected)


def test_required_components_alone_are_enough() -> None:
    selected = select_components(PARSED["v2.9.4"], REQUIRED_FLUX_COMPONENTS)
    assert {o["metadata"]["name"] for o in of_kind(selected, "Deployment")} == set(
        REQUIRED_FLUX_COMPONENTS
    )


def test_component_missing_from_manifest_names_it_and_what_is_there() -> None:
    # The fixtures, like some releases, ship no source-watcher objects.
    assert "source-watcher" in KNOWN_FLUX_COMPONENTS
    with pytest.raises(FluxManifestError, match="source-watcher") as error:
        select_components(PARSED["v2.9.4"], (*DEFAULT_FLUX_COMPONENTS, "source-watcher"))
    assert "image-automation-controller" in str(error.value)


# --- relocate -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_relocated_output_never_mentions_flux_system(version: str) -> None:
    relocated = relocate(everything(version), NAMESPACE, FIXTURE_COMPONENTS)
    assert UPSTREAM_NAMESPACE not in yaml.safe_dump_all(relocated)


def test_namespace_is_renamed_and_labelled() -> None:
    relocated = relocate(everything(), NAMESPACE, FIXTURE_COMPONENTS)
    namespace = find(relocated, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"][INSTANCE_LABEL] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/warn-version"] == "latest"


def test_every_object_carries_the_namespace_where_bootstrap_puts_it() -> None:
    originals = everything()
    relocated = relocate(originals, NAMESPACE, FIXTURE_COMPONENTS)
    for original, moved in zip(originals, relocated, strict=True):
        assert moved["metadata"]["labels"][INSTANCE_LABEL] == NAMESPACE
        assert moved["metadata"].get("namespace") == (
            NAMESPACE if "namespace" in original["metadata"] else None
        )
    for deployment in of_kind(relocated, "Deployment"):
        assert deployment["spec"]["template"]["metadata"]["labels"][INSTANCE_LABEL] == NAMESPACE
    for policy in of_kind(relocated, "NetworkPolicy"):
        assert policy["metadata"]["namespace"] == NAMESPACE


def test_shared_cluster_objects_get_the_namespace_suffix() -> None:
    relocated = relocate(everything(), NAMESPACE, FIXTURE_COMPONENTS)
    suffixed = {
        (o["kind"], o["metadata"]["name"])
        for o in relocated
        if o["kind"] in ("ClusterRole", "ClusterRoleBinding", "ResourceQuota")
    }
    assert suffixed == {
        ("ClusterRole", "crd-controller-gitops-system"),
        ("ClusterRole", "flux-edit-gitops-system"),
        ("ClusterRole", "flux-view-gitops-system"),
        ("ClusterRoleBinding", "cluster-reconciler-gitops-system"),
        ("ClusterRoleBinding", "crd-controller-gitops-system"),
        ("ResourceQuota", "critical-pods-gitops-system"),
    }
    # Per-component objects keep their names: Services are addressed by them.
    assert {o["metadata"]["name"] for o in of_kind(relocated, "Deployment")} == set(
        FIXTURE_COMPONENTS
    )
    assert {o["metadata"]["name"] for o in of_kind(relocated, "Service")} == {
        "source-controller",
        "notification-controller",
        "webhook-receiver",
    }


def test_default_namespace_gives_bootstraps_well_known_names() -> None:
    relocated = relocate(everything(), UPSTREAM_NAMESPACE, FIXTURE_COMPONENTS)
    assert find(relocated, "ClusterRoleBinding", "crd-controller-flux-system")["roleRef"][
        "name"
    ] == ("crd-controller-flux-system")
    assert find(relocated, "ResourceQuota", "critical-pods-flux-system")


def test_role_refs_follow_renamed_roles_only() -> None:
    relocated = relocate(everything(), NAMESPACE, FIXTURE_COMPONENTS)
    crd_binding = find(relocated, "ClusterRoleBinding", "crd-controller-gitops-system")
    assert crd_binding["roleRef"]["name"] == "crd-controller-gitops-system"
    reconciler = find(relocated, "ClusterRoleBinding", "cluster-reconciler-gitops-system")
    assert reconciler["roleRef"]["name"] == "cluster-admin"
    role_names = {o["metadata"]["name"] for o in of_kind(relocated, "ClusterRole")}
    assert crd_binding["roleRef"]["name"] in role_names


def test_binding_subjects_move_and_list_every_controller() -> None:
    relocated = relocate(
        select_components(PARSED["v2.9.4"], REQUIRED_FLUX_COMPONENTS),
        NAMESPACE,
        REQUIRED_FLUX_COMPONENTS,
    )
    crd_binding = find(relocated, "ClusterRoleBinding", "crd-controller-gitops-system")
    assert {s["namespace"] for s in crd_binding["subjects"]} == {NAMESPACE}
    # Bootstrap binds all controllers' accounts, installed or not.
    assert {s["name"] for s in crd_binding["subjects"]} == set(FIXTURE_COMPONENTS)
    reconciler = find(relocated, "ClusterRoleBinding", "cluster-reconciler-gitops-system")
    assert {(s["name"], s["namespace"]) for s in reconciler["subjects"]} == {
        ("kustomize-controller", NAMESPACE),
        ("helm-controller", NAMESPACE),
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_controller_addresses_use_the_runtime_namespace(version: str) -> None:
    relocated = relocate(everything(version), NAMESPACE, FIXTURE_COMPONENTS)
    for deployment in of_kind(relocated, "Deployment"):
        expected_events = (
            [] if deployment["metadata"]["name"] == "notification-controller" else [EVENTS_ADDR]
        )
        assert flag_values(deployment, "--events-addr=") == expected_events
    source = find(relocated, "Deployment", "source-controller")
    assert flag_values(source, "--storage-adv-addr=") == [STORAGE_ADV_ADDR]
    # Everything else on the command line is left as the release wrote it.
    original = find(everything(version), "Deployment", "source-controller")
    assert [a for a in container_args(source) if not a.startswith("--events-addr=")] == [
        a for a in container_args(original) if not a.startswith("--events-addr=")
    ]


def test_events_address_is_empty_without_notification_controller() -> None:
    chosen = ("source-controller", "kustomize-controller", "helm-controller")
    relocated = relocate(select_components(PARSED["v2.9.4"], chosen), NAMESPACE, chosen)
    deployments = of_kind(relocated, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == set(chosen)
    for deployment in deployments:
        assert flag_values(deployment, "--events-addr=") == ["--events-addr="]


def test_cluster_domain_can_be_changed() -> None:
    relocated = relocate(everything(), NAMESPACE, FIXTURE_COMPONENTS, cluster_domain="corp.example")
    source = find(relocated, "Deployment", "source-controller")
    assert flag_values(source, "--events-addr=") == [
        "--events-addr=http://notification-controller.$(RUNTIME_NAMESPACE).svc.corp.example./"
    ]
    assert flag_values(source, "--storage-adv-addr=") == [
        "--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.corp.example."
    ]


def test_relocation_leaves_its_input_untouched() -> None:
    originals = everything()
    snapshot = copy.deepcopy(originals)
    relocated = relocate(originals, NAMESPACE, FIXTURE_COMPONENTS)
    assert originals == snapshot
    assert PARSED["v2.9.4"] == parse_manifest(fixture_text("v2.9.4"))
    assert relocated != originals


def test_network_policy_namespace_selectors_follow_the_namespace() -> None:
    policy: KubeObject = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "allow-from-flux", "namespace": UPSTREAM_NAMESPACE},
        "spec": {
            "podSelector": {},
            "ingress": [
                {"from": [{"namespaceSelector": {"matchLabels": {"team": UPSTREAM_NAMESPACE}}}]}
            ],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": UPSTREAM_NAMESPACE}
                            }
                        }
                    ]
                }
            ],
        },
    }
    [moved] = relocate([policy], NAMESPACE, DEFAULT_FLUX_COMPONENTS)
    assert moved["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "team": NAMESPACE
    }
    assert moved["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": NAMESPACE
    }


def test_unexpected_mention_of_flux_system_is_reported_with_object_and_path() -> None:
    objects = everything()
    account = copy.deepcopy(find(objects, "ServiceAccount", "helm-controller"))
    account["metadata"]["annotations"] = {"example.com/owner": "team@flux-system"}
    with pytest.raises(FluxManifestError) as error:
        relocate(replaced(objects, account), NAMESPACE, FIXTURE_COMPONENTS)
    message = str(error.value)
    assert "ServiceAccount helm-controller" in message
    assert "metadata.annotations['example.com/owner']" in message


def test_namespace_that_contains_flux_system_is_not_mistaken_for_a_leftover() -> None:
    relocated = relocate(everything(), "team-flux-system", FIXTURE_COMPONENTS)
    assert find(relocated, "Namespace", "team-flux-system")
    assert find(relocated, "ClusterRole", "crd-controller-team-flux-system")


def test_already_suffixed_shared_names_are_not_suffixed_twice() -> None:
    role: KubeObject = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "crd-controller-flux-system"},
        "rules": [],
    }
    binding: KubeObject = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "crd-controller-flux-system"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "crd-controller-flux-system",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "source-controller"}],
    }
    moved_role, moved_binding = relocate([role, binding], NAMESPACE, DEFAULT_FLUX_COMPONENTS)
    assert moved_role["metadata"]["name"] == "crd-controller-gitops-system"
    assert moved_binding["metadata"]["name"] == "crd-controller-gitops-system"
    assert moved_binding["roleRef"]["name"] == "crd-controller-gitops-system"
    assert moved_binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "source-controller", "namespace": NAMESPACE}
    ]


def test_unparseable_storage_address_is_reported() -> None:
    objects = everything()
    source = copy.deepcopy(find(objects, "Deployment", "source-controller"))
    args = container_args(source)
    args[args.index(STORAGE_ADV_ADDR)] = "--storage-adv-addr=:9090"
    with pytest.raises(FluxManifestError, match="Deployment source-controller"):
        relocate(replaced(objects, source), NAMESPACE, FIXTURE_COMPONENTS)


namespaces = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(namespace=namespaces, first=namespaces)
def test_relocation_to_any_namespace_is_complete_and_repeatable(namespace: str, first: str) -> None:
    assume(UPSTREAM_NAMESPACE not in namespace and UPSTREAM_NAMESPACE not in first)
    direct = relocate(everything(), namespace, FIXTURE_COMPONENTS)
    assert UPSTREAM_NAMESPACE not in yaml.safe_dump_all(direct)
    assert find(direct, "Namespace", namespace)
    assert find(direct, "ClusterRole", f"crd-controller-{namespace}")
    again = relocate(direct, namespace, FIXTURE_COMPONENTS)
    assert names(again) == names(direct)
    via_another = relocate(
        relocate(everything(), first, FIXTURE_COMPONENTS), namespace, FIXTURE_COMPONENTS
    )
    assert via_another == direct


# --- order_for_apply ------------------------------------------------------------------------


APPLY_RANKS = {
    "Namespace": 0,
    "CustomResourceDefinition": 1,
    "ClusterRole": 2,
    "ClusterRoleBinding": 3,
}


def kind_rank(kind: str) -> int:
    return APPLY_RANKS.get(kind, len(APPLY_RANKS))


def test_apply_order_puts_namespace_crds_and_rbac_first() -> None:
    ordered = order_for_apply(relocate(everything(), NAMESPACE, FIXTURE_COMPONENTS))
    ranks = [kind_rank(o["kind"]) for o in ordered]
    assert ranks == sorted(ranks)
    assert ordered[0]["kind"] == "Namespace"
    rest = [o for o in ordered if kind_rank(o["kind"]) == 4]
    keys = [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in rest]
    assert keys == sorted(keys)
    crds = [o["metadata"]["name"] for o in ordered if o["kind"] == "CustomResourceDefinition"]
    assert crds == sorted(crds)


def test_apply_order_does_not_depend_on_input_order() -> None:
    objects = relocate(everything(), NAMESPACE, FIXTURE_COMPONENTS)
    expected = order_for_apply(objects)
    for seed in range(5):
        shuffled = list(objects)
        random.Random(seed).shuffle(shuffled)
        assert order_for_apply(shuffled) == expected


# --- resource_name, render_toolkit ------------------------------------------------


def test_resource_names_are_namespace_slash_name_or_name() -> None:
    rendered = render_toolkit(fixture_text("v2.9.4"), DEFAULT_FLUX_COMPONENTS, NAMESPACE)
    assert resource_name(find(rendered, "Deployment", "source-controller")) == (
        "gitops-system/source-controller"
    )
    assert resource_name(find(rendered, "Namespace", NAMESPACE)) == NAMESPACE
    assert resource_name(
        find(rendered, "CustomResourceDefinition", "gitrepositories.source.toolkit.fluxcd.io")
    ) == ("gitrepositories.source.toolkit.fluxcd.io")


def test_resource_names_are_unique_per_kind() -> None:
    rendered = render_toolkit(fixture_text("v2.9.4"), FIXTURE_COMPONENTS, NAMESPACE)
    assert len(names(rendered)) == len(rendered)


def test_resource_names_survive_a_flux_upgrade() -> None:
    old, new = (
        render_toolkit(fixture_text(version), FIXTURE_COMPONENTS, NAMESPACE) for version in VERSIONS
    )
    # The fixtures really differ, so identical names come from identity alone.
    assert old != new
    for kind in ("CustomResourceDefinition", "Namespace", "Deployment"):
        old_names = {resource_name(o) for o in of_kind(old, kind)}
        assert old_names
        assert old_names == {resource_name(o) for o in of_kind(new, kind)}
    assert names(old) == names(new)


def test_the_default_toolkit_serves_what_the_sync_and_the_gitops_tree_declare() -> None:
    rendered = render_toolkit(fixture_text("v2.9.4"), DEFAULT_FLUX_COMPONENTS, NAMESPACE)
    kinds = served_kinds(rendered)
    assert ("source.toolkit.fluxcd.io", "GitRepository") in kinds
    assert ("kustomize.toolkit.fluxcd.io", "Kustomization") in kinds
    assert ("helm.toolkit.fluxcd.io", "HelmRelease") in kinds
    assert ("image.toolkit.fluxcd.io", "ImagePolicy") not in kinds


def test_render_toolkit_produces_ordered_relocated_objects() -> None:
    rendered = render_toolkit(fixture_text("v2.8.5"), DEFAULT_FLUX_COMPONENTS, NAMESPACE)
    assert rendered[0]["kind"] == "Namespace"
    assert rendered[0]["metadata"]["name"] == NAMESPACE
    assert UPSTREAM_NAMESPACE not in yaml.safe_dump_all(rendered)
    assert {component_of(o) for o in rendered} == {None, *DEFAULT_FLUX_COMPONENTS}


def test_render_toolkit_reports_bad_input_as_flux_manifest_error() -> None:
    with pytest.raises(FluxManifestError, match="document 1"):
        render_toolkit("apiVersion: v1\nkind: Namespace\n", DEFAULT_FLUX_COMPONENTS, NAMESPACE)
