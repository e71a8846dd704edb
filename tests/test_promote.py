"""Promotion moves pinned versions one environment on and changes nothing else. These tests pass
--unverified; tests/test_promote_gate.py covers the check it skips."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from eks_gitops.settings.model import EKS_ADDONS, ENVIRONMENTS
from tests.gitops_support import (
    CLUSTERS,
    align_flux_versions,
    copy_tree,
    edit,
    env_file,
    set_pin,
    snapshot,
)
from tools.gitops.cluster_tree import expand_cluster
from tools.gitops.kustomize import Builder
from tools.gitops.versions import plan_promotion, with_pins
from tools.paths import REPO_ROOT
from tools.promote import main

NEWER = "999.1.0"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy where dev and qa differ only in dev's newer prometheus-operator version."""
    root = copy_tree(tmp_path)
    for stack in ENVIRONMENTS:
        shutil.copy(REPO_ROOT / f"Pulumi.{stack}.yaml", root)
    align_flux_versions(root, "dev", like="qa")
    qa_pins = env_file((root / CLUSTERS / "qa/versions.env").read_text())
    dev = root / CLUSTERS / "dev/versions.env"
    for key, value in qa_pins.items():
        set_pin(dev, key, value)
    set_pin(dev, "prometheus_operator_version", NEWER)
    return root


def test_promotes_exactly_the_newer_version(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qa_file = root / CLUSTERS / "qa/versions.env"
    qa_before = qa_file.read_text()
    old = env_file(qa_before)["prometheus_operator_version"]
    before = snapshot(root)

    assert main(["--from", "dev", "--to", "qa", "--root", str(root), "--unverified"]) == 0

    after = snapshot(root)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"gitops/aws/clusters/qa/versions.env"}
    assert set(after) == set(before)
    expected = qa_before.replace(
        f"prometheus_operator_version={old}\n", f"prometheus_operator_version={NEWER}\n"
    )
    assert qa_file.read_text() == expected
    out = capsys.readouterr().out
    assert f"prometheus_operator_version {old} -> {NEWER}" in out
    assert "traefik_version" in out  # dev-only chart is reported, not added
    assert "traefik_version" not in qa_file.read_text()

    qa = expand_cluster(root, root / CLUSTERS / "qa", Builder())
    release = qa.find("HelmRelease", "gitops-system", "prometheus-operator")
    assert release is not None
    assert release.spec["chart"]["spec"]["version"] == NEWER


def test_second_promotion_changes_nothing(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--from", "dev", "--to", "qa", "--root", str(root), "--unverified"]) == 0
    before = snapshot(root)
    capsys.readouterr()
    assert main(["--from", "dev", "--to", "qa", "--root", str(root), "--unverified"]) == 0
    assert snapshot(root) == before
    assert "nothing to promote" in capsys.readouterr().out


def test_refuses_to_skip_an_environment(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(root)
    assert main(["--from", "dev", "--to", "prod", "--root", str(root), "--unverified"]) != 0
    assert snapshot(root) == before
    assert "--allow-skip" in capsys.readouterr().err

    assert (
        main(["--from", "dev", "--to", "prod", "--allow-skip", "--root", str(root), "--unverified"])
        == 0
    )
    prod = env_file((root / CLUSTERS / "prod/versions.env").read_text())
    assert prod["prometheus_operator_version"] == NEWER


@pytest.mark.parametrize(("source", "target"), [("qa", "dev"), ("prod", "qa"), ("qa", "qa")])
def test_refuses_backwards(
    root: Path, source: str, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(root)
    assert (
        main(
            ["--from", source, "--to", target, "--allow-skip", "--root", str(root), "--unverified"]
        )
        != 0
    )
    assert snapshot(root) == before
    assert "not forward" in capsys.readouterr().err


def test_rewrite_keeps_formatting() -> None:
    text = "# pins\r\nchart_a = 1.0.0   # chosen\r\n\r\nchart_b=2.0.0\r\n#chart_a=0.1\r\n"
    assert with_pins(text, {"chart_a": "1.1.0"}) == (
        "# pins\r\nchart_a = 1.1.0   # chosen\r\n\r\nchart_b=2.0.0\r\n#chart_a=0.1\r\n"
    )


def test_plan_only_touches_keys_the_target_pins() -> None:
    promotion = plan_promotion("a=2\nb=1\nc=5\n", "b=1\na=1\n")
    assert [(c.key, c.old, c.new) for c in promotion.changes] == [("a", "1", "2")]
    assert promotion.not_pinned == ("c",)
    assert promotion.text == "b=1\na=2\n"


def promote(root: Path, source: str, target: str) -> int:
    return main(["--from", source, "--to", target, "--root", str(root), "--unverified"])


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(old, new) for each line that differs; the line structure must be the same."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_unverified_moves_a_new_flux_version_and_nothing_environment_specific(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(root / "Pulumi.dev.yaml", "    version: v2.9.4\n", "    version: v2.10.0\n")
    qa_file = root / "Pulumi.qa.yaml"
    qa_before = qa_file.read_text()
    before = snapshot(root)

    assert promote(root, "dev", "qa") == 0

    after = snapshot(root)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"Pulumi.qa.yaml", "gitops/aws/clusters/qa/versions.env"}
    # qa keeps its CIDRs, node sizes, endpoint ranges, comments: only the Flux version line moves.
    assert changed_lines(qa_before, qa_file.read_text()) == [
        ("    version: v2.9.4\n", "    version: v2.10.0\n")
    ]
    captured = capsys.readouterr()
    assert "UNVERIFIED" in captured.err
    assert "qa: eks-gitops:toolkit.version v2.9.4 -> v2.10.0" in captured.out


# The pins prod had before it was promoted to qa's 1.35.
PROD_ON_1_34 = {
    'kubernetesVersion: "1.35"': 'kubernetesVersion: "1.34"',
    "vpc-cni: v1.21.1-eksbuild.3": "vpc-cni: v1.20.4-eksbuild.2",
    "kube-proxy: v1.35.0-eksbuild.2": "kube-proxy: v1.34.0-eksbuild.2",
    "coredns: v1.13.2-eksbuild.1": "coredns: v1.12.3-eksbuild.1",
    "aws-ebs-csi-driver: v1.55.0-eksbuild.1": "aws-ebs-csi-driver: v1.54.0-eksbuild.1",
}


def test_kubernetes_and_addon_versions_move_together(root: Path) -> None:
    # qa runs 1.35 and prod, put back here, 1.34; prod's region, zones, sizes, protection and branch
    # are its own.
    prod_file = root / "Pulumi.prod.yaml"
    for new, old in PROD_ON_1_34.items():
        edit(prod_file, new, old)
    prod_before = prod_file.read_text()
    qa = yaml.safe_load((root / "Pulumi.qa.yaml").read_text())["config"]["eks-gitops:cluster"]

    assert promote(root, "qa", "prod") == 0

    expected = [
        ('    kubernetesVersion: "1.34"\n', f'    kubernetesVersion: "{qa["kubernetesVersion"]}"\n')
    ]
    for line in prod_before.splitlines(keepends=True):
        name = line.strip().split(":", 1)[0]
        if line.startswith("      ") and name in EKS_ADDONS:
            expected.append((line, f"      {name}: {qa['addons'][name]}\n"))
    assert len(expected) == 1 + len(EKS_ADDONS)
    assert changed_lines(prod_before, prod_file.read_text()) == expected


def test_a_digest_is_never_left_beside_another_version(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = "ab" * 32
    edit(root / "Pulumi.dev.yaml", "    version: v2.9.4\n", "    version: v2.10.0\n")
    edit(
        root / "Pulumi.qa.yaml",
        "    version: v2.9.4\n",
        f'    version: v2.9.4\n    manifestsSha256: "{digest}"\n',
    )
    before = snapshot(root)
    assert promote(root, "dev", "qa") == 2
    assert snapshot(root) == before
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("refused: ")
    assert "make pin-flux STACK=dev" in err[-1]


def test_make_promote_maps_its_variables_to_flags() -> None:
    def command(*variables: str) -> str:
        # -n prints the recipes without running them (nor the virtualenv set-up they depend on).
        completed = subprocess.run(
            ["make", "-n", "promote", "FROM=dev", "TO=qa", *variables],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        lines = [line for line in completed.stdout.splitlines() if "-m tools.promote" in line]
        assert len(lines) == 1
        return lines[0]

    assert command().split()[-4:] == ["--from", "dev", "--to", "qa"]
    assert command("UNVERIFIED=1").split()[-1] == "--unverified"
    assert "--allow-skip" in command("SKIP=1").split()
    assert "--unverified" not in command("SKIP=1").split()
