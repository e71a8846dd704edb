"""The environments a project deploys, in promotion order, read from `environments.yaml` beside the
Pulumi project: adding one is a stack file, a cluster folder and a line there, not code."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from eks_gitops.settings.model import PROJECT, ConfigError, default_cluster_name

ENVIRONMENTS_FILENAME: Final = "environments.yaml"
# The project root: this package's folder sits in it, beside Pulumi.yaml.
PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
# A stack name, a folder name and part of the cluster name, status contexts and tags.
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def stack_filename(stack: str) -> str:
    """A stack's settings file, beside Pulumi.yaml."""
    return f"Pulumi.{stack}.yaml"


@dataclass(frozen=True)
class Environment:
    name: str
    production: bool


@dataclass(frozen=True)
class Environments:
    """In promotion order."""

    all: tuple[Environment, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(environment.name for environment in self.all)

    def __iter__(self) -> Iterator[Environment]:
        return iter(self.all)

    def get(self, name: str) -> Environment | None:
        return next((environment for environment in self.all if environment.name == name), None)


def parse_environments(document: object, origin: str = ENVIRONMENTS_FILENAME) -> Environments:
    """The environments of a parsed `environments.yaml`; ConfigError (one line) when it is wrong."""
    entries = document.get("environments") if isinstance(document, Mapping) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{origin}: environments", entries, "a list of {name: ...} entries")
    environments: list[Environment] = []
    for index, entry in enumerate(entries):
        key = f"{origin}: environments[{index}]"
        if not isinstance(entry, Mapping) or set(entry) - {"name", "production"}:
            raise ConfigError(key, entry, "{name: NAME} with an optional production: true")
        name, production = entry.get("name"), entry.get("production", False)
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{key}.name", name, "lowercase letters, digits and -, at most 31")
        if not isinstance(production, bool):
            raise ConfigError(f"{key}.production", production, "true or false")
        if any(earlier.name == name for earlier in environments):
            raise ConfigError(f"{key}.name", name, "each environment named once")
        environments.append(Environment(name, production))
    return Environments(tuple(environments))


@functools.cache
def read_environments(project_root: Path = PROJECT_ROOT) -> Environments:
    path = project_root / ENVIRONMENTS_FILENAME
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(
            ENVIRONMENTS_FILENAME, str(path), f"a readable YAML file ({error})"
        ) from None
    return parse_environments(document)


def project_cluster_names(environments: Environments, project_root: Path) -> dict[str, str]:
    """The cluster name (by stack) of each environment's stack file in the project."""
    names = {}
    for environment in environments:
        path = project_root / stack_filename(environment.name)
        document = yaml.safe_load(path.read_text()) if path.is_file() else None
        config = document.get("config") if isinstance(document, Mapping) else None
        cluster = config.get(f"{PROJECT}:cluster") if isinstance(config, Mapping) else None
        name = cluster.get("name") if isinstance(cluster, Mapping) else None
        names[environment.name] = (
            name if isinstance(name, str) else default_cluster_name(environment.name)
        )
    return names


def check_cluster_names(cluster_names: Mapping[str, str]) -> None:
    """Refuse two stacks (stack -> cluster name) that would create, and report as, one cluster."""
    seen: dict[str, str] = {}
    for stack, name in sorted(cluster_names.items()):
        if name in seen:
            raise ConfigError(
                f"{stack}: eks-gitops:cluster.name",
                name,
                f"a cluster name no other stack uses (stack {seen[name]} uses it)",
            )
        seen[name] = stack
