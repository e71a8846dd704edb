"""The notification objects that make each cluster post a GitHub commit status for every revision
its Kustomizations apply: a `github` Provider for this repository, an Alert that forwards the
Kustomizations' events to it, and the keys of the Secret the Provider authenticates with.
Pure: settings in, plain specs out."""

from __future__ import annotations

from typing import Any, Final, TypeVar

from flux.status import commit_status_expression
from settings.model import GitHubConfig, NotificationsConfig

NOTIFICATION_API: Final = "notification.toolkit.fluxcd.io/v1beta3"
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


def repository_https_url(github: GitHubConfig) -> str:
    """The Provider's `address`: the controller takes the API host (github.com, or an Enterprise
    Server's) and owner/repository from it."""
    return f"https://{github.host}/{github.owner}/{github.repository}"


def provider_spec(github: GitHubConfig, environment: str) -> dict[str, Any]:
    return {
        "type": "github",
        "address": repository_https_url(github),
        "secretRef": {"name": COMMIT_STATUS_NAME},
        # Flux's default context ends in part of the Provider's UID: the same shape on every
        # cluster, and a new one whenever the Provider is recreated.
        "commitStatusExpr": commit_status_expression(environment),
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


def credential_data(
    config: NotificationsConfig, github: GitHubConfig, credential: T
) -> dict[str, T | str]:
    """The Provider Secret's data: the token, or the App's ids and private key (`credential`),
    plus the App's API endpoint on an Enterprise Server (it defaults to api.github.com)."""
    if config.github_app is None:
        return {TOKEN_KEY: credential}
    data: dict[str, T | str] = {
        APP_ID_KEY: str(config.github_app.app_id),
        APP_INSTALLATION_ID_KEY: str(config.github_app.installation_id),
        APP_PRIVATE_KEY_KEY: credential,
    }
    if github.api_url is not None:
        data[APP_BASE_URL_KEY] = github.api_url.rstrip("/")
    return data
