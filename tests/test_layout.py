"""The layout issue 10 asked for, kept: `components/` holds ComponentResources and nothing else."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pulumi
import pytest

from tools.paths import REPO_ROOT

COMPONENT_FILES = sorted(
    path for path in (REPO_ROOT / "components").glob("*.py") if path.name != "__init__.py"
)


def public_definitions(path: Path) -> list[str]:
    """Classes and functions a reader could import from the module (private helpers excluded)."""
    return [
        node.name
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and not node.name.startswith("_")
    ]


@pytest.mark.parametrize("path", COMPONENT_FILES, ids=lambda path: path.stem)
def test_each_component_file_defines_one_component_and_its_args(path: Path) -> None:
    module = importlib.import_module(f"components.{path.stem}")
    components = [
        name
        for name in public_definitions(path)
        if isinstance(getattr(module, name), type)
        and issubclass(getattr(module, name), pulumi.ComponentResource)
    ]
    assert len(components) == 1, f"{path.name}: {components}"
    assert sorted(public_definitions(path)) == sorted([components[0], f"{components[0]}Args"])


def test_a_helper_beside_a_component_is_caught(tmp_path: Path) -> None:
    source = tmp_path / "network.py"
    source.write_text("class Network: ...\nclass NetworkArgs: ...\ndef plan_subnets(): ...\n")
    assert public_definitions(source) == ["Network", "NetworkArgs", "plan_subnets"]
