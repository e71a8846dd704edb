"""The Flux toolkit, deploy key, SSH secret and bootstrap sync each stack declares."""

from __future__ import annotations

import dataclasses
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pulumi
import pytest

from eks_gitops.program import flux_manifest
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import (
    ENVIRONMENTS,
    FLUX_V285,
    FLUX_V294,
    MANIFESTS_STACKS,
    repo_plan,
    stack_document,
)
from tests.graph_support import graph_of
from tools.plan import Plan, summary, write_plan

DEFAULT_CONTROLLERS = {
    "source-controller",
    "kustomize-controller",
    "helm-controller",
    "notification-controller",
}


def objects(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return [obj for obj in plan.manifests() if obj["kind"] == kind]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_toolkit_object_lives_in_gitops_system(stack: str, tmp_path: Path) -> None:
    plan = repo_plan(stack)
    target = write_plan(plan, tmp_path)
    assert "flux-system" not in (target / "manifests.yaml").read_text()
    assert "flux-system" not in (target / "resources.json").read_text()
    for obj in plan.manifests():
        namespace = obj["metadata"].get("namespace")
        assert namespace in (None, "gitops-system"), obj["metadata"]


@pytest.mark.parametrize("stack", MANIFESTS_STACKS)
def test_exactly_the_chosen_controllers_and_their_crds(stack: str) -> None:
    plan = repo_plan(stack)
    assert {d["metadata"]["name"] for d in objects(plan, "Deployment")} == DEFAULT_CONTROLLERS
    groups = {crd["spec"]["group"] for crd in objects(plan, "CustomResourceDefinition")}
    assert groups == {
        "source.toolkit.fluxcd.io",
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
    }


def test_extra_components_are_opt_in(plan_edited: Any) -> None:
    def add_image_automation(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:toolkit"]["components"] += [
            "image-reflector-controller",
            "image-automation-controller",
        ]

    plan = plan_edited("qa", add_image_automation)
    deployments = {d["metadata"]["name"] for d in objects(plan, "Deployment")}
    assert deployments == DEFAULT_CONTROLLERS | {
        "image-reflector-controller",
        "image-automation-controller",
    }
    assert "image.toolkit.fluxcd.io" in {
        c["spec"]["group"] for c in objects(plan, "CustomResourceDefinition")
    }


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_sync_objects_match_bootstrap(stack: str) -> None:
    plan = repo_plan(stack)
    config = stack_document(stack)["config"]
    (source,) = objects(plan, "GitRepository")
    (kustomization,) = objects(plan, "Kustomization")
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert source["metadata"]["name"] == source["metadata"]["namespace"] == "gitops-system"
    assert source["spec"] == {
        "interval": "1m0s",
        "ref": {"branch": config["eks-gitops:sync"]["branch"]},
        "secretRef": {"name": "gitops-system"},
        "url": "ssh://git@github.com/acme-platform/eks-gitops",
    }
    assert kustomization["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    # Bootstrap's Kustomization, plus what a declared install needs beyond it (issue 11): wait for
    # the tree to be healthy, and on delete for Flux to remove what it applied (tests/test_sync.py).
    assert kustomization["spec"] == {
        "deletionPolicy": "WaitForTermination",
        "interval": "10m0s",
        "path": f"./gitops/aws/clusters/{stack}",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "gitops-system"},
        "timeout": "25m0s",
        "wait": True,
    }
    annotations = kustomization["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "condition=Ready"
    assert int(annotations["pulumi.com/timeoutSeconds"]) >= 600


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_ssh_secret_and_read_only_deploy_key(stack: str) -> None:
    plan = repo_plan(stack)
    (secret,) = [
        r
        for r in plan.run.of_type("kubernetes:core/v1:Secret")
        if r.plain_inputs["metadata"]["name"] == "gitops-system"
    ]
    data = secret.plain_inputs["stringData"]
    assert set(data) == {"identity", "identity.pub", "known_hosts"}
    assert data["identity"].startswith("-----BEGIN PRIVATE KEY-----")
    assert secret.redacted_inputs["stringData"] == dict.fromkeys(data, "[secret]")
    (deploy_key,) = plan.run.of_type("github:index/repositoryDeployKey:RepositoryDeployKey")
    assert deploy_key.plain_inputs["readOnly"] is True
    assert deploy_key.plain_inputs["key"] == data["identity.pub"].strip()
    assert f"gitops-{stack}" in deploy_key.plain_inputs["title"]
    (key,) = plan.run.of_type("tls:index/privateKey:PrivateKey")
    assert key.plain_inputs == {"algorithm": "ECDSA", "ecdsaCurve": "P384"}


@pytest.mark.parametrize("stack", MANIFESTS_STACKS)
def test_sync_waits_for_everything_it_needs(stack: str) -> None:
    plan = repo_plan(stack)
    (kustomization,) = plan.run.of_type("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization")
    needed = {
        r.urn
        for r in plan.run.resources
        if r.type
        in (
            "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
            "kubernetes:apps/v1:Deployment",
            "kubernetes:core/v1:Secret",
            "github:index/repositoryDeployKey:RepositoryDeployKey",
        )
        # The webhook's token Secret serves the Receiver; the sync polls without it.
        and "eks-gitops:webhook:Webhook" not in (r.parent or "")
    }
    # Through its own dependencies or its component's, which the engine orders it by as well.
    graph = graph_of(plan)
    assert len(needed) > 15
    assert [urn for urn in sorted(needed) if not graph.reaches(kustomization.urn, urn)] == []


def test_resource_names_do_not_depend_on_the_flux_version() -> None:
    def names(plan: Plan) -> dict[str, set[str]]:
        kinds = {"CustomResourceDefinition", "Namespace", "Deployment"}
        found: dict[str, set[str]] = {}
        for r in plan.run.resources:
            if r.type.startswith("kubernetes:") and r.type.rsplit(":", 1)[-1] in kinds:
                found.setdefault(r.type, set()).add(r.name)
        return found

    old, new = repo_plan("prod", FLUX_V285), repo_plan("prod", FLUX_V294)
    assert names(old) == names(new)
    assert len(names(new)["kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"]) > 5
    assert _images(old) != _images(new)


def _images(plan: Plan) -> set[str]:
    return {
        d["spec"]["template"]["spec"]["containers"][0]["image"] for d in objects(plan, "Deployment")
    }


def test_without_manifests_the_offline_plan_says_the_toolkit_is_not_expanded(
    tmp_path: Path,
) -> None:
    plan = repo_plan("qa", flux_manifests=None)
    assert plan.manifest is None
    assert not objects(plan, "Deployment")
    text = summary(plan, write_plan(plan, tmp_path))
    assert "NOT expanded" in text
    assert f"Flux {plan.settings.toolkit.version} install manifest" in text
    assert "--flux-manifests" in text


def settings(stack: str) -> Any:
    raw = {k: v for k, v in stack_document(stack)["config"].items()}
    return parse_stack_config(raw, stack)


def test_online_run_without_a_manifest_stops_with_a_clear_message(tmp_path: Path) -> None:
    dev = settings("dev")
    assert flux_manifest(dev, download=False) is None
    missing = dataclasses.replace(
        dev,
        toolkit=dataclasses.replace(dev.toolkit, manifests_file=str(tmp_path / "nowhere.yaml")),
    )
    with pytest.raises(pulumi.RunError) as error:
        flux_manifest(missing)
    assert f"Flux {dev.toolkit.version} manifest" in str(error.value)
    assert "nowhere.yaml" in str(error.value)


def test_pinned_checksum_is_enforced() -> None:
    dev = settings("dev")
    pinned = dataclasses.replace(
        dev,
        toolkit=dataclasses.replace(
            dev.toolkit, manifests_file=str(FLUX_V294), manifests_sha256="0" * 64
        ),
    )
    with pytest.raises(pulumi.RunError) as error:
        flux_manifest(pinned, download=False)
    assert "0" * 64 in str(error.value)


def test_repository_is_created_only_when_asked(plan_edited: Any) -> None:
    assert not repo_plan("dev").run.of_type("github:index/repository:Repository")

    def create(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:github"]["createRepository"] = True

    plan = plan_edited("dev", create)
    (repository,) = plan.run.of_type("github:index/repository:Repository")
    assert repository.plain_inputs["name"] == "eks-gitops"
    assert repository.plain_inputs["visibility"] == "private"
    assert repository.retain_on_delete is True
    (deploy_key,) = plan.run.of_type("github:index/repositoryDeployKey:RepositoryDeployKey")
    assert repository.urn in deploy_key.dependencies


def test_a_run_without_network_or_file_names_the_offline_ways_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    dev = settings("dev")
    with pytest.raises(pulumi.RunError) as error:
        flux_manifest(dev)
    message = str(error.value)
    url = f"https://github.com/fluxcd/flux2/releases/download/{dev.toolkit.version}/install.yaml"
    assert url in message
    assert "no route to host" in message
    assert "eks-gitops:toolkit.manifestsFile" in message
    assert "--flux-manifests FILE" in message
