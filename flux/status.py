"""The name (GitHub's `context`) of the commit statuses each cluster's notification-controller posts.

Flux's default context is `<kind>/<name>/<first segment of the Provider's UID>`: the same for every
environment, and changed by recreating the Provider. Since Flux v2.6 a Provider's `commitStatusExpr`
(a CEL expression over the event) names it instead; this program names it after the environment,
so a commit on GitHub shows which environments applied it, and `make promote` can ask GitHub
whether the environment before the target did. Both sides read the name from here."""

from __future__ import annotations

from typing import Final

_PREFIX: Final = "eks-gitops"


def commit_status_context(environment: str, kind: str, name: str) -> str:
    """The context the cluster of `environment` gives a status about the object `kind`/`name`."""
    return f"{_PREFIX}/{environment}/{kind}/{name}"


def commit_status_expression(environment: str) -> str:
    """The Provider's `commitStatusExpr`: commit_status_context in CEL, over the event's object."""
    return (
        f"'{_PREFIX}/{environment}/' + event.involvedObject.kind + '/' + event.involvedObject.name"
    )
