"""The only place in the project that touches `pulumi.Config`: read the running stack's settings and
secrets once, and hand back validated, typed objects."""

from __future__ import annotations

import json

import pulumi
from pulumi.runtime import config as runtime_config

from eks_gitops.settings.environments import (
    PROJECT_ROOT,
    check_cluster_names,
    project_cluster_names,
    read_environments,
)
from eks_gitops.settings.model import PROJECT, LoadedConfig
from eks_gitops.settings.parse import (
    check_credentials_in_clear,
    check_secrets,
    parse_stack_config,
    secret_setting_names,
    secret_settings,
)


def _decode(value: object) -> object:
    # Pulumi hands object values to the program as JSON text and scalars as plain strings.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _all_config() -> dict[str, object]:
    # pulumi.Config reads one known key at a time; to report a misspelt key we need the whole set,
    # which the SDK keeps in the engine-provided environment and in its runtime config map.
    merged: dict[str, object] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    # Older engines spell keys `project:config:name`; the program only knows `project:name`.
    return {key.replace(":config:", ":", 1): value for key, value in merged.items()}


def _held_as_secret(full_key: str) -> bool:
    # get_secret wraps whatever it finds; only the engine's list of secret keys (handed over in
    # PULUMI_CONFIG_SECRET_KEYS, which the language host also loads into the runtime) tells
    # ciphertext (`secure:`) from a credential written in clear.
    return (
        runtime_config.is_config_secret(full_key)
        or full_key in runtime_config.get_config_secret_keys_env()
    )


def load() -> LoadedConfig:
    """Read and validate the current stack's settings; raises ConfigError before anything is declared."""
    everything = _all_config()
    prefix = f"{PROJECT}:"
    encrypted = {key for key in everything if _held_as_secret(key)}
    # The project's encrypted settings never reach the parser: their values are credentials.
    held = {key for key in encrypted if key.startswith(prefix)}
    raw = {key: _decode(value) for key, value in everything.items() if key not in held}
    environments = read_environments()
    settings = parse_stack_config(raw, pulumi.get_stack(), environments)
    check_cluster_names(project_cluster_names(environments, PROJECT_ROOT))
    check_credentials_in_clear(everything.keys() - encrypted)
    named = {f"{prefix}{key}" for key in secret_setting_names(settings)}
    check_secrets(
        settings.secret_keys,
        {
            key.removeprefix(prefix): key in held
            for key in sorted(held | (named & everything.keys()))
        },
    )
    project_config = pulumi.Config(PROJECT)
    return LoadedConfig(settings, secret_settings(settings, project_config.require_secret))
