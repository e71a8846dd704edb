"""Promotion moves pinned versions one environment on and changes nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitops_support import CLUSTERS, copy_tree, env_file, set_pin, snapshot
from tools.gitops.cluster_tree import expand_cluster
from tools.gitops.kustomize import Builder
from tools.gitops.versions import plan_promotion, with_pins
from tools.promote import main

NEWER = "999.1.0"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy where dev and qa differ only in dev's newer prometheus-operator version."""
    root = copy_tree(tmp_path)
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

    assert main(["--from", "dev", "--to", "qa", "--root", str(root)]) == 0

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
    assert main(["--from", "dev", "--to", "qa", "--root", str(root)]) == 0
    before = snapshot(root)
    capsys.readouterr()
    assert main(["--from", "dev", "--to", "qa", "--root", str(root)]) == 0
    assert snapshot(root) == before
    assert "nothing to promote" in capsys.readouterr().out


def test_refuses_to_skip_an_environment(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(root)
    assert main(["--from", "dev", "--to", "prod", "--root", str(root)]) != 0
    assert snapshot(root) == before
    assert "--allow-skip" in capsys.readouterr().err

    assert main(["--from", "dev", "--to", "prod", "--allow-skip", "--root", str(root)]) == 0
    prod = env_file((root / CLUSTERS / "prod/versions.env").read_text())
    assert prod["prometheus_operator_version"] == NEWER


@pytest.mark.parametrize(("source", "target"), [("qa", "dev"), ("prod", "qa"), ("qa", "qa")])
def test_refuses_backwards(
    root: Path, source: str, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(root)
    assert main(["--from", source, "--to", target, "--allow-skip", "--root", str(root)]) != 0
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
