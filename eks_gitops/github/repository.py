"""The GitHub repository Flux syncs from: used as it is, or created when the stack asks, as
`flux bootstrap` does (private unless configured otherwise; branch protection is left alone).

A repository created with only GitHub's initial commit cannot be synced: the cluster's path does not
exist in it (kustomize-controller marks the Kustomization not Ready with "kustomization path not
found"), and neither does a branch other than the first one. So a created repository also gets the
branch the stack syncs, made from the first branch, and a minimal kustomization.yaml committed at
the cluster's path, as bootstrap commits its files. That is a seed, made once: what the team commits
there later is never overwritten, and destroy leaves the branch and the file, like the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

import pulumi
import pulumi_github as github

from eks_gitops.settings.model import GitHubConfig

# The branch GitHub makes for a new repository's initial commit, unless its owner changed the
# default branch name in their settings.
INITIAL_BRANCH: Final = "main"

# An empty kustomization: the path exists and applies nothing until the team adds resources.
SEED_KUSTOMIZATION: Final = """\
# Committed by eks-gitops when it created this repository: the cluster's path, applying nothing yet.
# List what the cluster runs under resources; eks-gitops never changes this file again.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: []
"""


def seed_file(path: str) -> str:
    """Where the seed goes: the kustomization.yaml at the cluster's path (given without `./`)."""
    return f"{path}/kustomization.yaml"


@dataclass(frozen=True)
class RepositoryArgs:
    config: GitHubConfig
    branch: str
    """The branch the cluster syncs."""
    path: str
    """The cluster's path in the repository, without `./`."""


class Repository(pulumi.ComponentResource):
    """Declare the sync after this component (depends_on): with a created repository, the sync waits
    for its branch and path."""

    TYPE_TOKEN: ClassVar[str] = "eks-gitops:repository:Repository"

    name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RepositoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        config = args.config
        if config.create_repository:
            # Deleting the repository, its branch or the seed would delete what teams committed.
            kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
            repository = github.Repository(
                name,
                name=config.repository,
                visibility=config.visibility,
                auto_init=True,
                description="Cluster configuration synced by Flux (eks-gitops)",
                opts=kept,
            )
            self.name = repository.name
            self._seed(name, args, repository, kept)
        else:
            self.name = pulumi.Output.from_input(config.repository)
        self.register_outputs({"name": self.name})

    def _seed(
        self,
        name: str,
        args: RepositoryArgs,
        repository: github.Repository,
        kept: pulumi.ResourceOptions,
    ) -> None:
        """The synced branch (unless it is the initial one) and the seed kustomization on it.

        Both are seeded once: a later change of `sync.branch` or `sync.path`, like an edit of the
        file, is the team's to push, as with a repository the program did not create."""
        branches: list[pulumi.Resource] = []
        if args.branch != INITIAL_BRANCH:
            branches.append(
                github.Branch(
                    f"{name}-branch",
                    repository=repository.name,
                    branch=args.branch,
                    source_branch=INITIAL_BRANCH,
                    opts=pulumi.ResourceOptions.merge(
                        kept, pulumi.ResourceOptions(ignore_changes=["branch"])
                    ),
                )
            )
        github.RepositoryFile(
            f"{name}-seed",
            repository=repository.name,
            branch=args.branch,
            file=seed_file(args.path),
            content=SEED_KUSTOMIZATION,
            commit_message="Add the cluster's path for Flux (eks-gitops)",
            # The provider refuses to create a file that exists rather than overwrite it.
            overwrite_on_create=False,
            opts=pulumi.ResourceOptions.merge(
                kept,
                pulumi.ResourceOptions(
                    depends_on=branches,
                    ignore_changes=["branch", "file", "content"],
                ),
            ),
        )
