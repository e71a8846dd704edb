"""The Flux install manifest gets cluster-admin, so a stack pins its SHA-256: `make pin-flux` writes
the digest into the stack file and changes nothing else there; production refuses an unpinned
manifest; dev and qa trust one on first use and warn with its digest; the plan says which it is."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import shutil
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from eks_gitops.program import flux_manifest
from eks_gitops.settings.model import MANIFESTS_SHA256_KEY, ConfigError, StackConfig
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import ENVIRONMENTS, FLUX_V294, repo_plan, stack_document
from tools import pin_flux
from tools.paths import REPO_ROOT
from tools.plan import Plan, summary, write_plan

FAKE_MANIFEST = b"# stands in for a release install.yaml\n---\napiVersion: v1\nkind: Namespace\n"
FAKE_SHA256 = hashlib.sha256(FAKE_MANIFEST).hexdigest()
FIXTURE_SHA256 = hashlib.sha256(FLUX_V294.read_bytes()).hexdigest()


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    for stack in ENVIRONMENTS:
        shutil.copy(REPO_ROOT / f"Pulumi.{stack}.yaml", tmp_path)
    (tmp_path / "install.yaml").write_bytes(FAKE_MANIFEST)
    return tmp_path


def changed_lines(before: bytes, after: bytes) -> list[str]:
    diff = difflib.ndiff(before.decode().splitlines(True), after.decode().splitlines(True))
    return [line for line in diff if line.startswith(("+ ", "- "))]


def pin(stacks: Path, stack: str, manifest: Path | None = None) -> int:
    return pin_flux.main(
        [
            "--stack",
            stack,
            "--flux-manifests",
            str(manifest or stacks / "install.yaml"),
            "--project-dir",
            str(stacks),
        ]
    )


def test_pin_flux_adds_the_digest_and_changes_nothing_else(stacks: Path) -> None:
    stack_file = stacks / "Pulumi.prod.yaml"
    before = stack_file.read_bytes()
    assert pin(stacks, "prod") == 0
    after = stack_file.read_bytes()
    assert changed_lines(before, after) == [f'+     manifestsSha256: "{FAKE_SHA256}"\n']
    settings = parse_stack_config(yaml.safe_load(after)["config"], "prod")
    assert settings.toolkit.manifests_sha256 == FAKE_SHA256
    # The other stacks are left alone.
    for stack in ("dev", "qa"):
        assert (stacks / f"Pulumi.{stack}.yaml").read_bytes() == (
            REPO_ROOT / f"Pulumi.{stack}.yaml"
        ).read_bytes()


def test_pinning_again_replaces_the_value_in_its_line(stacks: Path) -> None:
    stack_file = stacks / "Pulumi.qa.yaml"
    assert pin(stacks, "qa") == 0
    pinned = stack_file.read_bytes()
    assert pin(stacks, "qa") == 0
    assert stack_file.read_bytes() == pinned
    assert pin(stacks, "qa", FLUX_V294) == 0
    assert changed_lines(pinned, stack_file.read_bytes()) == [
        f'-     manifestsSha256: "{FAKE_SHA256}"\n',
        f'+     manifestsSha256: "{FIXTURE_SHA256}"\n',
    ]


def test_pin_flux_keeps_line_endings_and_comments() -> None:
    text = (
        "# a stack\r\nconfig:\r\n  eks-gitops:toolkit:  # the toolkit\r\n"
        "    version: v2.9.4   # pinned release\r\n    components:\r\n      - source-controller\r\n"
        "\r\n  # next section\r\n  eks-gitops:sync:\r\n    branch: main\r\n"
    )
    pinned = pin_flux.pinned_stack_text(text, FAKE_SHA256)
    assert pinned == text.replace(
        "      - source-controller\r\n",
        f'      - source-controller\r\n    manifestsSha256: "{FAKE_SHA256}"\r\n',
    )


def test_a_toolkit_section_in_flow_style_gets_the_digest_in_its_own_style() -> None:
    # ruamel.yaml's round trip keeps a flow mapping a flow mapping and adds the key inside it.
    text = "config:\n  eks-gitops:toolkit: {version: v2.9.4}\n"
    assert pin_flux.pinned_stack_text(text, FAKE_SHA256) == (
        f'config:\n  eks-gitops:toolkit: {{version: v2.9.4, manifestsSha256: "{FAKE_SHA256}"}}\n'
    )


def test_a_stack_file_without_a_toolkit_section_is_refused() -> None:
    with pytest.raises(pin_flux.PinError, match="eks-gitops:toolkit"):
        pin_flux.pinned_stack_text("config:\n  aws:region: eu-west-1\n", FAKE_SHA256)


def test_without_a_file_pin_flux_downloads_the_release_once(
    stacks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The digest comes from a fresh download, never from the cache an unpinned run may have filled.
    versions: list[str] = []

    def download(version: str) -> bytes:
        versions.append(version)
        return FAKE_MANIFEST

    monkeypatch.setattr(pin_flux, "download_release_manifest", download)
    assert pin_flux.main(["--stack", "dev", "--project-dir", str(stacks)]) == 0
    assert versions == ["v2.9.4"]
    config = yaml.safe_load((stacks / "Pulumi.dev.yaml").read_text())["config"]
    assert config["eks-gitops:toolkit"]["manifestsSha256"] == FAKE_SHA256


def stack_settings(stack: str, **toolkit_changes: Any) -> StackConfig:
    settings = parse_stack_config(stack_document(stack)["config"], stack)
    return dataclasses.replace(
        settings, toolkit=dataclasses.replace(settings.toolkit, **toolkit_changes)
    )


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: logged.append(message))
    return logged


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr("urllib.request.urlopen", refuse)


@pytest.mark.usefixtures("no_network")
def test_production_refuses_an_unpinned_manifest_before_fetching_it(
    warnings: list[str],
) -> None:
    for settings in (stack_settings("prod"), stack_settings("prod", manifests_file=str(FLUX_V294))):
        with pytest.raises(ConfigError) as error:
            flux_manifest(settings)
        assert error.value.key == MANIFESTS_SHA256_KEY
        assert "make pin-flux STACK=prod" in str(error.value)
    assert warnings == []


@pytest.mark.usefixtures("no_network")
def test_production_applies_a_pinned_manifest(warnings: list[str]) -> None:
    settings = stack_settings(
        "prod", manifests_file=str(FLUX_V294), manifests_sha256=FIXTURE_SHA256
    )
    manifest = flux_manifest(settings)
    assert manifest is not None and manifest.sha256 == FIXTURE_SHA256
    assert warnings == []


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("stack", ["dev", "qa"])
def test_dev_and_qa_trust_an_unpinned_manifest_with_a_warning(
    stack: str, warnings: list[str]
) -> None:
    manifest = flux_manifest(stack_settings(stack, manifests_file=str(FLUX_V294)))
    assert manifest is not None
    (warning,) = warnings
    assert FIXTURE_SHA256 in warning
    assert f"make pin-flux STACK={stack}" in warning
    assert MANIFESTS_SHA256_KEY in warning


def summary_of(plan: Plan, tmp_path: Path) -> str:
    return summary(plan, write_plan(plan, tmp_path))


def test_the_plan_shows_that_prod_is_not_pinned(tmp_path: Path) -> None:
    # The offline plan applies nothing, so it reports what `pulumi up` would refuse.
    plan = repo_plan("prod")
    assert plan.settings.toolkit.manifests_sha256 is None
    assert plan.manifest is not None
    text = summary_of(plan, tmp_path)
    assert "NOT pinned" in text
    assert "refuses" in text
    assert "make pin-flux STACK=prod" in text
    assert any(FIXTURE_SHA256 in line for line in plan.run.logs if line.startswith("warning"))


def test_the_plan_of_a_pinned_stack_says_nothing_about_pinning(
    plan_edited: Any, tmp_path: Path
) -> None:
    def pinned(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:toolkit"]["manifestsSha256"] = FIXTURE_SHA256

    plan = plan_edited("dev", pinned)
    assert plan.manifest is not None
    assert plan.manifest.sha256 == FIXTURE_SHA256
    assert "NOT pinned" not in summary_of(plan, tmp_path)
    assert not [line for line in plan.run.logs if MANIFESTS_SHA256_KEY in line]
