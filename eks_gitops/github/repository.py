"""The GitHub repository Flux syncs from: used as it is, or created when the stack asks, as
`flux bootstrap` does (private unless configured otherwise; branch protection is left alone)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_github as github

from eks_gitops.settings.model import GitHubConfig


@dataclass(frozen=True)
class RepositoryArgs:
    config: GitHubConfig


class Repository(pulumi.ComponentResource):
    TYPE_TOKEN: ClassVar[str] = "eks-gitops:repository:Repository"

    name: pulumi.Output[str]

    def __init__(
        self, name: str, args: RepositoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        config = args.config
        if config.create_repository:
            repository = github.Repository(
                name,
                name=config.repository,
                visibility=config.visibility,
                auto_init=True,
                description="Cluster configuration synced by Flux (eks-gitops)",
                # Deleting the repository would delete every cluster's configuration with it.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            self.name = repository.name
        else:
            self.name = pulumi.Output.from_input(config.repository)
        self.register_outputs({"name": self.name})
