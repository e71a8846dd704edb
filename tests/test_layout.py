"""The layout shows the architecture: one program package whose packages import one way, tooling
that imports the program and never the reverse, and ComponentResources shaped alike."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import pulumi
import pytest

import eks_gitops
from tools.paths import REPO_ROOT

# What each part of the program may import of ours, besides itself. The program (`program`) wires
# everything; nothing of ours is imported by `settings`, the Flux package takes plain values, the
# policy owns its rule ids; the development tooling sits on top and the program never sees it.
ALLOWED: Mapping[str, frozenset[str]] = {
    # The package itself: anything added beside the parts below imports nothing of ours.
    "eks_gitops": frozenset(),
    "eks_gitops.settings": frozenset(),
    "eks_gitops.urns": frozenset(),
    "eks_gitops.flux": frozenset(),
    "eks_gitops.policy": frozenset({"eks_gitops.settings", "eks_gitops.urns"}),
    "eks_gitops.credentials": frozenset(),
    "eks_gitops.aws": frozenset({"eks_gitops.settings", "eks_gitops.policy"}),
    "eks_gitops.github": frozenset({"eks_gitops.settings"}),
    "eks_gitops.program": frozenset(
        {
            "eks_gitops.settings",
            "eks_gitops.policy",
            "eks_gitops.flux",
            "eks_gitops.aws",
            "eks_gitops.github",
            "eks_gitops.credentials",
        }
    ),
    "tools": frozenset(
        {
            "eks_gitops.settings",
            "eks_gitops.urns",
            "eks_gitops.flux",
            "eks_gitops.policy",
            "eks_gitops.aws",
            "eks_gitops.github",
            "eks_gitops.credentials",
            "eks_gitops.program",
        }
    ),
}
OURS = ("eks_gitops", "tools", "tests")


def part_of(module: str) -> str | None:
    """The part of ALLOWED a module belongs to (the longest matching prefix)."""
    matches = [part for part in ALLOWED if module == part or module.startswith(part + ".")]
    return max(matches, key=len) if matches else None


def imports_of(path: Path, module: str) -> set[str]:
    """The modules of ours a source file imports, relative imports resolved."""
    found = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OURS}


def source_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def wrong_way(root: Path) -> list[str]:
    """Every import between parts of the code that ALLOWED does not allow."""
    modules = source_modules(root, ("eks_gitops", "tools"))
    problems = []
    for module, path in modules.items():
        own = part_of(module)
        assert own is not None, f"{module} belongs to no part of the layout"
        for imported in sorted(imports_of(path, module)):
            other = part_of(imported)
            if imported.split(".")[0] == "tests":
                problems.append(f"{module} imports {imported} (tests)")
            elif other is not None and other != own and other not in ALLOWED[own]:
                problems.append(f"{module} imports {imported} ({own} -> {other})")
    return problems


def package_cycles(root: Path) -> list[list[str]]:
    """Cycles in the graph of parts that import each other (which ALLOWED alone could permit)."""
    edges: dict[str, set[str]] = {part: set() for part in ALLOWED}
    for module, path in source_modules(root, ("eks_gitops", "tools")).items():
        own = part_of(module)
        for imported in imports_of(path, module):
            other = part_of(imported)
            if own and other and other != own:
                edges[own].add(other)
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        for following in sorted(edges[node]):
            if following in trail:
                cycles.append([*trail[trail.index(following) :], following])
            else:
                visit(following, [*trail, following])

    for start in edges:
        visit(start, [start])
    return cycles


def test_imports_point_one_way() -> None:
    assert wrong_way(REPO_ROOT) == []
    assert package_cycles(REPO_ROOT) == []


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_wrong_way_import_and_a_cycle_are_caught(tmp_path: Path) -> None:
    write(tmp_path, "eks_gitops/__init__.py", "")
    write(tmp_path, "eks_gitops/settings/__init__.py", "from eks_gitops.flux import kinds\n")
    write(tmp_path, "eks_gitops/flux/kinds.py", "from eks_gitops.settings import model\n")
    write(tmp_path, "eks_gitops/policy.py", "from ..tools import plan\n")
    write(tmp_path, "tools/plan.py", "from tests.conftest import repo_plan\n")
    assert wrong_way(tmp_path) == [
        "eks_gitops.flux.kinds imports eks_gitops.settings.model "
        "(eks_gitops.flux -> eks_gitops.settings)",
        "eks_gitops.policy imports tools.plan (eks_gitops.policy -> tools)",
        "eks_gitops.settings imports eks_gitops.flux.kinds "
        "(eks_gitops.settings -> eks_gitops.flux)",
        "tools.plan imports tests.conftest.repo_plan (tests)",
    ]
    assert ["eks_gitops.flux", "eks_gitops.settings", "eks_gitops.flux"] in package_cycles(tmp_path)


def test_the_top_level_holds_the_entry_point_packages_configuration_and_docs() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    top_python = sorted(name for name in tracked if "/" not in name and name.endswith(".py"))
    assert top_python == ["__main__.py"]
    for gone in ("tools/bench.py", "tools/critical_path.py"):
        assert gone not in tracked
    assert not [
        name
        for name in tracked
        if name.endswith(".py")
        and name.startswith(("eks_gitops/", "tools/"))
        and "EKS_GITOPS_OFFLINE" in (REPO_ROOT / name).read_text()
    ]


def program_modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(eks_gitops.__path__, prefix="eks_gitops.")
        if not info.ispkg
    ]


COMPONENTS = sorted(
    {
        (module, name)
        for module in program_modules()
        for name, value in vars(importlib.import_module(module)).items()
        if inspect.isclass(value)
        and issubclass(value, pulumi.ComponentResource)
        and value.__module__ == module
    }
)


def test_the_program_has_its_components() -> None:
    assert len(COMPONENTS) >= 9


@pytest.mark.parametrize(("module", "name"), COMPONENTS, ids=str)
def test_each_component_is_shaped_alike(module: str, name: str) -> None:
    component = getattr(importlib.import_module(module), name)
    token = component.TYPE_TOKEN
    assert re.fullmatch(r"eks-gitops:[a-z][a-z-]*:[A-Z][A-Za-z]+", token), token
    assert token.rsplit(":", 1)[1] == name
    source = inspect.getsource(component)
    assert "super().__init__(self.TYPE_TOKEN" in source
    assert "self.register_outputs(" in source
    # Args carry domain inputs: providers and dependencies come through ResourceOptions.
    args = getattr(importlib.import_module(module), f"{name}Args")
    fields = set(inspect.get_annotations(args))
    assert not {field for field in fields if "provider" in field or field == "depends_on"}
