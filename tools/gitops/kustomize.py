"""Running `kubectl kustomize` and finding which files a build reads."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILENAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def kustomization_file(directory: Path) -> Path | None:
    for filename in KUSTOMIZATION_FILENAMES:
        candidate = directory / filename
        if candidate.is_file():
            return candidate
    return None


def kustomization_dirs(tree: Path) -> list[Path]:
    """Every directory under tree that kustomize can build, in a stable order."""
    found = {path.parent for name in KUSTOMIZATION_FILENAMES for path in tree.rglob(name)}
    return sorted(found)


def split_documents(text: str) -> list[str]:
    """The non-empty YAML documents of a multi-document stream, as text."""
    return [part for part in _DOCUMENT_SEPARATOR.split(text) if part.strip()]


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The mapping documents of a YAML file; anything else in it is ignored."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]


@dataclass(frozen=True)
class Build:
    directory: Path
    documents: tuple[str, ...]
    error: str | None


@dataclass
class Builder:
    """Builds directories with the real kubectl, once each."""

    kubectl: str = field(default_factory=lambda: shutil.which("kubectl") or "/usr/bin/kubectl")
    _cache: dict[Path, Build] = field(default_factory=dict)

    def build(self, directory: Path) -> Build:
        directory = directory.resolve()
        if directory not in self._cache:
            completed = subprocess.run(
                [self.kubectl, "kustomize", str(directory)],
                capture_output=True,
                text=True,
                check=False,
            )
            if completed.returncode == 0:
                result = Build(directory, tuple(split_documents(completed.stdout)), None)
            else:
                error = completed.stderr.strip().splitlines() or [f"exit {completed.returncode}"]
                result = Build(directory, (), error[-1])
            self._cache[directory] = result
        return self._cache[directory]


@dataclass(frozen=True)
class SourceFiles:
    """The files a kustomize build reads: `resources` become objects, `inputs` change them."""

    resources: tuple[Path, ...]
    inputs: tuple[Path, ...]

    @property
    def all(self) -> tuple[Path, ...]:
        return self.resources + self.inputs


def _generator_files(generators: Iterable[Any]) -> Iterable[str]:
    for generator in generators:
        for entry in generator.get("files", []):
            yield str(entry).split("=", 1)[-1]
        yield from generator.get("envs", [])
        if "env" in generator:
            yield generator["env"]


def _collect(directory: Path, resources: list[Path], inputs: list[Path], seen: set[Path]) -> None:
    directory = directory.resolve()
    kustomization = kustomization_file(directory)
    if kustomization is None or directory in seen:
        return
    seen.add(directory)
    inputs.append(kustomization)
    spec = yaml.safe_load(kustomization.read_text()) or {}
    for entry in [*spec.get("resources", []), *spec.get("bases", []), *spec.get("components", [])]:
        target = (directory / str(entry)).resolve()
        if target.is_dir():
            _collect(target, resources, inputs, seen)
        elif target.is_file():
            resources.append(target)
    patch_paths = [p["path"] for p in spec.get("patches", []) if "path" in p]
    patch_paths += [p["path"] for p in spec.get("patchesJson6902", []) if "path" in p]
    patch_paths += [p for p in spec.get("patchesStrategicMerge", []) if isinstance(p, str)]
    generated = _generator_files(
        [*spec.get("configMapGenerator", []), *spec.get("secretGenerator", [])]
    )
    for entry in [*patch_paths, *generated]:
        target = (directory / str(entry)).resolve()
        if target.is_file():
            inputs.append(target)


def source_files(directory: Path) -> SourceFiles:
    resources: list[Path] = []
    inputs: list[Path] = []
    _collect(directory, resources, inputs, set())
    return SourceFiles(tuple(resources), tuple(inputs))


@dataclass(frozen=True)
class OriginIndex:
    """Finds the file that defines a built object, or the part of it that a field comes from."""

    definitions: tuple[tuple[Path, frozenset[tuple[str, str]]], ...]
    fallback: Path

    @classmethod
    def for_directory(cls, directory: Path) -> OriginIndex:
        sources = source_files(directory)
        fallback = kustomization_file(directory) or directory
        return cls(tuple((path, _identities(path)) for path in sources.all), fallback)

    def locate(self, kind: str, name: str, needle: str | None = None) -> Path:
        defining = [path for path, ids in self.definitions if (kind, name) in ids]
        if needle:
            for path in defining:
                if needle in path.read_text():
                    return path
        return defining[0] if defining else self.fallback


def _identities(path: Path) -> frozenset[tuple[str, str]]:
    if path.suffix not in (".yaml", ".yml"):
        return frozenset()
    try:
        documents = load_documents(path)
    except yaml.YAMLError:
        return frozenset()
    return frozenset(
        (str(doc.get("kind")), str((doc.get("metadata") or {}).get("name"))) for doc in documents
    )
