"""Where the repository is, for the commands and tests that read its files."""

from __future__ import annotations

from pathlib import Path

from eks_gitops.settings.environments import PROJECT_ROOT, stack_filename

__all__ = ["REPO_ROOT", "stack_filename"]

# The repository is the Pulumi project.
REPO_ROOT: Path = PROJECT_ROOT
