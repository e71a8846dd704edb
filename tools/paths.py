"""Where the repository is, for the commands and tests that read its files."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# What `pulumi up` runs: the program, the project file and every package the program imports. A copy
# of these (with stack files) is a project of its own.
PROGRAM_PATHS = (
    "__main__.py",
    "Pulumi.yaml",
    "components",
    "blueprints",
    "settings",
    "flux",
    "guardrails.py",
    "manifest_object.py",
    "providers.py",
    "typed_outputs.py",
    "urns.py",
)


def stack_filename(stack: str) -> str:
    """A stack's settings file, beside Pulumi.yaml."""
    return f"Pulumi.{stack}.yaml"
