"""Every mistake a new user made is one line naming the key and the fix, exit 2, nothing written:
run as `make plan` runs it, on a copy of the project with the mistake in dev's stack file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def plan(project: Path, stack: str = "dev") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            *("-m", "tools.plan", "--stack", stack),
            *("--project-dir", str(project), "--out", str(project / "build")),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard, not a speed check
        check=False,
    )


def with_dev_file(project: Path, change: str, replace: str = "config:\n") -> None:
    """dev's stack file as committed, with `change` written in place of `replace`."""
    path = project / "Pulumi.dev.yaml"
    text = path.read_text()
    assert replace in text
    path.write_text(text.replace(replace, change, 1))


def refused(result: subprocess.CompletedProcess[str], project: Path) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / "build").exists()
    [line] = result.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    ("line", "key", "fix"),
    [
        ("  aws:accessKey: AKIAIOSFODNN7EXAMPLE\n", "aws:accessKey", "--secret aws:accessKey"),
        (
            "  aws:secretKey: wJalrXUtnFEMIK7MDENGbPxRfiCY\n",
            "aws:secretKey",
            "--secret aws:secretKey",
        ),
        ("  aws:token: FwoGZXIvYXdzEXAMPLE\n", "aws:token", "--secret aws:token"),
        ("  vault:token: hvs.EXAMPLE\n", "vault:token", "--secret vault:token"),
        ("  registry:adminPassword: hunter2\n", "registry:adminPassword", "--secret"),
    ],
    ids=["accessKey", "secretKey", "aws token", "any token", "any password"],
)
def test_a_credential_in_clear_is_refused_with_the_secret_command(
    project_copy: Path, line: str, key: str, fix: str
) -> None:
    with_dev_file(project_copy, "config:\n" + line)
    message = refused(plan(project_copy), project_copy)
    assert message.startswith(f'error: config error: {key} = "[redacted]"')
    assert f"pulumi config set {fix}" in message
    assert line.split(": ", 1)[1].strip() not in message


def test_an_encrypted_credential_is_accepted(project_copy: Path) -> None:
    with_dev_file(project_copy, "config:\n  aws:secretKey:\n    secure: AAABAEXAMPLECIPHERTEXT\n")
    assert plan(project_copy).returncode == 0


def test_disabling_default_providers_belongs_to_the_project_file(project_copy: Path) -> None:
    with_dev_file(project_copy, 'config:\n  pulumi:disable-default-providers: ["*"]\n')
    message = refused(plan(project_copy), project_copy)
    assert "pulumi:disable-default-providers belongs to Pulumi.yaml" in message


def test_a_key_set_twice_is_refused_as_the_cli_refuses_it(project_copy: Path) -> None:
    # The Pulumi CLI reads stack files with a YAML parser that rejects duplicate mapping keys.
    with_dev_file(project_copy, "config:\n  aws:region: eu-west-2\n")
    message = refused(plan(project_copy), project_copy)
    assert message.startswith("error: Pulumi.dev.yaml line ")
    assert "aws:region is set twice" in message


@pytest.mark.parametrize(
    ("change", "replace", "key", "guess"),
    [
        (
            "  eks-gitops:clustr:\n",
            "  eks-gitops:cluster:\n",
            "eks-gitops:clustr",
            "eks-gitops:cluster",
        ),
        (
            "      minSize: 1\n      minimum: 1\n",
            "      minSize: 1\n",
            "eks-gitops:cluster.nodes.minimum",
            "minSize",
        ),
    ],
    ids=["top level", "nested"],
)
def test_an_unknown_key_at_any_depth_gets_a_guess(
    project_copy: Path, change: str, replace: str, key: str, guess: str
) -> None:
    with_dev_file(project_copy, change, replace)
    message = refused(plan(project_copy), project_copy)
    assert message.startswith(f"error: config error: {key} = ")
    assert message.endswith(f"did you mean {guess}?")


def test_an_unquoted_version_gets_the_hint_to_quote_it(project_copy: Path) -> None:
    with_dev_file(project_copy, "    kubernetesVersion: 1.30\n", '    kubernetesVersion: "1.35"\n')
    message = refused(plan(project_copy), project_copy)
    assert message.startswith("error: config error: eks-gitops:cluster.kubernetesVersion = 1.3: ")
    assert "quote it" in message and '"1.30"' in message


def test_a_long_value_is_shortened(project_copy: Path) -> None:
    with_dev_file(project_copy, f"    name: {'x' * 500}\n", "    name: gitops-dev\n")
    message = refused(plan(project_copy), project_copy)
    assert "(502 characters)" in message
    assert len(message) < 400


def test_an_unknown_stack_lists_the_known_ones(project_copy: Path) -> None:
    message = refused(plan(project_copy, "staging"), project_copy)
    assert (
        message == "error: no stack staging (no Pulumi.staging.yaml); the stacks are dev, prod, qa"
    )


def test_plan_help_lists_the_stacks_and_defaults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tools.plan", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dev, qa, prod" in result.stdout
    assert "default: build/plan" in result.stdout


def test_make_help_lists_every_target() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    [phony] = [line for line in makefile.splitlines() if line.startswith(".PHONY:")]
    listed = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    names = {line.split()[1] for line in listed}
    assert set(phony.split()[1:]) == names
