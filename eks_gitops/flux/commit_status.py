"""Commit statuses per environment: the cluster's notification-controller posts a GitHub commit
status for every revision its Kustomizations apply or fail to apply, through a `github` Provider for
this repository, an Alert that forwards the Kustomizations' events to it, and the Secret the Provider
authenticates with. Declared before the sync, so the first revision the cluster applies is reported.

Flux's default status context is `<kind>/<name>/<first segment of the Provider's UID>`: the same for
every environment, and changed by recreating the Provider. Since Flux v2.6 a Provider's
`commitStatusExpr` (a CEL expression over the event) names it instead; this program names it after
the environment (`commit_status_context`), so a commit on GitHub shows which environments applied
it, and `make promote` asks GitHub whether the environment before the target did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.core import v1 as core_v1
from pulumi_kubernetes.meta import v1 as meta_v1

from eks_gitops.flux.kinds import api_version

# The first segment of every commit status context this repository's environments and pipeline post.
CONTEXT_PREFIX: Final = "eks-gitops"


def commit_status_context(environment: str, kind: str, name: str) -> str:
    """The context the cluster of `environment` gives a status about the object `kind`/`name`."""
    return f"{CONTEXT_PREFIX}/{environment}/{kind}/{name}"


def pulumi_status_context(environment: str) -> str:
    """The context the pipeline gives its status on a commit that `pulumi up` applied to the
    environment's stack; promotion waits for it beside the cluster's own (.github/workflows)."""
    return f"{CONTEXT_PREFIX}/{environment}/pulumi"


def commit_status_expression(environment: str) -> str:
    """The Provider's `commitStatusExpr`: commit_status_context in CEL, over the event's object."""
    return f"'{CONTEXT_PREFIX}/{environment}/' + event.involvedObject.kind + '/' + event.involvedObject.name"


# One name for the Provider, the Alert and the credentials Secret, beside the bootstrap objects in
# the toolkit namespace.
COMMIT_STATUS_NAME: Final = "github-commit-status"

# The Secret keys notification-controller reads for a `github` Provider: `token`, or a GitHub App
# as fluxcd/pkg git/github reads one (its Key* constants).
TOKEN_KEY: Final = "token"
APP_ID_KEY: Final = "githubAppID"
APP_INSTALLATION_ID_KEY: Final = "githubAppInstallationID"
APP_PRIVATE_KEY_KEY: Final = "githubAppPrivateKey"
APP_BASE_URL_KEY: Final = "githubAppBaseURL"

T = TypeVar("T")


@dataclass(frozen=True)
class GitHubApp:
    """Post statuses as a GitHub App rather than with a token."""

    app_id: int
    installation_id: int
    api_url: str | None
    """An Enterprise Server's REST API; None for api.github.com."""


@dataclass(frozen=True)
class CommitStatusArgs:
    environment: str
    namespace: str
    repository_url: str
    """The Provider's `address`, `https://HOST/OWNER/REPO`: the controller takes the API host
    (github.com, or an Enterprise Server's) and owner/repository from it."""
    credential: pulumi.Output[str]
    """The token, or the GitHub App's private key: a Pulumi secret."""
    github_app: GitHubApp | None


def provider_spec(args: CommitStatusArgs) -> dict[str, Any]:
    return {
        "type": "github",
        "address": args.repository_url,
        "secretRef": {"name": COMMIT_STATUS_NAME},
        # Flux's default context ends in part of the Provider's UID: the same shape on every
        # cluster, and a new one whenever the Provider is recreated.
        "commitStatusExpr": commit_status_expression(args.environment),
    }


def alert_spec(namespace: str) -> dict[str, Any]:
    return {
        "providerRef": {"name": COMMIT_STATUS_NAME},
        # `error` would forward failures only; a commit must also show where it was applied.
        "eventSeverity": "info",
        # The bootstrap Kustomization and every child the tree declares live in the toolkit
        # namespace; the wildcard follows the tree as Kustomizations are added to it.
        "eventSources": [{"kind": "Kustomization", "name": "*", "namespace": namespace}],
    }


def credential_data(app: GitHubApp | None, credential: T) -> dict[str, T | str]:
    """The Provider Secret's data: the token, or the App's ids and private key (`credential`),
    plus the App's API endpoint on an Enterprise Server (it defaults to api.github.com)."""
    if app is None:
        return {TOKEN_KEY: credential}
    data: dict[str, T | str] = {
        APP_ID_KEY: str(app.app_id),
        APP_INSTALLATION_ID_KEY: str(app.installation_id),
        APP_PRIVATE_KEY_KEY: credential,
    }
    if app.api_url is not None:
        data[APP_BASE_URL_KEY] = app.api_url.rstrip("/")
    return data


class CommitStatus(pulumi.ComponentResource):
    """Declared with the Kubernetes provider and, as dependencies, the toolkit's namespace, the
    notification CRDs and notification-controller."""

    TYPE_TOKEN: ClassVar[str] = "eks-gitops:notifications:CommitStatus"

    resources: list[pulumi.Resource]
    """Everything declared here, for the sync to wait on."""

    def __init__(
        self, name: str, args: CommitStatusArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        metadata = meta_v1.ObjectMetaArgs(name=COMMIT_STATUS_NAME, namespace=args.namespace)

        def options(*after: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(after))

        secret = core_v1.Secret(
            f"{name}-credentials",
            metadata=metadata,
            type="Opaque",
            # The SDK's Secret marks all of `stringData` secret; the credential is one already.
            string_data=credential_data(args.github_app, args.credential),
            opts=options(),
        )
        provider = CustomResource(
            f"{name}-provider",
            api_version=api_version("Provider"),
            kind="Provider",
            metadata=metadata,
            spec=provider_spec(args),
            opts=options(secret),
        )
        alert = CustomResource(
            f"{name}-alert",
            api_version=api_version("Alert"),
            kind="Alert",
            metadata=metadata,
            spec=alert_spec(args.namespace),
            opts=options(provider),
        )
        self.resources = [secret, provider, alert]
        self.register_outputs({"provider": COMMIT_STATUS_NAME, "alert": COMMIT_STATUS_NAME})
