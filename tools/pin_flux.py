"""Pin the Flux install manifest a stack applies: write its SHA-256 into the stack file.

    python -m tools.pin_flux --stack prod [--flux-manifests FILE] [--project-dir DIR]

Downloads the release's install.yaml for the stack's `toolkit.version` once (not from the cache an
earlier unpinned run may have filled), or reads FILE where GitHub is not reachable, and sets
`toolkit.manifestsSha256` in Pulumi.<stack>.yaml. Every other byte of the file stays as it was.
From then on every run applies only a manifest with that digest.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import yaml

from eks_gitops.flux.release import (
    ManifestUnavailable,
    download_release_manifest,
    manifest_sha256,
    release_url,
)
from eks_gitops.settings.model import MANIFESTS_SHA256_KEY
from tools.paths import REPO_ROOT, stack_filename
from tools.promotion.pins import FLUX_DIGEST, TOOLKIT, PinError, with_values

TOOLKIT_KEY: Final = TOOLKIT[-1]


def pinned_stack_text(text: str, digest: str) -> str:
    """`text` with `toolkit.manifestsSha256` set to `digest`: an existing value is replaced in its
    line, otherwise one line is added at the end of the toolkit section. Nothing else changes."""
    return with_values(text, {FLUX_DIGEST: digest})


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
    stack_file = args.project_dir / stack_filename(args.stack)
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
    print(f"{stack_file.name}: {MANIFESTS_SHA256_KEY} = {digest} (Flux {version}, {origin})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
