"""Pin the Flux install manifest a stack applies: write its SHA-256 into the stack file.

    python -m tools.pin_flux --stack prod [--flux-manifests FILE] [--project-dir DIR]

Downloads the release's install.yaml for the stack's `toolkit.version` once (not from the cache an
earlier unpinned run may have filled), checks it against the release's checksums file, whose
signature it verifies with sigstore as the release workflow's (keyless: the certificate names the
workflow and GitHub's OIDC issuer), and only then sets `toolkit.manifestsSha256` in
Pulumi.<stack>.yaml. Every other byte of the file stays as it was. From then on every run applies
only a manifest with that digest.

With FILE (fetched elsewhere, where GitHub is not reachable) nothing can be verified against the
release: the digest is of that file, and the command says so.

A stack on the operator installer (`toolkit.installer: operator`) also gets
`toolkit.operator.manifestsSha256`: the digest of the Flux Operator's install.yaml for
`toolkit.operator.version`, downloaded once (or OPERATOR_FILE). No signature is checked for it: it is
pinned as downloaded, trusted on that first use, and the command says so.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import yaml

from eks_gitops.flux.release import (
    FLUX_OPERATOR,
    RELEASE_SIGNER_ISSUER,
    ManifestUnavailable,
    checksums_filename,
    download_release_asset,
    download_release_manifest,
    listed_sha256,
    manifest_sha256,
    release_signer_identity,
    release_url,
)
from eks_gitops.settings.model import (
    MANIFESTS_SHA256_KEY,
    OPERATOR_INSTALLER,
    OPERATOR_MANIFESTS_SHA256_KEY,
)
from tools.paths import REPO_ROOT, stack_filename
from tools.promotion.pins import FLUX_DIGEST, TOOLKIT, KeyPath, PinError, with_values

TOOLKIT_KEY: Final = TOOLKIT[-1]
OPERATOR_DIGEST: Final = (*TOOLKIT, "operator", "manifestsSha256")
# sigstore fetches its trust root and looks the signature up in the transparency log.
VERIFY_TIMEOUT_SECONDS: Final = 120


def pinned_stack_text(text: str, digest: str) -> str:
    """`text` with `toolkit.manifestsSha256` set to `digest`: an existing value is replaced in its
    line, otherwise one line is added at the end of the toolkit section. Nothing else changes."""
    return with_values(text, {FLUX_DIGEST: digest})


def verify_signature(checksums: bytes, signature: bytes, certificate: bytes, identity: str) -> None:
    """Verify the checksums file's keyless signature with sigstore's own verifier (its CLI, the
    library's interface for a detached signature and certificate): the certificate must chain to
    Sigstore's root, name `identity` and GitHub's OIDC issuer, and be in the transparency log.
    Needs the network (the log and Sigstore's trust root)."""
    with tempfile.TemporaryDirectory() as folder:
        paths = [
            Path(folder) / name for name in ("checksums.txt", "checksums.sig", "checksums.pem")
        ]
        for path, content in zip(paths, (checksums, signature, certificate), strict=True):
            path.write_bytes(content)
        completed = subprocess.run(
            [
                *(sys.executable, "-m", "sigstore", "verify", "identity"),
                *("--certificate", str(paths[2]), "--signature", str(paths[1])),
                *("--cert-identity", identity, "--cert-oidc-issuer", RELEASE_SIGNER_ISSUER),
                str(paths[0]),
            ],
            capture_output=True,
            text=True,
            timeout=VERIFY_TIMEOUT_SECONDS,
            check=False,
            # Wide enough that sigstore's console prints each message on one line.
            env={**os.environ, "COLUMNS": "1000"},
        )
    if completed.returncode != 0:
        raise PinError(
            f"the release's checksums signature does not verify as {identity}: "
            f"{_sigstore_error(completed.stderr)}"
        )


def _sigstore_error(stderr: str) -> str:
    """The message of sigstore's first ERROR line (its console's level column dropped)."""
    for line in stderr.splitlines():
        if " ERROR " in f" {line} ":
            text = line.split("ERROR", 1)[1].strip()
            return re.sub(r"\s{2,}\S+\.py:\d+$", "", text).strip()
    return (stderr.strip().splitlines() or ["sigstore failed"])[-1].strip()


def pem(certificate: bytes) -> bytes:
    """The release's `.pem` holds the PEM base64-encoded once more; sigstore reads plain PEM."""
    return (
        certificate
        if certificate.lstrip().startswith(b"-----BEGIN")
        else base64.b64decode(certificate)
    )


def verified_release_digest(version: str) -> tuple[bytes, str]:
    """The release's install.yaml and its SHA-256, once the release's signed checksums vouch for it."""
    content = download_release_manifest(version)
    name = checksums_filename(version)
    checksums = download_release_asset(version, name)
    verify_signature(
        checksums,
        download_release_asset(version, f"{name}.sig"),
        pem(download_release_asset(version, f"{name}.pem")),
        release_signer_identity(version),
    )
    digest = manifest_sha256(content)
    listed = listed_sha256(checksums.decode("utf-8"))
    if listed is None:
        raise PinError(f"{name} lists no install.yaml")
    if listed != digest:
        raise PinError(
            f"the downloaded install.yaml has SHA-256 {digest}, but {name} lists {listed}"
        )
    return content, digest


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
    parser.add_argument(
        "--operator-manifests",
        type=Path,
        help="the Flux Operator release's install.yaml, fetched elsewhere (operator installer)",
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
        if args.flux_manifests:
            origin = f"{args.flux_manifests}, NOT verified against the release's signed checksums"
            digest = manifest_sha256(args.flux_manifests.read_bytes())
        else:
            origin = f"{release_url(version)}, verified against the release's signed checksums"
            _, digest = verified_release_digest(version)
        pins: dict[KeyPath, str] = {FLUX_DIGEST: digest}
        reports = [f"{MANIFESTS_SHA256_KEY} = {digest} (Flux {version}, {origin})"]
        operator = (
            toolkit.get("operator") if toolkit.get("installer") == OPERATOR_INSTALLER else None
        )
        if isinstance(operator, dict):
            operator_version = operator.get("version")
            if not isinstance(operator_version, str):
                raise PinError(f"{TOOLKIT_KEY}.operator has no version to pin")
            operator_digest = manifest_sha256(
                args.operator_manifests.read_bytes()
                if args.operator_manifests
                else download_release_manifest(operator_version, release=FLUX_OPERATOR)
            )
            pins[OPERATOR_DIGEST] = operator_digest
            reports.append(
                f"{OPERATOR_MANIFESTS_SHA256_KEY} = {operator_digest} (Flux Operator "
                f"{operator_version}, as downloaded: no signature checked)"
            )
        pinned = with_values(text, pins)
    except (
        OSError,
        yaml.YAMLError,
        ValueError,
        ManifestUnavailable,
        PinError,
        subprocess.TimeoutExpired,
    ) as error:
        print(f"error: {stack_file.name}: {error}", file=sys.stderr)
        return 2
    if pinned == text:
        print(f"{stack_file.name}: already pinned to these digests")
        return 0
    stack_file.write_bytes(pinned.encode("utf-8"))
    for report in reports:
        print(f"{stack_file.name}: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
