"""Validate the gitops/ tree: builds, Flux API versions and fields, references per cluster,
postBuild variables and credentials.

    python -m tools.validate [--root DIR]

Exit 0 with one summary line per cluster, or 1 with one line per problem:
`FILE: KIND/NAMESPACE/NAME: FIELD: message`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from eks_gitops.flux.kinds import FLUX_KINDS
from tools.gitops.checks import (
    check_api_version,
    check_credentials_in_object,
    check_credentials_in_text,
    check_decryption,
    check_helm_repository,
    check_references,
    check_schema,
    check_sops_key,
    decrypting_kustomizations,
    read_creation_rules,
)
from tools.gitops.cluster_tree import ClusterTree, expand_clusters
from tools.gitops.kustomize import (
    Builder,
    OriginIndex,
    kustomization_dirs,
    kustomization_file,
    source_files,
)
from tools.gitops.model import Manifest, Problem
from tools.paths import REPO_ROOT

# SOPS's creation rules, at the repository root (docs/sops.md).
SOPS_CONFIG = ".sops.yaml"
EVERY_CONTROLLER = frozenset(kind.controller for kind in FLUX_KINDS.values())


@dataclass(frozen=True)
class Report:
    problems: tuple[Problem, ...]
    summaries: tuple[str, ...]


def check_manifest(manifest: Manifest, served_controllers: frozenset[str]) -> list[Problem]:
    """The checks that need nothing but the object itself."""
    return [
        *check_api_version(manifest, served_controllers),
        *check_schema(manifest),
        *check_helm_repository(manifest),
        *check_credentials_in_object(manifest),
    ]


def check_cluster(cluster: ClusterTree, root: Path) -> list[Problem]:
    served = cluster.lock.components if cluster.lock else frozenset()
    problems = list(cluster.problems)
    decrypting = decrypting_kustomizations(cluster)
    rules = read_creation_rules(root / SOPS_CONFIG)
    for manifest in cluster.manifests.values():
        problems += check_manifest(manifest, served)
        problems += check_references(manifest, cluster)
        problems += check_decryption(manifest, decrypting)
        problems += check_sops_key(manifest, rules, root)
    return problems


def check_builds(directories: Iterable[Path], builder: Builder) -> list[Problem]:
    problems = []
    for directory in directories:
        build = builder.build(directory)
        if build.error is not None:
            file = kustomization_file(directory) or directory
            problems.append(Problem(file, "-", "-", f"kustomize build failed: {build.error}"))
    return problems


def reached_directories(clusters: Iterable[ClusterTree]) -> set[Path]:
    """Kustomization directories that some cluster's build reads."""
    reached: set[Path] = set()
    for cluster in clusters:
        for directory in cluster.build_dirs:
            reached |= {path.parent for path in source_files(directory).inputs}
    return reached


def check_unreached(directories: Iterable[Path], builder: Builder) -> list[Problem]:
    """Directories no cluster syncs still get the checks that need no cluster."""
    problems: list[Problem] = []
    for directory in directories:
        build = builder.build(directory)
        index = OriginIndex.for_directory(directory)
        for text in build.documents:
            body = yaml.safe_load(text)
            if isinstance(body, dict):
                manifest = Manifest(body, index, f"build of {directory.name}")
                problems += check_manifest(manifest, EVERY_CONTROLLER)
    return problems


def check_files(tree: Path) -> list[Problem]:
    problems: list[Problem] = []
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        problems += check_credentials_in_text(path, text)
    return problems


def summarize(cluster: ClusterTree) -> str:
    releases = sorted(
        f"{m.name} {((m.spec.get('chart') or {}).get('spec') or {}).get('version', '?')}"
        for m in cluster.manifests.values()
        if m.kind == "HelmRelease"
    )
    followed = ", ".join(m.name for m in cluster.followed)
    return (
        f"{cluster.name}: ok, {len(cluster.manifests)} objects; "
        f"Kustomizations {followed}; HelmReleases {', '.join(releases) or 'none'}"
    )


def validate(root: Path, builder: Builder | None = None) -> Report:
    builder = builder or Builder()
    tree = root / "gitops"
    if not tree.is_dir():
        return Report((Problem(tree, "-", "-", "no gitops/ directory"),), ())
    directories = kustomization_dirs(tree)
    problems = check_builds(directories, builder)
    clusters = expand_clusters(root, builder)
    for cluster in clusters:
        problems += check_cluster(cluster, root)
    reached = reached_directories(clusters)
    unreached = [d for d in directories if d.resolve() not in reached]
    problems += check_unreached(unreached, builder)
    problems += check_files(tree)
    unique = sorted(set(problems), key=lambda p: (str(p.file), p.object, p.field, p.message))
    return Report(tuple(unique), tuple(summarize(c) for c in clusters))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.validate", description=__doc__)
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    report = validate(root)
    if report.problems:
        for problem in report.problems:
            print(problem.render(root))
        print(f"{len(report.problems)} problem(s)", file=sys.stderr)
        return 1
    for summary in report.summaries:
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
