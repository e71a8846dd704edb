"""envdiff: expanded manifests of two clusters, and the two stacks' offline plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitops_support import CLUSTERS, copy_tree, env_file, set_pin
from tools import envdiff

# Writes one resource whose URN and name carry the stack, and whose size differs per stack; records
# the material seed it must be given.
FAKE_PLAN = """
import argparse, json, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--stack")
parser.add_argument("--out")
parser.add_argument("--material-seed", required=True)
args = parser.parse_args()
target = pathlib.Path(args.out) / args.stack
target.mkdir(parents=True)
resource = {
    "type": "aws:ec2/vpc:Vpc",
    "name": "vpc",
    "urn": f"urn:pulumi:{args.stack}::eks-gitops::aws:ec2/vpc:Vpc::vpc",
    "inputs": {"name": f"gitops-{args.stack}", "size": len(args.stack)},
}
(target / "resources.json").write_text(json.dumps([resource]))
(target / "manifests.yaml").write_text("kind: ConfigMap\\n")
(target / "outputs.json").write_text(json.dumps({"seed": args.material_seed}))
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
    gitops, plans = out.split("### offline plans: dev → qa")
    assert "### gitops/aws/clusters: dev → qa" in gitops
    # dev alone runs traefik
    assert "| - removed | `helm.toolkit.fluxcd.io/v2 HelmRelease gitops-system/traefik` |" in gitops
    assert (
        f'`spec.chart.spec.version`: `"999.1.0"` → `"{qa["prometheus_operator_version"]}"`'
        in gitops
    )
    # Fields that differ only by the environment's name (`environment: dev`) are not shown.
    assert '"dev"' not in gitops and '"qa"' not in gitops
    # the plans of the two stacks, as the (fake) plan tool wrote them: the name that carries the
    # stack is normalised away, the size is not; both plans got the same material seed.
    assert "| ~ changed | `aws:ec2/vpc:Vpc::vpc` | `inputs.size`: `3` → `2` |" in plans
    assert "gitops-" not in plans
    assert "Stack outputs" not in plans
    assert "Kubernetes objects" not in plans  # identical plan manifests


def test_missing_plan_tool_is_reported_and_manifests_still_diffed(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(envdiff, "REPO_ROOT", fake_project(tmp_path / "p", None))
    assert envdiff.main(["--from", "qa", "--to", "prod", "--root", str(root)]) == 1
    captured = capsys.readouterr()
    assert '`spec.ref.branch`: `"main"` → `"production"`' in captured.out
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
