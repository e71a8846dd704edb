"""Pin the Flux install manifest a stack applies: write its SHA-256 into the stack file.

    python -m tools.pin_flux --stack prod [--flux-manifests FILE] [--project-dir DIR]

Downloads the release's install.yaml for the stack's `toolkit.version` once (not from the cache an
earlier unpinned run may have filled), or reads FILE where GitHub is not reachable, and sets
`toolkit.manifestsSha256` in Pulumi.<stack>.yaml. Every other byte of the file stays as it was.
From then on every run applies only a manifest with that digest.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from flux.release import (
    MANIFESTS_SHA256_CONFIG_KEY,
    ManifestUnavailable,
    download_release_manifest,
    manifest_sha256,
    release_url,
)
from settings.model import PROJECT
from tools.paths import REPO_ROOT

TOOLKIT_KEY: Final = f"{PROJECT}:toolkit"
PIN_FIELD: Final = "manifestsSha256"


class PinError(Exception):
    """The stack file cannot be pinned as it is written; the message says why."""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def pinned_stack_text(text: str, digest: str) -> str:
    """`text` with `toolkit.manifestsSha256` set to `digest`: an existing value is replaced in its
    line, otherwise one line is added at the end of the toolkit section. Nothing else changes."""
    lines = text.splitlines(keepends=True)
    header = re.compile(rf"^( *){re.escape(TOOLKIT_KEY)}: *(#.*)?$")
    starts = [i for i, line in enumerate(lines) if header.match(line.rstrip("\r\n"))]
    if len(starts) != 1:
        raise PinError(f"expected one block mapping `{TOOLKIT_KEY}:` in the stack file")
    start = starts[0]
    outer = _indent(lines[start])
    key_indent: int | None = None
    last = start
    for number in range(start + 1, len(lines)):
        stripped = lines[number].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if _indent(lines[number]) <= outer:
            break
        if key_indent is None:
            key_indent = _indent(lines[number])
        last = number
    if key_indent is None:
        raise PinError(f"`{TOOLKIT_KEY}:` has no block mapping under it")
    value = f'"{digest}"'
    existing = re.compile(
        rf"^( {{{key_indent}}}{PIN_FIELD}: *)(\"[^\"]*\"|'[^']*'|[^\s#]*)(.*)$", re.S
    )
    for number in range(start + 1, last + 1):
        match = existing.match(lines[number])
        if match:
            lines[number] = f"{match.group(1)}{value}{match.group(3)}"
            break
    else:
        ending = re.search(r"\r?\n$", lines[last])
        newline = ending.group(0) if ending else "\n"
        if not ending:
            lines[last] += newline
        lines.insert(last + 1, f"{' ' * key_indent}{PIN_FIELD}: {value}{newline}")
    pinned = "".join(lines)
    _check_only_the_pin_changed(text, pinned, digest)
    return pinned


def _check_only_the_pin_changed(before: str, after: str, digest: str) -> None:
    expected: Any = copy.deepcopy(yaml.safe_load(before))
    expected["config"][TOOLKIT_KEY][PIN_FIELD] = digest
    if yaml.safe_load(after) != expected:
        raise PinError(
            f"could not set {PIN_FIELD} without changing anything else; set "
            f"{MANIFESTS_SHA256_CONFIG_KEY} by hand"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pin_flux", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stack", required=True)
    parser.add_argument(
        "--flux-manifests",
        type=Path,
        help="the release's install.yaml, fetched elsewhere (instead of downloading it)",
    )
    parser.add_argument("--project-dir", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stack_file = args.project_dir / f"Pulumi.{args.stack}.yaml"
    try:
        # Bytes, not text mode: the file keeps its own line endings.
        text = stack_file.read_bytes().decode("utf-8")
        toolkit = (yaml.safe_load(text) or {}).get("config", {}).get(TOOLKIT_KEY)
        version = toolkit.get("version") if isinstance(toolkit, dict) else None
        if not isinstance(version, str):
            raise PinError(f"{TOOLKIT_KEY} has no version to pin")
        origin = str(args.flux_manifests) if args.flux_manifests else release_url(version)
        content = (
            args.flux_manifests.read_bytes()
            if args.flux_manifests
            else download_release_manifest(version)
        )
        digest = manifest_sha256(content)
        pinned = pinned_stack_text(text, digest)
    except (OSError, yaml.YAMLError, ValueError, ManifestUnavailable, PinError) as error:
        print(f"error: {stack_file.name}: {error}", file=sys.stderr)
        return 2
    if pinned == text:
        print(f"{stack_file.name}: Flux {version} already pinned to {digest}")
        return 0
    stack_file.write_bytes(pinned.encode("utf-8"))
    print(f"{stack_file.name}: {MANIFESTS_SHA256_CONFIG_KEY} = {digest} (Flux {version}, {origin})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
