"""The validator fails on broken copies of the tree, naming the file, the object and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eks_gitops.settings.environments import read_environments
from tests.gitops_support import CLUSTERS, copy_tree, edit, edit_yaml
from tools.gitops.substitution import substitute, unresolved_variables
from tools.validate import main

ENVIRONMENTS = read_environments().names


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_tree(tmp_path)


def problems(root: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["--root", str(root)]) == 1
    return capsys.readouterr().out.splitlines()


def has_line(lines: list[str], file: str, obj: str, field: str, *words: str) -> bool:
    prefix = f"{file}: {obj}: {field}: "
    return any(line.startswith(prefix) and all(w in line for w in words) for line in lines)


def test_copy_of_real_tree_is_clean(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(root)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_dangling_source_ref(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = root / "gitops/aws/common/app-clusters/helmrepositories.yaml"
    edit(profile, "  name: sumologic\n", "  name: sumo-logic\n")
    lines = problems(root, capsys)
    for env in ENVIRONMENTS:
        assert has_line(
            lines,
            "gitops/base/sumologic/helmrelease.yaml",
            "HelmRelease/gitops-system/sumologic",
            "spec.chart.spec.sourceRef",
            "HelmRepository gitops-system/sumologic does not exist",
            f"cluster {env}",
        ), lines


def test_missing_kustomization_path(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app_cluster = root / CLUSTERS / "qa/common/app-cluster.yaml"
    edit(app_cluster, "path: ./gitops/aws/common/app-clusters", "path: ./gitops/aws/common/apps")
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/aws/clusters/qa/common/app-cluster.yaml",
        "Kustomization/gitops-system/app-cluster",
        "spec.path",
        "./gitops/aws/common/apps",
    ), lines
    # qa's releases are gone with the path; other clusters are unaffected.
    assert all("clusters/dev" not in line and "clusters/prod" not in line for line in lines)


def test_old_api_version(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for relative in (
        "gitops/base/prometheus-operator/helmrelease.yaml",
        "gitops/aws/common/app-clusters/patches/prometheus-operator.yaml",
    ):
        edit(root / relative, "helm.toolkit.fluxcd.io/v2\n", "helm.toolkit.fluxcd.io/v2beta1\n")
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/base/prometheus-operator/helmrelease.yaml",
        "HelmRelease/gitops-system/prometheus-operator",
        "apiVersion",
        "helm.toolkit.fluxcd.io/v2beta1",
        "use helm.toolkit.fluxcd.io/v2",
    ), lines


def test_undefined_postbuild_variable(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patch = root / "gitops/aws/common/app-clusters/patches/sumologic.yaml"
    edit(patch, "${sumologic_version}", "${sumologic_chart_version}")
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/aws/common/app-clusters/patches/sumologic.yaml",
        "HelmRelease/gitops-system/sumologic",
        "spec.chart.spec.version",
        "${sumologic_chart_version} is not defined",
    ), lines


def test_credential_in_values(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    release = root / "gitops/base/prometheus-operator/helmrelease.yaml"
    edit(release, "      defaultDashboardsTimezone: utc\n", "      adminPassword: hunter2\n")
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/base/prometheus-operator/helmrelease.yaml",
        "HelmRelease/gitops-system/prometheus-operator",
        "spec.values.grafana.adminPassword",
        "literal credential",
    ), lines


def test_credential_in_a_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_id = "AKIA" + "Q" * 16
    (root / "gitops/base/sumologic/notes.md").write_text(f"# notes\nuse {key_id}\n")
    private_key = "-----BEGIN " + "OPENSSH PRIVATE KEY-----"
    (root / CLUSTERS / "dev/id_ed25519").write_text(private_key + "\n")
    lines = problems(root, capsys)
    assert has_line(lines, "gitops/base/sumologic/notes.md", "-", "line 2", "AWS access key id")
    assert has_line(lines, "gitops/aws/clusters/dev/id_ed25519", "-", "line 1", "PEM private key")


def test_missing_required_field(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(root / CLUSTERS / "prod/common/app-cluster.yaml", "  prune: true\n", "")
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/aws/clusters/prod/common/app-cluster.yaml",
        "Kustomization/gitops-system/app-cluster",
        "spec.prune",
        "required",
    ), lines


def test_kind_whose_controller_is_not_installed(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def without_helm_controller(lock: dict[str, Any]) -> None:
        lock["flux"]["components"].remove("helm-controller")

    edit_yaml(root / CLUSTERS / "qa/gitops-system/toolkit.lock.yaml", without_helm_controller)
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/base/sumologic/helmrelease.yaml",
        "HelmRelease/gitops-system/sumologic",
        "kind",
        "needs helm-controller",
    ), lines


def test_values_from_a_secret_the_cluster_lacks(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def without_credentials(lock: dict[str, Any]) -> None:
        lock["objects"] = [o for o in lock["objects"] if o["name"] != "sumologic-credentials"]

    edit_yaml(root / CLUSTERS / "prod/gitops-system/toolkit.lock.yaml", without_credentials)
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/base/sumologic/helmrelease.yaml",
        "HelmRelease/gitops-system/sumologic",
        "spec.valuesFrom[0]",
        "Secret gitops-system/sumologic-credentials does not exist in cluster prod",
    ), lines


def test_generated_record_listed_for_sync(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(
        root / CLUSTERS / "dev/kustomization.yaml",
        "  - common/app-cluster.yaml\n",
        "  - common/app-cluster.yaml\n  - gitops-system/gotk-sync.yaml\n",
    )
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/aws/clusters/dev/gitops-system/gotk-sync.yaml",
        "GitRepository/gitops-system/gitops-system",
        "metadata.name",
        "also applied by",
    ), lines


def test_build_failure_names_the_kustomization(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        root / "gitops/aws/common/ingress-traefik/kustomization.yaml",
        "helmrepository.yaml",
        "nope.yaml",
    )
    lines = problems(root, capsys)
    assert has_line(
        lines, "gitops/aws/common/ingress-traefik/kustomization.yaml", "-", "-", "build failed"
    ), lines


def test_substitution_follows_flux_semantics() -> None:
    variables = {"name": "eks-dev", "empty": ""}
    result = substitute(
        "a=${name} b=${missing:=fallback} c=${empty:=filled} d=${empty=kept} e=$${name} f=${missing}",
        variables,
    )
    assert result.text == "a=eks-dev b=fallback c=filled d= e=${name} f="
    assert result.undefined == ("missing",)
    assert substitute("${1bad}", {}).invalid == ("1bad",)


def test_unresolved_variables_name_the_field() -> None:
    manifest = {"spec": {"values": {"labels": ["x", "${cluster}"], "y": "${known}"}}}
    found = unresolved_variables(manifest, {"known": "1"})
    assert [(u.field, u.token) for u in found] == [("spec.values.labels[1]", "${cluster")]


def test_directory_no_cluster_syncs_is_still_checked(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unused = root / "gitops/aws/common/unused"
    unused.mkdir()
    (unused / "kustomization.yaml").write_text("resources:\n  - source.yaml\n")
    (unused / "source.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\n"
        "kind: OCIRepository\n"
        "metadata:\n  name: charts\n  namespace: gitops-system\n"
        "spec:\n  url: https://example.com/charts\n  refs:\n    tag: v1\n"
    )
    lines = problems(root, capsys)
    file, obj = "gitops/aws/common/unused/source.yaml", "OCIRepository/gitops-system/charts"
    assert has_line(lines, file, obj, "spec.interval", "required field is missing"), lines
    assert has_line(lines, file, obj, "spec.url", "does not match"), lines
    assert has_line(lines, file, obj, "spec.refs", "unknown field"), lines


def test_values_from_a_key_the_config_map_lacks(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        root / "gitops/aws/common/app-clusters/patches/prometheus-operator.yaml",
        "spec:\n",
        "spec:\n  valuesFrom:\n    - kind: ConfigMap\n      name: chart-versions\n"
        "      valuesKey: grafana_version\n      targetPath: grafana.image.tag\n",
    )
    lines = problems(root, capsys)
    assert has_line(
        lines,
        "gitops/aws/common/app-clusters/patches/prometheus-operator.yaml",
        "HelmRelease/gitops-system/prometheus-operator",
        "spec.valuesFrom[0].valuesKey",
        "ConfigMap/gitops-system/chart-versions has no key grafana_version",
    ), lines
