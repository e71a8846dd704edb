"""Where the repository is, for the commands and tests that read its files."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def stack_filename(stack: str) -> str:
    """A stack's settings file, beside Pulumi.yaml."""
    return f"Pulumi.{stack}.yaml"
