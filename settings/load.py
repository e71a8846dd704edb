"""The only place in the project that touches `pulumi.Config`: read the running stack's settings and
secrets once, and hand back validated, typed objects."""

from __future__ import annotations

import json
import os

import pulumi

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
    from pulumi.runtime import config as runtime_config

    merged: dict[str, object] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    # Older engines spell keys `project:config:name`; the program only knows `project:name`.
    return {key.replace(":config:", ":", 1): value for key, value in merged.items()}


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
    project_config = pulumi.Config(PROJECT)
    secrets = {}
    for key in SECRET_KEYS:
        value = project_config.get_secret(key)
        if value is None:
            raise ConfigError(
                f"{PROJECT}:{key}", MISSING, f"a secret: pulumi config set --secret {key} VALUE"
            )
        secrets[key] = value
    return LoadedConfig(
        settings,
        SecretSettings(secrets["sumologicAccessId"], secrets["sumologicAccessKey"]),
        RuntimeOptions(
            offline=os.environ.get(OFFLINE_ENV) == "1", flux_cache_dir=default_cache_dir()
        ),
    )
