"""The deploy key's pure helpers, the mock's key material they are tested with, and the SSH Secret
as the program declares it: secret, with one known_hosts line per host key of the configured host."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from eks_gitops.github.deploy_key import KEY_ALGORITHMS, deploy_key_title, known_hosts
from eks_gitops.settings.model import DEPLOY_KEY_ALGORITHMS
from tests.conftest import ENVIRONMENTS, repo_plan, ssh_secret
from tools.offline.engine import RecordedResource
from tools.offline.keys import tls_private_key_outputs
from tools.offline.outputs import GITHUB_SSH_KEYS
from tools.offline.wire import SECRET_MARK
from tools.plan import Plan

SECRET_TYPE = "kubernetes:core/v1:Secret"
DEPLOY_KEY_TYPE = "github:index/repositoryDeployKey:RepositoryDeployKey"
# What each configured algorithm must produce, written out independently of KEY_ALGORITHMS.
EXPECTED_SSH_KEY_TYPE = {
    "ecdsa-p384": "ecdsa-sha2-nistp384",
    "ecdsa-p256": "ecdsa-sha2-nistp256",
    "ed25519": "ssh-ed25519",
    "rsa-4096": "ssh-rsa",
}

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def openssh_public(key: Any) -> str:
    text: str = key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return text


def host_key(private: PrivateKey) -> str:
    """A host key line as `github.knownHosts` takes it: `TYPE BASE64`."""
    return openssh_public(private.public_key())


ENTERPRISE_HOST_KEYS = (
    host_key(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))),
    host_key(ec.derive_private_key(123456789, ec.SECP256R1())),
)


def deploy_key(plan: Plan) -> RecordedResource:
    [key] = plan.run.of_type(DEPLOY_KEY_TYPE)
    return key


# ---------------------------------------------------------------------------------------------
# known_hosts


def test_known_hosts_writes_one_line_per_key_host_first() -> None:
    keys = ["ssh-ed25519 AAAAC3Nza", "ecdsa-sha2-nistp256 AAAAE2Vj", "ssh-rsa AAAAB3Nz"]

    text = known_hosts("git.example.com", keys)

    assert text.endswith("\n")
    assert text.splitlines() == [
        "git.example.com ssh-ed25519 AAAAC3Nza",
        "git.example.com ecdsa-sha2-nistp256 AAAAE2Vj",
        "git.example.com ssh-rsa AAAAB3Nz",
    ]


def test_known_hosts_leaves_key_comments_out() -> None:
    assert known_hosts("github.com", ["ssh-ed25519 AAAAC3Nza root@builder"]) == (
        "github.com ssh-ed25519 AAAAC3Nza\n"
    )


def test_known_hosts_without_keys_is_an_error() -> None:
    with pytest.raises(ValueError, match=re.escape("no SSH host keys for git.example.com")):
        known_hosts("git.example.com", [])


@pytest.mark.parametrize("malformed", ["", "ssh-ed25519", "   "])
def test_known_hosts_with_a_key_missing_its_type_or_body_is_an_error(malformed: str) -> None:
    with pytest.raises(ValueError, match=re.escape("is not 'TYPE BASE64'")):
        known_hosts("github.com", ["ssh-ed25519 AAAAC3Nza", malformed])


# ---------------------------------------------------------------------------------------------
# Deploy key titles


def test_deploy_key_title_names_the_cluster() -> None:
    # Two clusters syncing the same namespace, branch and path differ by their name alone.
    dev = deploy_key_title("gitops-dev", "gitops-system", "main", "gitops/clusters/shared", 1)
    qa = deploy_key_title("gitops-qa", "gitops-system", "main", "gitops/clusters/shared", 1)

    assert "gitops-dev" in dev
    assert "gitops-qa" in qa
    assert dev != qa


def test_deploy_key_titles_tell_two_clusters_on_one_repository_apart() -> None:
    dev, qa = (repo_plan("dev"), repo_plan("qa"))
    dev_key, qa_key = deploy_key(dev).plain_inputs, deploy_key(qa).plain_inputs

    assert dev_key["repository"] == qa_key["repository"]
    assert dev_key["title"] != qa_key["title"]
    assert "gitops-dev" in dev_key["title"]
    assert "gitops-qa" in qa_key["title"]


# ---------------------------------------------------------------------------------------------
# Algorithms and the mock's key material


def test_every_configurable_algorithm_has_key_arguments() -> None:
    assert set(KEY_ALGORITHMS) == set(DEPLOY_KEY_ALGORITHMS)
    assert set(EXPECTED_SSH_KEY_TYPE) == set(DEPLOY_KEY_ALGORITHMS)


@functools.cache
def mock_key_outputs(algorithm: str) -> dict[str, str]:
    """The mock's tls.PrivateKey outputs for an algorithm's arguments, with the provider's defaults
    for the arguments it leaves out."""
    arguments = KEY_ALGORITHMS[algorithm]
    return tls_private_key_outputs(
        "deploy-key-1",
        str(arguments["algorithm"]),
        str(arguments.get("ecdsa_curve", "P224")),
        int(arguments.get("rsa_bits", 2048)),
    )


@pytest.mark.parametrize("algorithm", DEPLOY_KEY_ALGORITHMS)
def test_mock_keys_are_real_key_pairs_of_the_configured_algorithm(algorithm: str) -> None:
    outputs = mock_key_outputs(algorithm)
    public = outputs["publicKeyOpenssh"].strip()
    private_keys = [
        serialization.load_pem_private_key(outputs["privateKeyPem"].encode(), password=None),
        serialization.load_pem_private_key(outputs["privateKeyPemPkcs8"].encode(), password=None),
        serialization.load_ssh_private_key(outputs["privateKeyOpenssh"].encode(), password=None),
    ]

    assert public.split()[0] == EXPECTED_SSH_KEY_TYPE[algorithm]
    assert outputs["privateKeyPemPkcs8"].startswith("-----BEGIN PRIVATE KEY-----")
    assert outputs["privateKeyOpenssh"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert [openssh_public(key.public_key()) for key in private_keys] == [public] * 3
    blob = base64.b64decode(public.split()[1])
    fingerprint = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert outputs["publicKeyFingerprintSha256"] == f"SHA256:{fingerprint}"
    if algorithm == "rsa-4096":
        assert isinstance(private_keys[0], rsa.RSAPrivateKey)
        assert private_keys[0].key_size == 4096


def test_mock_keys_differ_per_resource_name() -> None:
    # Rotation declares deploy-key-2 next to deploy-key-1; the two must not be one key.
    first = tls_private_key_outputs("deploy-key-1", "ECDSA", "P384", 2048)
    second = tls_private_key_outputs("deploy-key-2", "ECDSA", "P384", 2048)

    assert first["publicKeyOpenssh"] != second["publicKeyOpenssh"]


# ---------------------------------------------------------------------------------------------
# The SSH Secret as planned


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_secret_values_are_pulumi_secrets(stack: str) -> None:
    secret = ssh_secret(repo_plan(stack))

    keys = ("identity", "identity.pub", "known_hosts")
    assert secret.redacted_inputs["stringData"] == dict.fromkeys(keys, SECRET_MARK)
    assert set(secret.plain_inputs["stringData"]) == set(keys)


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_secret_identity_is_the_private_half_of_the_deploy_key(stack: str) -> None:
    plan = repo_plan(stack)
    string_data = ssh_secret(plan).plain_inputs["stringData"]
    identity = serialization.load_pem_private_key(string_data["identity"].encode(), password=None)

    assert openssh_public(identity.public_key()) == deploy_key(plan).plain_inputs["key"]
    assert string_data["identity.pub"].strip() == deploy_key(plan).plain_inputs["key"]


def test_ed25519_identity_is_in_openssh_format_which_openssh_reads(
    plan_edited: Callable[..., Plan],
) -> None:
    def use_ed25519(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:deployKey"]["algorithm"] = "ed25519"

    plan = plan_edited("dev", use_ed25519)
    identity_text = ssh_secret(plan).plain_inputs["stringData"]["identity"]
    identity = serialization.load_ssh_private_key(identity_text.encode(), password=None)

    assert identity_text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert openssh_public(identity.public_key()) == deploy_key(plan).plain_inputs["key"]


def test_ecdsa_identity_stays_pkcs8_as_bootstrap_writes_it() -> None:
    identity_text = ssh_secret(repo_plan("dev")).plain_inputs["stringData"]["identity"]

    assert identity_text.startswith("-----BEGIN PRIVATE KEY-----")


def test_github_com_known_hosts_has_a_line_per_published_github_key() -> None:
    string_data = ssh_secret(repo_plan("dev")).plain_inputs["stringData"]

    assert string_data["known_hosts"].splitlines() == [
        f"github.com {key}" for key in GITHUB_SSH_KEYS
    ]


def test_enterprise_host_known_hosts_uses_the_configured_keys(
    plan_edited: Callable[..., Plan],
) -> None:
    def enterprise(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:github"]["host"] = "github.example.com"
        document["config"]["eks-gitops:github"]["knownHosts"] = list(ENTERPRISE_HOST_KEYS)

    string_data = ssh_secret(plan_edited("dev", enterprise)).plain_inputs["stringData"]

    assert string_data["known_hosts"].splitlines() == [
        f"github.example.com {key}" for key in ENTERPRISE_HOST_KEYS
    ]
