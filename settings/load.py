"""The only place in the project that touches `pulumi.Config`: read the running stack's settings and
secrets once, and hand back validated, typed objects."""

from __future__ import annotations

import json
import os

import pulumi
from pulumi.runtime import config as runtime_config

from flux.release import default_cache_dir
from settings.model import (
    MISSING,
    OFFLINE_ENV,
    PROJECT,
    SECRET_KEYS,
    ConfigError,
    LoadedConfig,
    RuntimeOptions,
    SecretSettings,
)
from settings.parse import parse_stack_config


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


def _read_secrets(needed: tuple[str, ...]) -> dict[str, pulumi.Output[str]]:
    """The secret settings in `needed`, each required and set with --secret; any other secret
    setting present is refused, so a credential the stack no longer uses does not linger in it."""
    project_config = pulumi.Config(PROJECT)
    secrets: dict[str, pulumi.Output[str]] = {}
    for key in SECRET_KEYS:
        full_key = f"{PROJECT}:{key}"
        value = project_config.get_secret(key)
        if value is None:
            if key in needed:
                raise ConfigError(
                    full_key, MISSING, f"a secret: pulumi config set --secret {key} VALUE"
                )
            continue
        # get_secret wraps whatever it finds; only the engine's list of secret keys (handed over in
        # PULUMI_CONFIG_SECRET_KEYS, which the language host also loads into the runtime) tells
        # ciphertext (`secure:`) from a credential written in clear.
        if not (
            runtime_config.is_config_secret(full_key)
            or full_key in runtime_config.get_config_secret_keys_env()
        ):
            raise ConfigError(
                full_key,
                "[redacted]",
                f"no credential in clear in a stack file: pulumi config set --secret {key} VALUE",
            )
        if key not in needed:
            raise ConfigError(
                full_key,
                "[redacted]",
                f"unset (pulumi config rm {key}): this stack's settings do not use it",
            )
        secrets[key] = value
    return secrets


def load() -> LoadedConfig:
    """Read and validate the current stack's settings; raises ConfigError before anything is declared."""
    everything = _all_config()
    secret_keys = set(SECRET_KEYS)
    raw = {
        key: _decode(value)
        for key, value in everything.items()
        if key.split(":", 1)[-1] not in secret_keys
    }
    settings = parse_stack_config(raw, pulumi.get_stack())
    secrets = _read_secrets(settings.secret_keys)
    return LoadedConfig(
        settings,
        SecretSettings(
            secrets["sumologicAccessId"],
            secrets["sumologicAccessKey"],
            next((secrets[key] for key in settings.notifications.secret_keys), None),
        ),
        RuntimeOptions(
            offline=os.environ.get(OFFLINE_ENV) == "1", flux_cache_dir=default_cache_dir()
        ),
    )
