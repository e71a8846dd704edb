"""The real gitops/ tree: it validates, and each cluster runs what it pins."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gitops.settings.environments import read_environments
from eks_gitops.settings.parse import parse_go_duration, parse_stack_config
from tests.conftest import stack_document
from tests.gitops_support import CLUSTERS, env_file, flux_timeout_seconds
from tools.gitops.cluster_tree import ClusterTree, expand_cluster, is_flux_kustomization
from tools.gitops.kustomize import Builder
from tools.paths import REPO_ROOT
from tools.validate import validate

ENVIRONMENTS = read_environments().names


@pytest.fixture(scope="module")
def clusters() -> dict[str, ClusterTree]:
    builder = Builder()
    return {
        env: expand_cluster(REPO_ROOT, REPO_ROOT / CLUSTERS / env, builder) for env in ENVIRONMENTS
    }


def helm_releases(cluster: ClusterTree) -> dict[str, dict[str, Any]]:
    return {m.name: dict(m.body) for m in cluster.manifests.values() if m.kind == "HelmRelease"}


def chart_version(release: dict[str, Any]) -> Any:
    return release["spec"]["chart"]["spec"]["version"]


def test_real_tree_validates_from_the_command_line() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tools.validate"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = completed.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == list(ENVIRONMENTS)
    assert all(": ok," in line for line in lines)


def test_real_tree_has_no_problems() -> None:
    report = validate(REPO_ROOT)
    assert report.problems == ()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cluster_path_builds_with_kubectl(env: str) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(REPO_ROOT / CLUSTERS / env)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    documents = [doc for doc in yaml.safe_load_all(built) if doc]
    config_maps = [d for d in documents if d["kind"] == "ConfigMap"]
    assert [c["metadata"]["name"] for c in config_maps] == ["chart-versions"]
    pins = env_file((REPO_ROOT / CLUSTERS / env / "versions.env").read_text())
    assert config_maps[0]["data"] == pins
    assert config_maps[0]["metadata"]["namespace"] == "gitops-system"
    # The generated record is not synced by Flux.
    assert not any(d["kind"] in ("GitRepository", "Secret") for d in documents)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_cluster_runs_both_releases_at_its_own_pinned_versions(
    env: str, clusters: dict[str, ClusterTree]
) -> None:
    pins = env_file((REPO_ROOT / CLUSTERS / env / "versions.env").read_text())
    releases = helm_releases(clusters[env])
    assert chart_version(releases["prometheus-operator"]) == pins["prometheus_operator_version"]
    assert chart_version(releases["sumologic"]) == pins["sumologic_version"]
    for release in releases.values():
        assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
        assert release["metadata"]["namespace"] == "gitops-system"


def test_only_dev_runs_the_extra_ingress_controller(clusters: dict[str, ClusterTree]) -> None:
    dev = helm_releases(clusters["dev"])
    assert (
        chart_version(dev["traefik"])
        == env_file((REPO_ROOT / CLUSTERS / "dev" / "versions.env").read_text())["traefik_version"]
    )
    assert dev["traefik"]["spec"]["targetNamespace"] == "ingress"
    for env in ("qa", "prod"):
        assert "traefik" not in helm_releases(clusters[env])
        assert clusters[env].find("HelmRepository", "gitops-system", "traefik") is None


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_profile_gets_cluster_variables(env: str, clusters: dict[str, ClusterTree]) -> None:
    app_cluster = clusters[env].find("Kustomization", "gitops-system", "app-cluster")
    assert app_cluster is not None
    spec = app_cluster.spec
    assert spec["path"] == "./gitops/aws/common/app-clusters"
    assert spec["prune"] is True
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": "gitops-system"}
    assert set(spec["postBuild"]["substitute"]) == {"cluster_name", "environment", "domain"}
    assert spec["postBuild"]["substitute"]["environment"] == env
    cluster_name = spec["postBuild"]["substitute"]["cluster_name"]
    sumologic = helm_releases(clusters[env])["sumologic"]
    assert sumologic["spec"]["values"]["sumologic"]["clusterName"] == cluster_name
    # Nothing is left unsubstituted in what the cluster gets.
    rendered = yaml.safe_dump([dict(m.body) for m in clusters[env].manifests.values()])
    assert "${" not in rendered


def test_sumologic_credentials_only_come_from_the_pulumi_secret(
    clusters: dict[str, ClusterTree],
) -> None:
    for cluster in clusters.values():
        spec = helm_releases(cluster)["sumologic"]["spec"]
        assert spec["valuesFrom"] == [
            {
                "kind": "Secret",
                "name": "sumologic-credentials",
                "valuesKey": "accessId",
                "targetPath": "sumologic.accessId",
            },
            {
                "kind": "Secret",
                "name": "sumologic-credentials",
                "valuesKey": "accessKey",
                "targetPath": "sumologic.accessKey",
            },
        ]
        values = spec["values"]["sumologic"]
        assert "accessId" not in values and "accessKey" not in values


def test_helm_repositories_are_current_sources(clusters: dict[str, ClusterTree]) -> None:
    urls = {
        m.name: m.spec["url"]
        for m in clusters["dev"].manifests.values()
        if m.kind == "HelmRepository"
    }
    assert urls == {
        "prometheus-community": "https://prometheus-community.github.io/helm-charts",
        "sumologic": "https://sumologic.github.io/sumologic-kubernetes-collection",
        "traefik": "https://traefik.github.io/charts",
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_generated_record_matches_the_cluster(env: str) -> None:
    record = REPO_ROOT / CLUSTERS / env / "gitops-system"
    lock = yaml.safe_load((record / "toolkit.lock.yaml").read_text())
    assert lock["stack"] == env
    assert lock["flux"]["namespace"] == "gitops-system"
    sync = {d["kind"]: d for d in yaml.safe_load_all((record / "gotk-sync.yaml").read_text()) if d}
    assert sync["Kustomization"]["spec"]["path"] == f"./gitops/aws/clusters/{env}"
    expected_branch = "production" if env == "prod" else "main"
    assert sync["GitRepository"]["spec"]["ref"] == {"branch": expected_branch}
    cluster_kustomization = yaml.safe_load(
        (REPO_ROOT / CLUSTERS / env / "kustomization.yaml").read_text()
    )
    assert not any("gitops-system" in entry for entry in cluster_kustomization["resources"])


CREDENTIAL_PATTERNS = (
    re.compile(r"AKIA[0-9A-Z]{16}"),
    re.compile(r"BEGIN [A-Z ]*PRIVATE KEY"),
    re.compile(r"(?i)(password|secretkey|accesskey|token)\s*[:=]\s*['\"]?[^\s'\"{$]"),
)


def test_no_credential_looking_text_under_gitops() -> None:
    for path in (REPO_ROOT / "gitops").rglob("*"):
        if path.is_file():
            text = path.read_text()
            for pattern in CREDENTIAL_PATTERNS:
                assert not pattern.search(text), f"{path}: {pattern.pattern}"


def flux_kustomizations(root: Path) -> list[tuple[Path, Mapping[str, Any]]]:
    """Every Flux Kustomization written anywhere under gitops/, the generated records included."""
    return [
        (path, document)
        for path in sorted((root / "gitops").rglob("*.y*ml"))
        for document in yaml.safe_load_all(path.read_text())
        if isinstance(document, dict) and is_flux_kustomization(document)
    ]


def teardown_problems(kustomizations: list[tuple[Path, Mapping[str, Any]]]) -> list[str]:
    # Flux Kustomization v1 API reference
    # (https://fluxcd.io/flux/components/kustomize/kustomizations/, "Deletion policy",
    # "Timeout", "Wait"): with the default deletionPolicy, MirrorPrune, deleting a Kustomization
    # deletes what it applied in the background and lets the Kustomization go at once;
    # WaitForTermination holds it until all of that is gone from etcd, for at most spec.timeout
    # (which otherwise defaults to the interval). `wait` makes Ready mean every applied object is
    # healthy, which the bootstrap Kustomization's own wait relies on.
    problems = []
    for path, document in kustomizations:
        spec = document.get("spec") or {}
        name = f"{path.relative_to(REPO_ROOT)}: {document['metadata']['name']}"
        if spec.get("deletionPolicy") != "WaitForTermination":
            problems.append(f"{name}: deletionPolicy is not WaitForTermination")
        if "timeout" not in spec:
            problems.append(f"{name}: no explicit timeout")
        if spec.get("wait") is not True:
            problems.append(f"{name}: wait is not true")
    return problems


def test_every_flux_kustomization_waits_for_its_objects_and_has_a_timeout() -> None:
    kustomizations = flux_kustomizations(REPO_ROOT)
    # app-cluster and cluster-secrets in each cluster, ingress-traefik in dev, the bootstrap
    # record in each cluster.
    assert len(kustomizations) == 10
    assert teardown_problems(kustomizations) == []


def test_a_kustomization_that_would_not_wait_on_delete_is_caught() -> None:
    [(path, app_cluster), *_] = [
        (p, k) for p, k in flux_kustomizations(REPO_ROOT) if k["metadata"]["name"] == "app-cluster"
    ]
    spec = {k: v for k, v in app_cluster["spec"].items() if k not in ("deletionPolicy", "timeout")}
    doctored = {**app_cluster, "spec": spec}
    name = f"{path.relative_to(REPO_ROOT)}: app-cluster"
    assert teardown_problems([(path, doctored)]) == [
        f"{name}: deletionPolicy is not WaitForTermination",
        f"{name}: no explicit timeout",
    ]


def longest_chain_seconds(kustomizations: Mapping[str, Mapping[str, Any]]) -> int:
    """The longest run of Flux timeouts along dependsOn: a Kustomization starts only once those it
    depends on are Ready (Flux Kustomization v1 API reference, "Dependencies")."""

    def chain(name: str) -> int:
        spec = kustomizations[name]["spec"]
        before = [
            chain(d["name"]) for d in spec.get("dependsOn", ()) if d["name"] in kustomizations
        ]
        return flux_timeout_seconds(spec) + max(before, default=0)

    return max((chain(name) for name in kustomizations), default=0)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_bootstrap_timeout_covers_the_tree_below_it(
    env: str, clusters: dict[str, ClusterTree]
) -> None:
    settings = parse_stack_config(json.loads(json.dumps(stack_document(env)["config"])), env)
    namespace = settings.toolkit.namespace
    children = {
        m.name: m.body
        for m in clusters[env].manifests.values()
        if is_flux_kustomization(m.body) and (m.namespace, m.name) != (namespace, namespace)
    }
    assert children
    # The bootstrap Kustomization health-checks its children within its own timeout (`wait`), and
    # on delete waits that long for them to finish their own WaitForTermination; a shorter timeout
    # would fail `up` on a tree that is still converging, or let go before the tree is gone.
    bootstrap = parse_go_duration(settings.sync.timeout) // 10**9
    assert bootstrap >= longest_chain_seconds(children)
