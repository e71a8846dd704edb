"""Explicit providers whose generated SDK class would otherwise copy a credential from the
environment into the provider's inputs, where the stack state keeps it."""

from __future__ import annotations

from typing import Final

import pulumi
import pulumi_github as github

# The input pulumi_github's Provider fills from GITHUB_TOKEN when it is not given.
_GITHUB_TOKEN_INPUT: Final = "token"


def _without_ambient_token(
    args: pulumi.ResourceTransformationArgs,
) -> pulumi.ResourceTransformationResult:
    props = {key: value for key, value in args.props.items() if key != _GITHUB_TOKEN_INPUT}
    return pulumi.ResourceTransformationResult(props, args.opts)


def github_provider(name: str, *, owner: str, base_url: str | None) -> github.Provider:
    """A GitHub provider that authenticates with the GITHUB_TOKEN of each run.

    Given no token, the SDK class reads GITHUB_TOKEN itself and sends it as an input; the engine would
    store it with the provider and configure `refresh` and `destroy` from that copy long after the
    token was rotated. With no token input, the provider plugin reads GITHUB_TOKEN from its own
    environment when it is configured, on every run. A transformation runs in this process before
    the inputs are sent, so the token never leaves it."""
    return github.Provider(
        name,
        owner=owner,
        base_url=base_url,
        opts=pulumi.ResourceOptions(transformations=[_without_ambient_token]),
    )
