"""SOPS with KMS in the gitops tree: each cluster's encrypted Secrets live under its `secrets/`, the
one Flux Kustomization that decrypts applies them, `.sops.yaml` picks each environment's key by path,
and `make validate` refuses a Secret whose data is in clear."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ENVIRONMENTS, repo_plan
from tests.gitops_support import CLUSTERS, copy_tree, edit
from tests.graph_support import graph_of
from tests.test_flux_identity import ALIAS, recorded
from tools.paths import REPO_ROOT
from tools.validate import main

SOPS_CONFIG = REPO_ROOT / ".sops.yaml"


def flux_kustomizations(env: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((REPO_ROOT / CLUSTERS / env).rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("apiVersion", "").startswith(
                "kustomize.toolkit.fluxcd.io/"
            ):
                found[document["metadata"]["name"]] = document
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_clusters_secrets_kustomization_decrypts(env: str) -> None:
    kustomizations = flux_kustomizations(env)
    secrets = kustomizations["cluster-secrets"]["spec"]
    assert secrets["path"] == f"./gitops/aws/clusters/{env}/secrets"
    # kustomize-controller decrypts with its own identity when the Kustomization names no
    # credentials ("Controller global decryption", fluxcd/kustomize-controller
    # docs/spec/v1/kustomizations.md; `.provider` "is required and the only supported value is
    # sops"): provider alone, no secretRef, no serviceAccountName (object-level identity needs a
    # feature gate and cannot use Pod Identity: fluxcd.io/flux/integrations/aws).
    assert secrets["decryption"] == {"provider": "sops"}
    # The profiles are shared by every cluster, so none holds a Secret encrypted for one cluster's
    # key; the bootstrap Kustomization (the generated record) does not decrypt either.
    assert [name for name, k in kustomizations.items() if "decryption" in k["spec"]] == [
        "cluster-secrets"
    ]
    # The bootstrap Kustomization applies the cluster's kustomization.yaml, which must not reach
    # into secrets/ itself: it would apply the ciphertext.
    root = yaml.safe_load((REPO_ROOT / CLUSTERS / env / "kustomization.yaml").read_text())
    assert not any(str(entry).startswith("secrets") for entry in root["resources"])


def creation_rules() -> list[dict[str, str]]:
    rules: list[dict[str, str]] = yaml.safe_load(SOPS_CONFIG.read_text())["creation_rules"]
    return rules


def rule_for(path: str) -> dict[str, str] | None:
    # SOPS takes the first rule whose path_regex matches the file's path relative to .sops.yaml
    # (getsops/sops config/config.go, parseCreationRuleForFile; "creation rules are evaluated
    # sequentially, the first match wins", README). These patterns are plain enough that Python's
    # re and Go's RE2 agree on them.
    return next((r for r in creation_rules() if re.search(r["path_regex"], path)), None)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_sops_yaml_encrypts_each_clusters_secrets_with_that_stacks_key(env: str) -> None:
    plan = repo_plan(env)
    aliases = {node.inputs["name"]: node for node in graph_of(plan).of_type(ALIAS)}
    alias_arn = recorded(plan, aliases[f"alias/{plan.settings.cluster.name}-sops"])["arn"]
    for path in (
        f"gitops/aws/clusters/{env}/secrets/grafana.yaml",
        f"gitops/aws/clusters/{env}/secrets/team/db.yml",
        f"/home/someone/eks-gitops/gitops/aws/clusters/{env}/secrets/grafana.yaml",
    ):
        rule = rule_for(path)
        assert rule is not None, path
        # The ARN AWS gives the alias the stack creates (KMS accepts an alias ARN wherever it takes
        # a key id, Encrypt and Decrypt included: KMS API reference, `KeyId`; SOPS accepts
        # `arn:aws:kms:REGION:ACCOUNT:alias/NAME` as a key: getsops/sops kms/keysource.go, arnRegex).
        assert rule["kms"] == alias_arn == plan.settings.sops_key_reference
        # kustomize-controller needs metadata, kind and apiVersion in clear (docs/spec/v1/
        # kustomizations.md, "Decryption").
        assert rule["encrypted_regex"] == "^(data|stringData)$"
    # Nothing else in the repository matches a rule: `sops encrypt` refuses it rather than guess.
    for path in (
        f"gitops/aws/clusters/{env}/common/app-cluster.yaml",
        "gitops/aws/common/app-clusters/secret.yaml",
        f"gitops/aws/clusters/{env}/secrets-old/x.yaml",
    ):
        assert rule_for(path) is None, path
    assert len(creation_rules()) == len(ENVIRONMENTS)


ENCRYPTED = """\
apiVersion: v1
kind: Secret
metadata:
  name: grafana-admin
  namespace: gitops-system
type: Opaque
stringData:
  password: ENC[AES256_GCM,data:Gp3kWw8=,iv:cRAgmF0sNS7oZ6nS2yjcU0o7iCHgGkV+3lo1gCHxhyk=,tag:1p8Q2mmY6k3xRkCC4nUixA==,type:str]
sops:
  kms:
    - arn: arn:aws:kms:eu-west-1:123456789012:alias/gitops-dev-sops
      created_at: "2026-12-06T05:00:00Z"
      enc: AQICAHhQmXh1cmFuZG9tLWRhdGEta2V5LWZvci10ZXN0cw==
      aws_profile: ""
  lastmodified: "2026-12-06T05:00:00Z"
  mac: ENC[AES256_GCM,data:pZ2cUq0hJw==,iv:3b1cKx1yQ3k9b2Q1l2Y3a4b5c6d7e8f9g0h1i2j3k4l=,tag:Zm9vYmFyYmF6cXV4cXV1eA==,type:str]
  encrypted_regex: ^(data|stringData)$
  version: 3.9.4
"""


def sops_tree(tmp_path: Path) -> Path:
    """A copy of the gitops tree with the repository's .sops.yaml beside it."""
    root = copy_tree(tmp_path)
    shutil.copy(SOPS_CONFIG, root / ".sops.yaml")
    return root


def write_secret(root: Path, where: Path, text: str) -> None:
    (root / where / "grafana-admin.yaml").write_text(text)
    kustomization = root / where / "kustomization.yaml"
    if "resources: []" in kustomization.read_text():
        edit(kustomization, "resources: []", "resources:\n  - grafana-admin.yaml")
    else:
        edit(kustomization, "resources:\n", "resources:\n  - grafana-admin.yaml\n")


def validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["--root", str(root)])
    return code, capsys.readouterr().out.splitlines()


def test_an_encrypted_secret_in_the_clusters_secrets_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = sops_tree(tmp_path)
    write_secret(root, CLUSTERS / "dev/secrets", ENCRYPTED)
    code, lines = validate(root, capsys)
    assert code == 0, lines
    assert "cluster-secrets" in lines[0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        # The same Secret before `sops encrypt`.
        (
            ("ENC[AES256_GCM,data:Gp3kWw8=", "hunter2 ENC[AES256_GCM,data:Gp3kWw8="),
            "stringData.password",
        ),
        # Ciphertext copied without the metadata SOPS decrypts it with.
        (("sops:\n", "notes:\n"), "stringData.password"),
    ],
)
def test_make_validate_refuses_an_unencrypted_secret(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str],
    field: str,
) -> None:
    root = sops_tree(tmp_path)
    write_secret(root, CLUSTERS / "dev/secrets", ENCRYPTED.replace(*change))
    code, lines = validate(root, capsys)
    assert code == 1
    assert any(
        line.startswith(
            "gitops/aws/clusters/dev/secrets/grafana-admin.yaml: "
            f"Secret/gitops-system/grafana-admin: {field}: Secret data in clear"
        )
        for line in lines
    ), lines


def test_a_secret_encrypted_for_another_cluster_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dev's file copied to prod: prod's kustomize-controller may decrypt with prod's key only.
    root = sops_tree(tmp_path)
    write_secret(root, CLUSTERS / "prod/secrets", ENCRYPTED)
    code, lines = validate(root, capsys)
    assert code == 1
    assert any(
        line.startswith(
            "gitops/aws/clusters/prod/secrets/grafana-admin.yaml: "
            "Secret/gitops-system/grafana-admin: sops.kms: encrypted with "
            "['arn:aws:kms:eu-west-1:123456789012:alias/gitops-dev-sops'], but .sops.yaml gives "
            "this path ['arn:aws:kms:eu-central-1:123456789012:alias/gitops-prod-sops']"
        )
        for line in lines
    ), lines


def test_a_plain_data_secret_is_refused_wherever_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = sops_tree(tmp_path)
    plain = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: grafana-admin\n"
        "  namespace: gitops-system\ndata:\n  password: aHVudGVyMg==\n"
    )
    write_secret(root, Path("gitops/aws/common/app-clusters"), plain)
    code, lines = validate(root, capsys)
    assert code == 1
    assert any(
        line.startswith(
            "gitops/aws/common/app-clusters/grafana-admin.yaml: "
            "Secret/gitops-system/grafana-admin: data.password: Secret data in clear"
        )
        for line in lines
    ), lines


def test_an_encrypted_secret_where_nothing_decrypts_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # app-cluster applies the shared profile without decryption: Flux would apply the ciphertext.
    root = sops_tree(tmp_path)
    write_secret(root, Path("gitops/aws/common/app-clusters"), ENCRYPTED)
    code, lines = validate(root, capsys)
    assert code == 1
    assert any(
        line.startswith(
            "gitops/aws/common/app-clusters/grafana-admin.yaml: "
            "Secret/gitops-system/grafana-admin: sops: SOPS-encrypted, but applied by "
            "Kustomization/gitops-system/app-cluster"
        )
        for line in lines
    ), lines
