"""Promotion moves pinned versions one environment on and changes nothing else. These tests pass
--unverified; tests/test_promote_gate.py covers the check it skips."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gitops.settings.model import EKS_ADDONS
from tests.gitops_support import (
    CLUSTERS,
    commit,
    copy_project,
    edit,
    edit_yaml,
    env_file,
    git,
    set_pin,
    snapshot,
)
from tools.gitops.cluster_tree import expand_cluster
from tools.gitops.kustomize import Builder
from tools.paths import REPO_ROOT
from tools.promotion.command import main
from tools.promotion.pins import promoted_charts, with_chart_pins

NEWER = "999.1.0"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy where dev and qa differ only in dev's newer prometheus-operator version."""
    root = copy_project(tmp_path)
    qa_pins = env_file((root / CLUSTERS / "qa/versions.env").read_text())
    dev = root / CLUSTERS / "dev/versions.env"
    for key, value in qa_pins.items():
        set_pin(dev, key, value)
    set_pin(dev, "prometheus_operator_version", NEWER)
    git(root, "init", "-q", "-b", "main")
    commit(root, "dev runs a newer prometheus-operator")
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
    assert "SKIP=1" in capsys.readouterr().err

    assert (
        main(["--from", "dev", "--to", "prod", "--skip", "--root", str(root), "--unverified"]) == 0
    )
    prod = env_file((root / CLUSTERS / "prod/versions.env").read_text())
    assert prod["prometheus_operator_version"] == NEWER


@pytest.mark.parametrize(("source", "target"), [("qa", "dev"), ("prod", "qa"), ("qa", "qa")])
def test_refuses_backwards(
    root: Path, source: str, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(root)
    assert (
        main(["--from", source, "--to", target, "--skip", "--root", str(root), "--unverified"]) != 0
    )
    assert snapshot(root) == before
    assert "not forward" in capsys.readouterr().err


def test_rewrite_keeps_formatting() -> None:
    text = "# pins\r\nchart_a = 1.0.0   # chosen\r\n\r\nchart_b=2.0.0\r\n#chart_a=0.1\r\n"
    assert with_chart_pins(text, {"chart_a": "1.1.0"}) == (
        "# pins\r\nchart_a = 1.1.0   # chosen\r\n\r\nchart_b=2.0.0\r\n#chart_a=0.1\r\n"
    )


def test_plan_only_touches_keys_the_target_pins() -> None:
    promotion = promoted_charts("a=2\nb=1\nc=5\n", "b=1\na=1\n")
    assert [(c.name, c.old, c.new) for c in promotion.changes] == [("a", "1", "2")]
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
    commit(root, "dev: Flux v2.10.0")
    qa_file = root / "Pulumi.qa.yaml"
    qa_before = qa_file.read_text()
    before = snapshot(root)

    assert promote(root, "dev", "qa") == 0

    after = snapshot(root)
    changed = {name for name in before if before[name] != after[name]}
    # qa's record of its toolkit (`make render`) names the Flux version, so it moves too.
    assert changed == {
        "Pulumi.qa.yaml",
        "gitops/aws/clusters/qa/versions.env",
        "gitops/aws/clusters/qa/gitops-system/toolkit.lock.yaml",
    }
    lock = yaml.safe_load((root / CLUSTERS / "qa/gitops-system/toolkit.lock.yaml").read_text())
    assert lock["flux"]["version"] == "v2.10.0"
    # qa keeps its CIDRs, node sizes, endpoint ranges, comments: only the Flux version line moves.
    assert changed_lines(qa_before, qa_file.read_text()) == [
        ("    version: v2.9.4\n", "    version: v2.10.0\n")
    ]
    captured = capsys.readouterr()
    assert "UNVERIFIED" in captured.err
    assert "qa: eks-gitops:toolkit.version v2.9.4 -> v2.10.0" in captured.out


def test_kubernetes_and_addon_versions_move_together(root: Path) -> None:
    # qa runs 1.35 and prod 1.34 in the stack files as committed; prod's region, zones, sizes,
    # protection and branch are its own.
    prod_file = root / "Pulumi.prod.yaml"
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
    commit(root, "dev: Flux v2.10.0")
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
    def command(*variables: str) -> list[str]:
        # -n prints the recipes without running them (nor the virtualenv set-up they depend on).
        completed = subprocess.run(
            ["make", "-n", "promote", *variables],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        lines = [line for line in completed.stdout.splitlines() if "-m tools.promotion" in line]
        assert len(lines) == 1
        return shlex.split(lines[0])

    assert command("FROM=dev", "TO=qa")[-4:] == ["--from", "dev", "--to", "qa"]
    assert command("FROM=dev", "TO=qa", "UNVERIFIED=1")[-1] == "--unverified"
    assert "--skip" in command("FROM=dev", "TO=qa", "SKIP=1")
    assert "--force" in command("FROM=dev", "TO=qa", "FORCE=1")
    assert "--unverified" not in command("FROM=dev", "TO=qa", "SKIP=1")
    # A missing variable reaches the command as an empty value, which it names in one line.
    assert command("FROM=dev")[-4:] == ["--from", "dev", "--to", ""]


@pytest.mark.parametrize(
    ("argv", "variable"), [(["--to", "qa"], "FROM"), (["--from", "dev"], "TO")]
)
def test_a_missing_from_or_to_is_one_line(
    root: Path, argv: list[str], variable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--root", str(root), "--unverified"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"refused: {variable} is not set: make promote FROM=")


def set_kubernetes(path: Path, version: str) -> None:
    """Move a stack file to a Kubernetes minor, with a kube-proxy of that minor as EKS builds it."""

    def change(document: dict[str, Any]) -> None:
        cluster = document["config"]["eks-gitops:cluster"]
        cluster["kubernetesVersion"] = version
        cluster["addons"]["kube-proxy"] = f"v{version}.0-eksbuild.1"

    edit_yaml(path, change)


def test_a_kubernetes_jump_of_two_minors_is_refused(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Amazon EKS User Guide, "Update existing cluster to new Kubernetes version": a control plane
    # is updated one minor version at a time; the update API rejects a larger step.
    set_kubernetes(root / "Pulumi.qa.yaml", "1.34")
    set_kubernetes(root / "Pulumi.dev.yaml", "1.36")
    commit(root, "dev on 1.36, qa on 1.34")
    before = snapshot(root)
    assert promote(root, "dev", "qa") == 2
    assert snapshot(root) == before
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("refused")]
    assert "eks-gitops:cluster.kubernetesVersion would jump from 1.34 to 1.36" in line
    assert "FORCE=1" in line


def test_one_minor_at_a_time_promotes(root: Path) -> None:
    set_kubernetes(root / "Pulumi.qa.yaml", "1.35")
    set_kubernetes(root / "Pulumi.dev.yaml", "1.36")
    commit(root, "dev on 1.36")
    assert promote(root, "dev", "qa") == 0
    qa = yaml.safe_load((root / "Pulumi.qa.yaml").read_text())["config"]["eks-gitops:cluster"]
    assert qa["kubernetesVersion"] == "1.36"


@pytest.mark.parametrize(
    ("edit_dev", "refusal"),
    [
        (
            ("    version: v2.9.4\n", "    version: v2.8.5\n"),
            "eks-gitops:toolkit.version would go down from v2.9.4 to v2.8.5",
        ),
        (
            ("coredns: v1.13.2-eksbuild.1", "coredns: v1.13.1-eksbuild.9"),
            "eks-gitops:cluster.addons.coredns would go down from v1.13.2-eksbuild.1 to "
            "v1.13.1-eksbuild.9",
        ),
    ],
    ids=["flux", "add-on"],
)
def test_a_downgrade_is_refused_unless_forced(
    root: Path,
    edit_dev: tuple[str, str],
    refusal: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    edit(root / "Pulumi.dev.yaml", *edit_dev)
    commit(root, "dev goes back")
    before = snapshot(root)
    assert promote(root, "dev", "qa") == 2
    assert snapshot(root) == before
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("refused")]
    assert refusal in line
    assert "FORCE=1" in line
    argv = ["--from", "dev", "--to", "qa", "--root", str(root), "--unverified", "--force"]
    assert main(argv) == 0
    assert edit_dev[1].strip() in (root / "Pulumi.qa.yaml").read_text()


def test_a_chart_downgrade_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_pin(root / CLUSTERS / "dev/versions.env", "prometheus_operator_version", "1.0.0")
    commit(root, "dev on an old chart")
    assert promote(root, "dev", "qa") == 2
    assert "prometheus_operator_version would go down" in capsys.readouterr().err


def test_uncommitted_source_pins_are_refused_even_unverified(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(root / "Pulumi.dev.yaml", "    version: v2.9.4\n", "    version: v2.9.5\n")
    before = snapshot(root)
    assert promote(root, "dev", "qa") == 2
    assert snapshot(root) == before
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("refused: Pulumi.dev.yaml has changes that are not committed")
