"""The operator installer: the Flux Operator from its release manifest, and the FluxInstance it
installs Flux from, checked against the operator's API (a schema written from its reference)."""

from __future__ import annotations

import copy
import json
import re
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pytest
from pulumi.runtime.mocks import MockResourceArgs

from eks_gitops.flux.install import render_operator
from eks_gitops.flux.release import FLUX_OPERATOR, default_cache_dir, load_install_manifest
from eks_gitops.program import operator_manifest
from eks_gitops.settings.model import ConfigError
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import OPERATOR_STACKS, OPERATOR_V0610, repo_plan, stack_document
from tests.graph_support import graph_of
from tests.test_config import Raw, _set, minimal
from tests.test_teardown import FLUX_INSTANCE, SYNC_COMPONENT, teardown_violations
from tools.offline.outputs import RecordingMocks
from tools.paths import REPO_ROOT
from tools.plan import Plan, summary, write_plan

SCHEMA = json.loads(
    (REPO_ROOT / "tools" / "gitops" / "schemas" / "fluxinstance.schema.json").read_text()
)
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def flux_instance(plan: Plan) -> dict[str, Any]:
    [instance] = plan.run.of_type(FLUX_INSTANCE)
    body: dict[str, Any] = instance.plain_inputs
    return body


def test_dev_installs_with_the_operator_and_declares_no_flux_controller() -> None:
    assert OPERATOR_STACKS == ("dev",)
    plan = repo_plan("dev")
    # The operator is the one controller Pulumi declares; Flux's come from the FluxInstance.
    assert [d.plain_inputs["metadata"]["name"] for d in plan.run.of_type(DEPLOYMENT)] == [
        "flux-operator"
    ]
    groups = {
        crd.plain_inputs["spec"]["group"]
        for crd in plan.run.of_type("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")
    }
    assert groups == {"fluxcd.controlplane.io"}


def test_the_flux_instance_pins_flux_exactly_with_the_stack_s_components_and_patches() -> None:
    plan = repo_plan("dev")
    instance = flux_instance(plan)
    toolkit = plan.settings.toolkit
    assert instance["metadata"]["name"] == "flux"
    assert instance["metadata"]["namespace"] == "gitops-system"
    spec = instance["spec"]
    # An exact version is a constraint only that release satisfies (fluxinstance.md: "version"
    # is a semver range), so every environment runs what promotion verified below it.
    assert spec["distribution"]["registry"] == "ghcr.io/fluxcd"
    version = spec["distribution"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    assert f"v{version}" == toolkit.version
    assert spec["components"] == [
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
    ]
    assert spec["cluster"] == {"type": "aws", "networkPolicy": True}
    assert spec["wait"] is True
    # No `.spec.sync`: the bootstrap GitRepository and Kustomization stay Pulumi's. Deleting the
    # instance deletes the controllers, then strips the finalizers of every Flux object and deletes
    # the CRDs (flux-operator internal/controller/fluxinstance_uninstaller.go, steps 1-4), so a sync
    # the operator generated would never be pruned on destroy; Pulumi's is deleted first, while the
    # controllers run (docs/installers.md, "The sync stays Pulumi's").
    assert "sync" not in spec
    [kustomization] = plan.run.of_type("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization")
    assert kustomization.plain_inputs["spec"]["path"] == "./gitops/aws/clusters/dev"
    assert kustomization.plain_inputs["spec"]["deletionPolicy"] == "WaitForTermination"
    [patch] = spec["kustomize"]["patches"]
    assert patch["target"] == {"kind": "Deployment", "name": "kustomize-controller"}
    assert "memory: 2Gi" in patch["patch"]


def test_up_waits_until_the_instance_is_ready() -> None:
    # The FluxInstance is kstatus-compatible and, with `wait`, Ready only once every object it
    # applied is healthy (flux-operator docs/api/v1/fluxinstance.md, "Conditions"); the provider's
    # waitFor annotation holds `pulumi up` until then.
    plan = repo_plan("dev")
    annotations = flux_instance(plan)["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "condition=Ready"
    assert int(annotations["pulumi.com/timeoutSeconds"]) == plan.settings.sync.ready_timeout_seconds
    # The operator waits this long for the controllers (default 5m), less than Pulumi does.
    assert annotations["fluxcd.controlplane.io/reconcileTimeout"] == plan.settings.sync.timeout


def test_the_sync_is_declared_after_the_instance_and_deleted_before_it() -> None:
    graph = graph_of(repo_plan("dev"))
    [instance] = graph.of_type(FLUX_INSTANCE)
    sync = graph.find(SYNC_COMPONENT, "sync")
    assert graph.reaches(sync.urn, instance.urn)
    operator = graph.find(DEPLOYMENT, "gitops-system/flux-operator")
    assert graph.reaches(instance.urn, operator.urn)
    assert teardown_violations(graph) == []


def test_a_sync_not_ordered_before_the_instance_is_caught() -> None:
    graph = graph_of(repo_plan("dev"))
    [instance] = graph.of_type(FLUX_INSTANCE)
    toolkit = graph.find("eks-gitops:toolkit:Toolkit", "toolkit")
    sync = graph.find(SYNC_COMPONENT, "sync")
    # Every path from the sync and the other Flux objects to the instance taken away.
    broken = graph
    for node in list(graph.nodes.values()):
        if instance.urn in node.depends_on and node.urn != toolkit.urn:
            broken = broken.without_edge(node.urn, instance.urn)
    violations = teardown_violations(broken)
    assert any(
        v.startswith("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization::")
        and v.endswith(f"must be deleted before {FLUX_INSTANCE}::{instance.name}")
        for v in violations
    )
    assert sync.urn in graph.nodes


def test_the_operator_moves_into_the_toolkit_namespace() -> None:
    objects = render_operator(OPERATOR_V0610.read_text(), "gitops-system")
    assert "flux-system" not in json.dumps(objects)
    [binding] = [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "flux-operator", "namespace": "gitops-system"}
    ]
    [namespace] = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "gitops-system"
    assert {o["metadata"].get("namespace") for o in objects} == {None, "gitops-system"}


def test_the_toolkit_namespace_is_one_resource_for_both_installers() -> None:
    operator = repo_plan("dev")
    manifests = repo_plan("qa")
    [dev_namespace] = operator.run.of_type("kubernetes:core/v1:Namespace")
    [qa_namespace] = manifests.run.of_type("kubernetes:core/v1:Namespace")
    assert dev_namespace.type_and_name == qa_namespace.type_and_name


# --- the schema fixture, and the instance against it -------------------------------------------


def test_the_planned_instance_is_valid_for_the_operator() -> None:
    jsonschema.validate(flux_instance(repo_plan("dev")), SCHEMA)


def _edited(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    instance = copy.deepcopy(flux_instance(repo_plan("dev")))
    edit(instance)
    return instance


BAD_INSTANCES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    # CEL on the CRD: "the only accepted name for a FluxInstance is 'flux'".
    ("another name", lambda i: i["metadata"].update(name="flux-dev")),
    ("no distribution", lambda i: i["spec"].pop("distribution")),
    ("no registry", lambda i: i["spec"]["distribution"].pop("registry")),
    ("unknown component", lambda i: i["spec"]["components"].append("flagger")),
    ("unknown cluster type", lambda i: i["spec"]["cluster"].update(type="eks")),
    ("patch without patch", lambda i: i["spec"]["kustomize"]["patches"][0].pop("patch")),
    (
        "misspelt target field",
        lambda i: i["spec"]["kustomize"]["patches"][0]["target"].update(kinds="Deployment"),
    ),
    ("unknown spec field", lambda i: i["spec"].update(distrbution={})),
    (
        "sync without path",
        lambda i: i["spec"].update(
            sync={
                "kind": "GitRepository",
                "url": "ssh://git@github.com/a/b",
                "ref": "refs/heads/main",
            }
        ),
    ),
    (
        "multitenant identity without object-level identity",
        lambda i: i["spec"]["cluster"].update(multitenantWorkloadIdentity=True),
    ),
]


@pytest.mark.parametrize("edit", [e for _, e in BAD_INSTANCES], ids=[n for n, _ in BAD_INSTANCES])
def test_the_schema_refuses_what_the_operator_refuses(
    edit: Callable[[dict[str, Any]], None],
) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_edited(edit), SCHEMA)


# --- the operator's release manifest: offline rules as for Flux's --------------------------------


def test_the_operator_manifest_comes_from_its_release_and_its_own_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir(FLUX_OPERATOR) == tmp_path / "eks-gitops" / "flux-operator"
    with pytest.raises(RuntimeError) as error:
        load_install_manifest(
            "v0.61.0",
            file=None,
            expected_sha256=None,
            cache_dir=default_cache_dir(FLUX_OPERATOR),
            allow_network=False,
            release=FLUX_OPERATOR,
        )
    assert str(error.value) == (
        "cannot obtain the Flux Operator v0.61.0 install manifest from "
        "https://github.com/controlplaneio-fluxcd/flux-operator/releases/download/v0.61.0/"
        "install.yaml: it is not cached and network access is disabled"
    )


def test_a_wrong_operator_digest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"Flux Operator install manifest .* has SHA-256"):
        load_install_manifest(
            "v0.61.0",
            file=OPERATOR_V0610,
            expected_sha256="0" * 64,
            cache_dir=tmp_path,
            allow_network=False,
            release=FLUX_OPERATOR,
        )


def _operator_settings(stack: str, **operator: Any) -> Any:
    raw = json.loads(json.dumps(stack_document(stack)["config"]))
    raw["eks-gitops:toolkit"]["installer"] = "operator"
    raw["eks-gitops:toolkit"]["operator"] = {"version": "v0.61.0", **operator}
    return parse_stack_config(raw, stack)


def test_production_installs_no_unpinned_operator() -> None:
    with pytest.raises(ConfigError) as error:
        operator_manifest(_operator_settings("prod"), file=OPERATOR_V0610)
    assert error.value.key == "eks-gitops:toolkit.operator.manifestsSha256"


def test_a_run_without_network_or_file_names_the_offline_ways_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def offline(*_: Any, **__: Any) -> Any:
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(pulumi.RunError) as error:
        operator_manifest(_operator_settings("qa"))
    message = str(error.value)
    assert "eks-gitops:toolkit.operator.manifestsFile" in message
    assert "--operator-manifests FILE" in message
    assert "\n" not in message


def test_a_pinned_operator_manifest_is_used_without_a_warning() -> None:
    digest = load_install_manifest(
        "v0.61.0",
        file=OPERATOR_V0610,
        expected_sha256=None,
        cache_dir=Path("/nonexistent"),
        allow_network=False,
        release=FLUX_OPERATOR,
    ).sha256
    settings = _operator_settings("prod", manifestsSha256=digest, manifestsFile=str(OPERATOR_V0610))
    manifest = operator_manifest(settings)
    assert manifest is not None and manifest.sha256 == digest


def test_without_the_operator_manifest_the_plan_says_so(tmp_path: Path) -> None:
    from tools.plan import plan_stack

    plan = plan_stack("dev", operator_manifests=None)
    assert plan.operator is None
    assert not plan.run.of_type(DEPLOYMENT)
    assert "--operator-manifests" in summary(plan, write_plan(plan, tmp_path))


# --- settings ----------------------------------------------------------------------------------


def _operator(raw: Raw) -> None:
    raw["eks-gitops:toolkit"]["installer"] = "operator"


BAD_SETTINGS = [
    (
        "unknown installer",
        _set("eks-gitops:toolkit.installer", "helm"),
        "eks-gitops:toolkit.installer",
    ),
    (
        "operator without a version",
        _set("eks-gitops:toolkit.installer", "operator"),
        "eks-gitops:toolkit.operator.version",
    ),
    (
        "operator version range",
        _set("eks-gitops:toolkit.operator", {"version": "0.x"}, _operator),
        "eks-gitops:toolkit.operator.version",
    ),
    (
        "operator digest not hex",
        _set("eks-gitops:toolkit.operator", {"version": "v0.61.0", "manifestsSha256": "abc"}),
        "eks-gitops:toolkit.operator.manifestsSha256",
    ),
    (
        "patch without target",
        _set("eks-gitops:toolkit.patches", [{"patch": "- op: remove\n  path: /x\n"}]),
        "eks-gitops:toolkit.patches[0].target",
    ),
    (
        "patch target with a namespace",
        _set(
            "eks-gitops:toolkit.patches",
            [{"patch": "x: y\n", "target": {"kind": "Deployment", "namespace": "gitops-system"}}],
        ),
        "eks-gitops:toolkit.patches[0].target.namespace",
    ),
    (
        "empty patch",
        _set("eks-gitops:toolkit.patches", [{"patch": " ", "target": {"kind": "Deployment"}}]),
        "eks-gitops:toolkit.patches[0].patch",
    ),
    (
        "hand-over not a boolean",
        _set("eks-gitops:toolkit.handOver", "yes"),
        "eks-gitops:toolkit.handOver",
    ),
]


@pytest.mark.parametrize(
    ("edit", "key"), [(e, k) for _, e, k in BAD_SETTINGS], ids=[n for n, _, _ in BAD_SETTINGS]
)
def test_a_bad_toolkit_setting_is_one_error_naming_its_key(
    edit: Callable[[Raw], None], key: str
) -> None:
    raw = minimal()
    edit(raw)
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev")
    assert error.value.key == key
    assert "\n" not in str(error.value)


def test_the_manifests_installer_stays_the_default() -> None:
    toolkit = parse_stack_config(minimal(), "dev").toolkit
    assert toolkit.installer == "manifests"
    assert toolkit.operator is None
    assert toolkit.patches == ()
    assert toolkit.hand_over is False


def test_the_offline_engine_answers_for_the_instance_as_the_operator_reports_it() -> None:
    # The mock engine stays honest: a Ready instance reports the distribution revision
    # `<version>@sha256:<digest>` and the components it runs (fluxinstance.md, "Status").
    body = flux_instance(repo_plan("dev"))
    _, outputs = RecordingMocks("eu-west-1", "dev").new_resource(
        MockResourceArgs(FLUX_INSTANCE, "gitops-system/flux", body, "", None, True)
    )
    status = outputs["status"]
    assert [c["type"] for c in status["conditions"] if c["status"] == "True"] == ["Ready"]
    version = re.escape(body["spec"]["distribution"]["version"])
    assert re.fullmatch(rf"v{version}@sha256:[0-9a-f]{{64}}", status["lastAppliedRevision"])
    assert [c["name"] for c in status["components"]] == body["spec"]["components"]
    assert {c["repository"].rsplit("/", 1)[0] for c in status["components"]} == {"ghcr.io/fluxcd"}


def test_pulumi_outwaits_the_operator_s_uninstall(plan_edited: Callable[..., Plan]) -> None:
    # fluxinstance_uninstaller.go waits up to 5m for the controllers, then up to 5m for the CRDs.
    def short(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:sync"].update(readyTimeout="2m", timeout="1m")

    [instance] = plan_edited("dev", short).run.of_type(FLUX_INSTANCE)
    assert instance.custom_timeouts["delete"] == "600s"
    [instance] = repo_plan("dev").run.of_type(FLUX_INSTANCE)
    assert instance.custom_timeouts["delete"] == "1800s"
