"""envdiff: expanded manifests of two clusters, and the two stacks' offline plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitops_support import CLUSTERS, copy_tree, env_file, set_pin
from tools import envdiff

FAKE_PLAN = """
import argparse, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--stack")
parser.add_argument("--out")
args = parser.parse_args()
target = pathlib.Path(args.out) / args.stack
target.mkdir(parents=True)
(target / "resources.json").write_text('{"stack": "%s"}\\n' % args.stack)
(target / "manifests.yaml").write_text("kind: ConfigMap\\n")
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_tree(tmp_path / "repo")


def fake_project(directory: Path, plan_source: str | None) -> Path:
    (directory / "tools").mkdir(parents=True)
    (directory / "tools/__init__.py").write_text("")
    if plan_source is not None:
        (directory / "tools/plan.py").write_text(plan_source)
    return directory


def test_manifest_diff_shows_versions_and_dev_only_release(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    set_pin(root / CLUSTERS / "dev/versions.env", "prometheus_operator_version", "999.1.0")
    qa = env_file((root / CLUSTERS / "qa/versions.env").read_text())
    monkeypatch.setattr(envdiff, "REPO_ROOT", fake_project(tmp_path / "p", FAKE_PLAN))
    assert envdiff.main(["--from", "dev", "--to", "qa", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "--- dev/manifests" in out and "+++ qa/manifests" in out
    assert "-  name: traefik\n" in out
    assert "+  name: traefik\n" not in out
    assert "-          environment: dev\n" in out
    assert "+          environment: qa\n" in out
    assert "-      version: 999.1.0\n" in out
    assert f"+      version: {qa['prometheus_operator_version']}\n" in out
    # the plans of the two stacks, as the (fake) plan tool wrote them
    assert '-{"stack": "dev"}\n+{"stack": "qa"}\n' in out
    assert "qa/manifests.yaml" not in out  # identical plan manifests give no hunk


def test_missing_plan_tool_is_reported_and_manifests_still_diffed(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(envdiff, "REPO_ROOT", fake_project(tmp_path / "p", None))
    assert envdiff.main(["--from", "qa", "--to", "prod", "--root", str(root)]) == 1
    captured = capsys.readouterr()
    assert "+    branch: production\n" in captured.out
    assert "offline plan of stack qa failed" in captured.err
    assert "offline plan of stack prod failed" in captured.err


def test_failing_plan_tool_is_reported(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = "import sys\nsys.exit('no stack file for this stack')\n"
    monkeypatch.setattr(envdiff, "REPO_ROOT", fake_project(tmp_path / "p", failing))
    assert envdiff.main(["--from", "dev", "--to", "qa", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "offline plan of stack dev failed (exit 1: no stack file for this stack)" in err
