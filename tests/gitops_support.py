"""Helpers for the gitops/ tests: copies of the real tree and snapshots of its files."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from eks_gitops.settings.environments import ENVIRONMENTS_FILENAME, read_environments
from eks_gitops.settings.parse import parse_go_duration
from tools.paths import REPO_ROOT, stack_filename

ENVIRONMENTS = read_environments().names

CLUSTERS = Path("gitops/aws/clusters")


def copy_tree(destination: Path) -> Path:
    """A repository root at destination holding a copy of the real gitops/ tree and the
    environments it serves."""
    shutil.copytree(REPO_ROOT / "gitops", destination / "gitops")
    shutil.copy(REPO_ROOT / ENVIRONMENTS_FILENAME, destination)
    return destination


def copy_project(destination: Path) -> Path:
    """A repository root at destination holding a copy of the gitops/ tree, Pulumi.yaml and every
    stack file: what promotion reads, plans and writes."""
    copy_tree(destination)
    for name in ("Pulumi.yaml", *(stack_filename(stack) for stack in ENVIRONMENTS)):
        shutil.copy(REPO_ROOT / name, destination)
    return destination


def git(root: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args]
    return subprocess.run(
        command, cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(root: Path, message: str) -> str:
    """Commit everything in root (a repository from `git init`), returning the commit."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", message)
    return git(root, "rev-parse", "HEAD")


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that must be there, so a test cannot silently break nothing."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def env_file(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def set_pin(path: Path, key: str, value: str) -> None:
    """Set one KEY=VALUE line of a versions.env."""
    lines = [
        f"{key}={value}" if line.startswith(f"{key}=") else line
        for line in path.read_text().splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")


def edit_yaml(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change a single-document YAML file through its parsed form, whatever its layout."""
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def flux_timeout_seconds(spec: Mapping[str, Any]) -> int:
    """How long kustomize-controller gives a Kustomization's health checks, and on deletion its
    wait for what it applied to be gone: `spec.timeout`, else the interval less 30s, never under
    30s (fluxcd/kustomize-controller api/v1/kustomization_types.go, Kustomization.GetTimeout)."""
    if "timeout" in spec:
        seconds = parse_go_duration(str(spec["timeout"])) // 10**9
    else:
        seconds = parse_go_duration(str(spec["interval"])) // 10**9 - 30
    return max(seconds, 30)
