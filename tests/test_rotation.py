"""No change of the deploy key leaves Flux holding a key GitHub dropped: rotating it
(`deployKey.generation` 1 -> 2), and every other setting that replaces it (`sync.branch` and
`sync.path`, which are in its title, and `deployKey.readWrite`).

integrations/terraform-provider-github github/resource_github_repository_deploy_key.go: the resource
has no Update ("Deploy keys are defined immutable in the API. Updating results in force new."), and
`title`, `read_only`, `key` and `repository` are ForceNew. GitHub refuses a public key that is
already registered as a deploy key (422 "key is already in use", the REST API's "Create a deploy
key"), so a replacement that keeps the key cannot add the new deploy key first.

Each of those changes gives the key pair and the deploy key new resource names, so Pulumi creates
them as new resources, with a new key; the SSH Secret keeps its name and is updated in place (never
deleted and recreated) once the new deploy key exists; the old key pair and deploy key, gone from
the program, are deleted at the end of the update, after every create and update. The order is read
off the before/after graphs with `tests.graph_support.update_steps`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from eks_gitops.github.deploy_key import key_resource_name
from tests.conftest import ENVIRONMENTS, repo_plan
from tests.graph_support import Graph, UpdateSteps, graph_of, update_steps
from tools.plan import Plan

TLS_KEY = "tls:index/privateKey:PrivateKey"
DEPLOY_KEY = "github:index/repositoryDeployKey:RepositoryDeployKey"
SECRET = "kubernetes:core/v1:Secret"
SSH_SECRET_NAME = "deploy-key"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


def next_generation(document: dict[str, Any]) -> None:
    deploy_key = document["config"]["eks-gitops:deployKey"]
    deploy_key["generation"] = deploy_key["generation"] + 1


def other_branch(document: dict[str, Any]) -> None:
    document["config"]["eks-gitops:sync"]["branch"] = "release"


def other_path(document: dict[str, Any]) -> None:
    sync = document["config"]["eks-gitops:sync"]
    sync["path"] = sync["path"] + "-next"


def read_write(document: dict[str, Any]) -> None:
    document["config"]["eks-gitops:deployKey"]["readWrite"] = True
    policy = document["config"].setdefault("eks-gitops:policy", {})
    policy["relax"] = [*policy.get("relax", []), "read-only-deploy-key"]


# Every setting that replaces the deploy key, and the generation its new resource names carry.
KEY_CHANGES = {
    "generation": (next_generation, 2),
    "branch": (other_branch, 1),
    "path": (other_path, 1),
    "readWrite": (read_write, 1),
}


def secret_change_replaces(steps: UpdateSteps, secret_urn: str) -> bool:
    """Whether the Kubernetes provider turns this change of a Secret into a replacement.

    pulumi-kubernetes, provider/pkg/provider/diff.go `forceNewProperties`: `.metadata.name` and
    `.metadata.namespace` always force a replacement; a Secret's `.type`, `.data` and `.stringData`
    do too, unless the provider's `enableSecretMutable` is on and the Secret is not `immutable`
    (diff_test.go: "Secret resources trigger a replace when enableSecretMutable is not set").
    A replaced Secret that keeps its name is deleted before it is created again."""
    old, new = steps.before.nodes[secret_urn], steps.after.nodes[secret_urn]
    (provider,) = (
        steps.after.nodes[urn]
        for urn in new.depends_on
        if steps.after.nodes[urn].type == KUBERNETES_PROVIDER
    )
    # The SDK sends boolean provider settings JSON-encoded.
    mutable = provider.inputs.get("enableSecretMutable") in (True, "true")
    force_new = (
        set() if mutable and not new.inputs.get("immutable") else {"type", "data", "stringData"}
    )
    changed = {
        key
        for key in old.inputs.keys() | new.inputs.keys()
        if old.inputs.get(key) != new.inputs.get(key)
    }
    moved = any(
        old.inputs["metadata"].get(key) != new.inputs["metadata"].get(key)
        for key in ("name", "namespace")
    )
    return moved or bool(changed & force_new)


def rotation_order_problems(steps: UpdateSteps) -> list[str]:
    """Why this update could leave Flux with a key GitHub no longer accepts (empty when it cannot)."""
    before, after = steps.before, steps.after
    old_key = before.of_type(DEPLOY_KEY)
    new_key = after.of_type(DEPLOY_KEY)
    secret = after.find(SECRET, SSH_SECRET_NAME).urn
    problems = []
    if len(old_key) != 1 or len(new_key) != 1 or old_key[0].urn == new_key[0].urn:
        return ["the deploy key does not get a new resource name"]
    created, deleted = new_key[0].urn, old_key[0].urn
    if secret not in steps.updates:
        problems.append("the SSH Secret is not updated in place")
        return problems
    if secret_change_replaces(steps, secret):
        problems.append("the SSH Secret is deleted and recreated: Flux has no key in between")
        return problems
    if not steps.guaranteed_before(("create", created), ("update", secret)):
        problems.append("the Secret may switch keys before GitHub has the new one")
    if not steps.guaranteed_before(("update", secret), ("delete", deleted)):
        problems.append("the old deploy key may go while the Secret still holds it")
    return problems


@pytest.fixture
def rotated(plan_edited: Callable[..., Plan]) -> Callable[..., tuple[Graph, Graph]]:
    def run(stack: str, change: str = "generation") -> tuple[Graph, Graph]:
        edit, _ = KEY_CHANGES[change]
        return graph_of(repo_plan(stack)), graph_of(plan_edited(stack, edit))

    return run


@pytest.mark.parametrize("change", KEY_CHANGES)
@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_a_key_change_creates_the_new_key_updates_the_secret_then_deletes_the_old_key(
    stack: str, change: str, rotated: Callable[..., tuple[Graph, Graph]]
) -> None:
    before, after = rotated(stack, change)
    steps = update_steps(before, after)
    _, generation = KEY_CHANGES[change]

    # New names for the key pair and the deploy key: both are creates and deletes, not replaces.
    for type_token in (TLS_KEY, DEPLOY_KEY):
        (old,) = before.of_type(type_token)
        (new,) = after.of_type(type_token)
        assert old.name.startswith("deploy-key-1-")
        assert new.name.startswith(f"deploy-key-{generation}-") and new.name != old.name
        assert new.urn in steps.creates and old.urn in steps.deletes
        assert not new.delete_before_replace
    (new_key,) = after.of_type(DEPLOY_KEY)
    assert after.find(TLS_KEY, new_key.name).urn in new_key.depends_on
    # A new key pair, so GitHub never sees the same public key registered twice.
    (old_key,) = before.of_type(DEPLOY_KEY)
    assert new_key.inputs["key"] != old_key.inputs["key"]

    # The Secret keeps its URN, now holds the new private key, and waits for the new deploy key.
    old_secret = before.find(SECRET, SSH_SECRET_NAME)
    new_secret = after.find(SECRET, SSH_SECRET_NAME)
    assert old_secret.urn == new_secret.urn
    assert not new_secret.delete_before_replace
    assert new_secret.inputs["metadata"] == old_secret.inputs["metadata"]
    assert (
        new_secret.inputs["stringData"]["identity"] != old_secret.inputs["stringData"]["identity"]
    )
    assert new_key.urn in new_secret.depends_on
    assert new_key.inputs["key"] == new_secret.inputs["stringData"]["identity.pub"].strip()

    assert rotation_order_problems(steps) == []
    # Nothing else is created or deleted by the change.
    assert {after.nodes[urn].type for urn in steps.creates} == {TLS_KEY, DEPLOY_KEY}
    assert {before.nodes[urn].type for urn in steps.deletes} == {TLS_KEY, DEPLOY_KEY}


def test_a_secret_that_does_not_wait_for_the_new_deploy_key_is_caught(
    rotated: Callable[..., tuple[Graph, Graph]],
) -> None:
    before, after = rotated("dev")
    secret = after.find(SECRET, SSH_SECRET_NAME)
    (new_key,) = after.of_type(DEPLOY_KEY)
    # The Secret still reaches the key pair through its data; only the GitHub registration is cut.
    broken = after.without_edge(secret.urn, new_key.urn)
    assert rotation_order_problems(update_steps(before, broken)) == [
        "the Secret may switch keys before GitHub has the new one"
    ]


def test_a_deploy_key_that_keeps_its_name_is_caught(
    rotated: Callable[..., tuple[Graph, Graph]],
) -> None:
    before, _ = rotated("dev")
    # Same names before and after: Pulumi would replace the key in place of a create-then-delete.
    assert rotation_order_problems(update_steps(before, before)) == [
        "the deploy key does not get a new resource name"
    ]


def test_a_provider_that_replaces_changed_secrets_is_caught(
    rotated: Callable[..., tuple[Graph, Graph]],
) -> None:
    before, after = rotated("dev")
    secret = after.find(SECRET, SSH_SECRET_NAME)
    (provider,) = (n for n in after.of_type(KUBERNETES_PROVIDER) if n.urn in secret.depends_on)
    assert provider.inputs["enableSecretMutable"] == "true"
    immutable = {k: v for k, v in provider.inputs.items() if k != "enableSecretMutable"}
    broken = after.replacing(dataclasses.replace(provider, inputs=immutable))
    assert rotation_order_problems(update_steps(before, broken)) == [
        "the SSH Secret is deleted and recreated: Flux has no key in between"
    ]


KEY_INPUTS: dict[str, Any] = {
    "generation": 1,
    "title": "gitops-dev: gitops-system-main-gitops-system-./gitops/aws/clusters/dev (key 1)",
    "read_only": True,
    "repository": "acme-platform/eks-gitops",
    "algorithm": "ecdsa-p384",
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (
            "title",
            "gitops-dev: gitops-system-release-gitops-system-./gitops/aws/clusters/dev (key 1)",
        ),
        ("read_only", False),
        ("repository", "acme-platform/other"),
        ("algorithm", "ed25519"),
    ],
)
def test_every_input_that_replaces_a_deploy_key_names_a_new_key(field: str, value: Any) -> None:
    # resource_github_repository_deploy_key.go: title, read_only, repository and key are ForceNew;
    # the key changes with the algorithm (a new tls.PrivateKey).
    assert key_resource_name("deploy-key", **{**KEY_INPUTS, field: value}) != key_resource_name(
        "deploy-key", **KEY_INPUTS
    )
    assert key_resource_name("deploy-key", **KEY_INPUTS).startswith("deploy-key-1-")
