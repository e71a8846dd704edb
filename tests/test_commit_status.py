"""Commit statuses per environment (notification Provider + Alert) and the syncedRevision output.

What notification-controller does with these objects is not visible to the mock engine; the facts
the tests rely on are cited where used:
- fluxcd/notification-controller docs/spec/v1beta3/providers.md, "Git commit status updates" and
  "GitHub": a `github` Provider posts Kustomization events as commit statuses to the repository in
  `.spec.address`, authenticating with the Secret key `token`.
- fluxcd/notification-controller internal/notifier/github.go: severity `info` becomes the state
  `success`, `error` becomes `failure`; Progressing events are skipped.
- fluxcd/pkg git/github/client.go (KeyAppID, KeyAppInstallationID, KeyAppPrivateKey, KeyAppBaseURL):
  the Secret keys of a GitHub App, `githubAppID`, `githubAppInstallationID`, `githubAppPrivateKey`,
  `githubAppBaseURL`; notification-controller internal/notifier/github_helpers.go uses them when the
  Secret has no `token`.
- Flux v2.6 release notes (fluxcd.io/blog/2025/05/flux-v2.6.0, "Notifications Improvements"):
  `.spec.commitStatusExpr`, a CEL expression over `event`, names the status instead of the default.
- fluxcd/notification-controller docs/spec/v1beta3/alerts.md, "Event sources" and "Event severity":
  an entry selects objects by kind and by name or `*`, in its `namespace` or else the Alert's;
  `eventSeverity: info` forwards every event, errors included.
- fluxcd/kustomize-controller docs/spec/v1/kustomizations.md, "Last applied revision":
  `.status.lastAppliedRevision` is the source revision last applied successfully, and
  source-controller's GitRepository artifact revision has the form `<branch>@sha1:<commit>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from eks_gitops.flux.commit_status import (
    CommitStatusArgs,
    GitHubApp,
    alert_spec,
    commit_status_context,
    commit_status_expression,
    credential_data,
    provider_spec,
)
from eks_gitops.settings.model import GitHubConfig
from tests.conftest import ENVIRONMENTS, FLUX_V294, repo_plan
from tests.gitops_support import CLUSTERS
from tools.gitops.checks import schema_validator
from tools.gitops.cluster_tree import expand_cluster, is_flux_kustomization
from tools.gitops.kustomize import Builder
from tools.offline.wire import SECRET_MARK
from tools.paths import REPO_ROOT
from tools.plan import Plan, PlanError, plan_stack, write_plan

NOTIFICATION_API = "notification.toolkit.fluxcd.io/v1beta3"
PROVIDER = f"kubernetes:{NOTIFICATION_API}:Provider"
ALERT = f"kubernetes:{NOTIFICATION_API}:Alert"
SECRET = "kubernetes:core/v1:Secret"
TOKEN_KEY = "eks-gitops:githubStatusToken"
PLAN_FILES = ("resources.json", "manifests.yaml", "outputs.json")

GITHUB = GitHubConfig(
    owner="acme-platform",
    repository="eks-gitops",
    host="github.com",
    create_repository=False,
    visibility="private",
    known_hosts=(),
    ssh_host="github.com",
    ssh_port=22,
)
ENTERPRISE = GitHubConfig(
    owner="platform",
    repository="clusters",
    host="github.example.com",
    create_repository=False,
    visibility="private",
    known_hosts=(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    ),
    ssh_host="github.example.com",
    ssh_port=22,
)
APP = GitHubApp(1234, 567890, api_url=None)
ENTERPRISE_APP = GitHubApp(1234, 567890, api_url=ENTERPRISE.api_url)


def commit_status_args(github: GitHubConfig, environment: str) -> CommitStatusArgs:
    return CommitStatusArgs(
        environment=environment,
        namespace="gitops-system",
        repository_url=github.web_url,
        credential=None,  # type: ignore[arg-type]  # the specs do not read it
        github_app=None,
    )


def evaluate_string_concatenation(expression: str) -> str:
    """A CEL expression made only of single-quoted string literals joined by `+`, evaluated: CEL
    concatenates strings with `+`, as Python does. Anything else is refused, not guessed."""
    literal = r"'([^'\\]*)'"
    if not re.fullmatch(rf"\s*{literal}(\s*\+\s*{literal})*\s*", expression):
        raise ValueError(f"not a concatenation of string literals: {expression}")
    return "".join(re.findall(literal, expression))


def substitute_event(expression: str, kind: str, name: str) -> str:
    for field, value in (("kind", kind), ("name", name)):
        reference = f"event.involvedObject.{field}"
        assert reference in expression
        expression = expression.replace(reference, f"'{value}'")
    return expression


# ------------------------------------------------------------------------------ pure: flux/


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(
    ("kind", "name"), [("Kustomization", "gitops-system"), ("Kustomization", "app-cluster")]
)
def test_the_cel_expression_yields_the_context_promotion_reads(
    environment: str, kind: str, name: str
) -> None:
    expression = substitute_event(commit_status_expression(environment), kind, name)
    assert evaluate_string_concatenation(expression) == commit_status_context(
        environment, kind, name
    )


def test_the_evaluator_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(ValueError):
        evaluate_string_concatenation("'a' + event.involvedObject.kind")
    assert evaluate_string_concatenation("'a/' + 'b'") == "a/b"


def test_provider_posts_to_the_repository_over_https() -> None:
    spec = provider_spec(commit_status_args(GITHUB, "qa"))
    assert spec["type"] == "github"
    assert spec["address"] == "https://github.com/acme-platform/eks-gitops"
    assert spec["commitStatusExpr"] == commit_status_expression("qa")
    assert spec["secretRef"] == {"name": "github-commit-status"}
    # An Enterprise Server is addressed on its own host; the controller derives the API from it.
    assert ENTERPRISE.web_url == "https://github.example.com/platform/clusters"


def test_alert_forwards_every_kustomization_event_of_the_namespace() -> None:
    spec = alert_spec("gitops-system")
    assert spec["providerRef"] == {"name": "github-commit-status"}
    assert spec["eventSeverity"] == "info"
    assert spec["eventSources"] == [
        {"kind": "Kustomization", "name": "*", "namespace": "gitops-system"}
    ]


def test_credential_data_for_a_token() -> None:
    assert credential_data(None, "s3cret") == {"token": "s3cret"}


def test_credential_data_for_a_github_app() -> None:
    assert credential_data(APP, "PEM") == {
        "githubAppID": "1234",
        "githubAppInstallationID": "567890",
        "githubAppPrivateKey": "PEM",
    }
    # The App's installation token comes from the API of the Enterprise Server, not api.github.com.
    assert credential_data(ENTERPRISE_APP, "PEM")["githubAppBaseURL"] == (
        "https://github.example.com/api/v3"
    )


# ------------------------------------------------------------------------------ the plans


def manifests_of(plan: Plan, kind: str) -> list[dict[str, Any]]:
    return [m for m in plan.manifests() if m["kind"] == kind]


def selects(source: Mapping[str, Any], alert_namespace: str, obj: Mapping[str, Any]) -> bool:
    metadata = obj["metadata"]
    return (
        source["kind"] == obj["kind"]
        and source["name"] in ("*", metadata["name"])
        and source.get("namespace", alert_namespace) == metadata.get("namespace")
    )


@pytest.fixture(scope="module")
def builder() -> Builder:
    return Builder()


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_stack_declares_the_github_provider_for_its_environment(stack: str) -> None:
    plan = repo_plan(stack)
    [provider] = manifests_of(plan, "Provider")
    assert provider["apiVersion"] == NOTIFICATION_API
    spec = provider["spec"]
    assert spec["type"] == "github"
    github = plan.settings.github
    assert spec["address"] == f"https://{github.host}/{github.owner}/{github.repository}"
    context = evaluate_string_concatenation(
        substitute_event(spec["commitStatusExpr"], "Kustomization", "gitops-system")
    )
    assert context == commit_status_context(stack, "Kustomization", "gitops-system")
    assert f"/{stack}/" in context
    # The Provider reads its credential from the Secret the same plan writes beside it.
    [secret] = [
        m
        for m in manifests_of(plan, "Secret")
        if m["metadata"]["name"] == spec["secretRef"]["name"]
    ]
    assert secret["metadata"]["namespace"] == provider["metadata"]["namespace"]
    assert secret["stringData"] == {"token": SECRET_MARK}


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_alert_covers_the_bootstrap_and_every_child_kustomization(
    stack: str, builder: Builder
) -> None:
    plan = repo_plan(stack)
    [provider] = manifests_of(plan, "Provider")
    [alert] = manifests_of(plan, "Alert")
    assert alert["spec"]["providerRef"]["name"] == provider["metadata"]["name"]
    assert alert["metadata"]["namespace"] == provider["metadata"]["namespace"]
    assert alert["spec"]["eventSeverity"] == "info"
    [bootstrap] = manifests_of(plan, "Kustomization")
    tree = expand_cluster(REPO_ROOT, REPO_ROOT / CLUSTERS / stack, builder)
    children = [dict(m.body) for m in tree.manifests.values() if is_flux_kustomization(m.body)]
    assert "app-cluster" in {child["metadata"]["name"] for child in children}
    namespace = alert["metadata"]["namespace"]
    uncovered = [
        obj["metadata"]["name"]
        for obj in [bootstrap, *children]
        if not any(selects(source, namespace, obj) for source in alert["spec"]["eventSources"])
    ]
    assert uncovered == []


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_provider_and_alert_validate_against_the_notification_schemas(stack: str) -> None:
    plan = repo_plan(stack)
    for kind in ("Provider", "Alert"):
        [obj] = manifests_of(plan, kind)
        errors = [error.message for error in schema_validator(kind).iter_errors(obj)]
        assert errors == [], kind


def test_the_notification_schemas_reject_what_the_crds_reject() -> None:
    provider = {
        "apiVersion": NOTIFICATION_API,
        "kind": "Provider",
        "metadata": {"name": "p", "namespace": "gitops-system"},
        "spec": provider_spec(commit_status_args(GITHUB, "dev")),
    }
    alert = {
        "apiVersion": NOTIFICATION_API,
        "kind": "Alert",
        "metadata": {"name": "a", "namespace": "gitops-system"},
        "spec": alert_spec("gitops-system"),
    }
    assert list(schema_validator("Provider").iter_errors(provider)) == []
    assert list(schema_validator("Alert").iter_errors(alert)) == []
    bad: list[tuple[str, dict[str, Any]]] = [
        ("Provider", {**provider, "spec": {**provider["spec"], "type": "githubstatus"}}),
        ("Provider", {**provider, "spec": {"address": "https://github.com/a/b"}}),
        ("Alert", {**alert, "spec": {**alert["spec"], "eventSeverity": "warning"}}),
        ("Alert", {**alert, "spec": {"providerRef": {"name": "p"}}}),
        (
            "Alert",
            {**alert, "spec": {**alert["spec"], "eventSources": [{"kind": "Secret", "name": "*"}]}},
        ),
    ]
    for kind, obj in bad:
        assert list(schema_validator(kind).iter_errors(obj)), obj["spec"]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_synced_revision_is_an_output_of_every_stack(stack: str) -> None:
    plan = repo_plan(stack)
    revision = plan.outputs()["syncedRevision"]
    assert re.fullmatch(rf"{re.escape(plan.settings.sync.branch)}@sha1:[0-9a-f]{{40}}", revision)


def test_the_token_never_reaches_the_plan_in_clear(tmp_path: Path) -> None:
    token = "github_pat_11FAKE0TOKEN_for_the_plan_test_7d3c9e"
    plan = plan_stack("dev", flux_manifests=FLUX_V294, secret_values={TOKEN_KEY: token})
    target = write_plan(plan, tmp_path)
    [secret] = [
        r
        for r in plan.run.of_type(SECRET)
        if r.plain_inputs["metadata"]["name"] == "github-commit-status"
    ]
    # The token did reach the program, so its absence from the files below means something.
    assert secret.plain_inputs["stringData"] == {"token": token}
    for name in PLAN_FILES:
        assert token not in (target / name).read_text(), name
    assert not any(token in line for line in plan.run.logs)


def test_a_github_app_writes_its_ids_and_key(plan_edited: Any) -> None:
    def use_app(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:notifications"] = {
            "githubAppId": 1234,
            "githubAppInstallationId": 567890,
        }

    plan = plan_edited("dev", use_app)
    [secret] = [
        m for m in manifests_of(plan, "Secret") if m["metadata"]["name"] == "github-commit-status"
    ]
    assert sorted(secret["stringData"]) == [
        "githubAppID",
        "githubAppInstallationID",
        "githubAppPrivateKey",
    ]
    [resource] = [
        r
        for r in plan.run.of_type(SECRET)
        if r.plain_inputs["metadata"]["name"] == "github-commit-status"
    ]
    assert resource.plain_inputs["stringData"]["githubAppID"] == "1234"


def test_commit_statuses_can_be_turned_off(plan_edited: Any) -> None:
    def turn_off(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:notifications"] = {"commitStatuses": False}

    plan = plan_edited("qa", turn_off)
    assert plan.run.of_type(PROVIDER) == plan.run.of_type(ALERT) == []
    assert "github-commit-status" not in {
        m["metadata"]["name"] for m in manifests_of(plan, "Secret")
    }


def test_a_token_in_clear_in_the_stack_file_is_refused(plan_edited: Any) -> None:
    token = "ghp_clearTextTokenThatMustNotBeAccepted0"

    def write_token(document: dict[str, Any]) -> None:
        document["config"][TOKEN_KEY] = token

    with pytest.raises(PlanError) as error:
        plan_edited("dev", write_token)
    assert TOKEN_KEY in str(error.value)
    assert token not in str(error.value)


def test_an_unused_credential_is_refused(plan_edited: Any) -> None:
    def app_and_token(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:notifications"] = {
            "githubAppId": 1,
            "githubAppInstallationId": 2,
        }
        document["config"][TOKEN_KEY] = {"secure": "AAABAKx0ciphertext"}

    with pytest.raises(PlanError, match=f"{TOKEN_KEY} .*do not use it"):
        plan_edited("dev", app_and_token)
