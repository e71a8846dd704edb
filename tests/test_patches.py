"""`toolkit.patches`: kustomize patches for the controllers, applied by kustomize with the manifests
installer and handed to the operator (FluxInstance `.spec.kustomize.patches`) with the other; a
patch that selects nothing, or that kustomize cannot apply, stops the plan with one line."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from eks_gitops.flux.install import render_toolkit
from eks_gitops.flux.patches import KustomizePatch, PatchError, apply_patches
from tests.conftest import FLUX_V294
from tools.plan import Plan, PlanError

MEMORY_PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kustomize-controller
spec:
  template:
    spec:
      containers:
        - name: manager
          resources:
            limits:
              memory: 3Gi
"""
# RFC 6902, selecting by label: every controller's ServiceAccount gets an IRSA-style annotation.
ANNOTATION_PATCH = """\
- op: add
  path: /metadata/annotations
  value:
    example.com/role: flux
"""


def _with_patches(*patches: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:toolkit"]["patches"] = list(patches)

    return edit


def deployment(plan: Plan, name: str) -> dict[str, Any]:
    [found] = [
        obj
        for obj in plan.manifests()
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == name
    ]
    return found


def limits(obj: dict[str, Any]) -> dict[str, Any]:
    [manager] = [c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == "manager"]
    result: dict[str, Any] = manager.get("resources", {}).get("limits", {})
    return result


def test_the_manifests_installer_applies_a_strategic_merge_patch(plan_edited: Any) -> None:
    plain = plan_edited("qa", _with_patches())
    patched = plan_edited(
        "qa",
        _with_patches(
            {
                "target": {"kind": "Deployment", "name": "kustomize-controller"},
                "patch": MEMORY_PATCH,
            }
        ),
    )
    assert limits(deployment(plain, "kustomize-controller"))["memory"] != "3Gi"
    assert limits(deployment(patched, "kustomize-controller"))["memory"] == "3Gi"
    # Strategic merge: the rest of the container (image, args, other limits) is kept.
    before, after = (
        deployment(plain, "kustomize-controller"),
        deployment(patched, "kustomize-controller"),
    )
    assert limits(after)["cpu"] == limits(before)["cpu"]
    assert (
        after["spec"]["template"]["spec"]["containers"][0]["image"]
        == (before["spec"]["template"]["spec"]["containers"][0]["image"])
    )
    # Only the target changed.
    assert deployment(plain, "source-controller") == deployment(patched, "source-controller")


def test_the_manifests_installer_applies_a_json_patch_by_label(plan_edited: Any) -> None:
    plan = plan_edited(
        "qa",
        _with_patches(
            {
                "target": {
                    "kind": "ServiceAccount",
                    "labelSelector": "app.kubernetes.io/component in (kustomize-controller,source-controller)",
                },
                "patch": ANNOTATION_PATCH,
            }
        ),
    )
    annotated = {
        obj["metadata"]["name"]
        for obj in plan.manifests()
        if obj["kind"] == "ServiceAccount"
        and (obj["metadata"].get("annotations") or {}).get("example.com/role") == "flux"
    }
    assert annotated == {"kustomize-controller", "source-controller"}


@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_a_patch_that_selects_nothing_is_refused_with_one_line(
    stack: str, plan_edited: Any
) -> None:
    # kustomize builds without a word when a target selects nothing (the next test shows it), so the
    # program checks; with the operator installer against the same Flux release, which the operator
    # installs.
    with pytest.raises(PlanError) as error:
        plan_edited(
            stack,
            _with_patches(
                {
                    "target": {"kind": "Deployment", "name": "kustomize-controler"},
                    "patch": MEMORY_PATCH,
                }
            ),
        )
    message = str(error.value)
    assert message.startswith("config error: eks-gitops:toolkit.patches[0] = ")
    assert "kustomize-controler" in message
    assert "\n" not in message


def test_a_patch_kustomize_cannot_apply_is_refused_with_one_line() -> None:
    objects = render_toolkit(
        FLUX_V294.read_text(), ["source-controller", "kustomize-controller"], "x"
    )
    bad = KustomizePatch(
        "- op: replace\n  path: /spec/nothing/here\n  value: 1\n", {"kind": "Deployment"}
    )
    with pytest.raises(PatchError) as error:
        apply_patches(objects, [bad])
    assert error.value.index == 0
    assert "\n" not in str(error.value)


def test_the_committed_dev_patch_shows_in_the_plan() -> None:
    from tests.conftest import repo_plan

    [patch] = repo_plan("dev").settings.toolkit.patches
    assert patch.target == {"kind": "Deployment", "name": "kustomize-controller"}


def test_kustomize_itself_is_silent_about_a_target_that_selects_nothing(tmp_path: Path) -> None:
    # Why the check above exists: the same build kubectl runs, with a misspelt target, succeeds and
    # changes nothing.
    resource = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a"},
        "data": {"k": "v"},
    }
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(resource))
    kustomization = {
        "resources": ["cm.yaml"],
        "patches": [
            {
                "target": {"kind": "ConfigMap", "name": "b"},
                "patch": "- op: replace\n  path: /data/k\n  value: w\n",
            }
        ],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)], check=True, capture_output=True, text=True
    )
    assert yaml.safe_load(built.stdout) == resource
    assert built.stderr == ""


def test_without_kubectl_the_run_says_what_is_missing(
    plan_edited: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PlanError) as error:
        plan_edited(
            "qa",
            _with_patches(
                {
                    "target": {"kind": "Deployment", "name": "kustomize-controller"},
                    "patch": MEMORY_PATCH,
                }
            ),
        )
    assert str(error.value) == (
        "toolkit patches are applied with `kubectl kustomize`, and kubectl is not on PATH"
    )
