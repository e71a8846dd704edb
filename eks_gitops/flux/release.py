"""Obtain a release's install manifest (Flux's, or the Flux Operator's): a given file, the local
cache, or a download."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_BASE_URL: Final = "https://github.com/fluxcd/flux2/releases/download"
DEFAULT_TIMEOUT_SECONDS: Final = 30.0
_MANIFEST_FILE_NAME: Final = "install.yaml"


@dataclass(frozen=True)
class Release:
    """A project whose GitHub releases carry an `install.yaml` asset."""

    label: str
    """How messages name its manifest ("the Flux install manifest")."""
    base_url: str
    cache_name: str
    """The directory under the eks-gitops cache that holds its manifests, one per version."""


FLUX: Final = Release("Flux", DEFAULT_BASE_URL, "flux")
# The operator's release workflow attaches `kustomize build config/default` as install.yaml
# (controlplaneio-fluxcd/flux-operator .github/workflows/release.yaml, .goreleaser.yml extra_files).
FLUX_OPERATOR: Final = Release(
    "Flux Operator",
    "https://github.com/controlplaneio-fluxcd/flux-operator/releases/download",
    "flux-operator",
)
# The version becomes a cache directory name and part of a URL, so keep it to release tags.
_RELEASE_VERSION = re.compile(r"^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class InstallManifest:
    text: str
    sha256: str
    # Where the text came from (file path, cache path or URL), for error messages and logs.
    origin: str


# Named for what the caller learns (no manifest), not for an error in it.
class ManifestUnavailable(RuntimeError):  # noqa: N818
    """Neither a file, the cache nor the network could provide the manifest."""


class ManifestChecksumError(RuntimeError):
    """The manifest's SHA-256 is not the one the configuration pins."""


def release_url(
    version: str,
    base_url: str | None = None,
    release: Release = FLUX,
    name: str = _MANIFEST_FILE_NAME,
) -> str:
    """Where a file of the release is published: the release's own host unless `base_url` says."""
    _require_release_version(version, release)
    return f"{(base_url or release.base_url).rstrip('/')}/{version}/{name}"


def default_cache_dir(release: Release = FLUX) -> Path:
    # XDG says relative values must be ignored.
    xdg_cache_home = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg_cache_home) if os.path.isabs(xdg_cache_home) else Path.home() / ".cache"
    return base / "eks-gitops" / release.cache_name


def load_install_manifest(
    version: str,
    *,
    file: Path | None,
    expected_sha256: str | None,
    cache_dir: Path,
    allow_network: bool,
    base_url: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    release: Release = FLUX,
) -> InstallManifest:
    """The install manifest for ``version``: from ``file`` if given, else cache, else network.

    A download is verified before it is cached, so the cache only ever holds content that
    matched the pinned checksum (when one was pinned).
    """
    url = release_url(version, base_url, release)
    expected = _normalised_sha256(expected_sha256)
    if file is not None:
        return _verified(file.read_bytes(), str(file), expected, release)
    cached = cache_dir / version / _MANIFEST_FILE_NAME
    if cached.is_file():
        return _verified(cached.read_bytes(), str(cached), expected, release)
    if not allow_network:
        raise ManifestUnavailable(
            _unavailable_message(
                version, url, "it is not cached and network access is disabled", release
            )
        )
    content = download_release_manifest(version, base_url, timeout_seconds, release)
    manifest = _verified(content, url, expected, release)
    _write_atomically(cached, content)
    return manifest


def download_release_manifest(
    version: str,
    base_url: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    release: Release = FLUX,
) -> bytes:
    """The release's install manifest as the server sends it, bypassing the cache."""
    return download_release_asset(version, _MANIFEST_FILE_NAME, base_url, timeout_seconds, release)


# Flux's release workflow signs the release's checksums file keylessly with cosign (fluxcd/flux2
# PR #2301: "sign the checksum.txt with Cosign and GitHub OIDC"), next to it as `.sig` and `.pem`;
# the checksums list install.yaml. The certificate names the workflow run that signed it.
RELEASE_SIGNER_ISSUER: Final = "https://token.actions.githubusercontent.com"


def checksums_filename(version: str) -> str:
    """GoReleaser's name for the release's checksums file: `flux_<version without v>_checksums.txt`."""
    _require_release_version(version)
    return f"flux_{version.removeprefix('v')}_checksums.txt"


def release_signer_identity(version: str) -> str:
    """The certificate identity of the workflow that signs the release `version`."""
    _require_release_version(version)
    return f"https://github.com/fluxcd/flux2/.github/workflows/release.yaml@refs/tags/{version}"


def listed_sha256(checksums: str, name: str = _MANIFEST_FILE_NAME) -> str | None:
    """The SHA-256 a checksums file (`<hex>  <name>` lines) lists for `name`."""
    for line in checksums.splitlines():
        digest, _, listed = line.strip().partition("  ")
        if listed.strip().removeprefix("./") == name and _SHA256_HEX.match(digest):
            return digest
    return None


def download_release_asset(
    version: str,
    name: str,
    base_url: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    release: Release = FLUX,
) -> bytes:
    """One file of the release, as the server sends it."""
    url = release_url(version, base_url, release, name)
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
            content: bytes = response.read()
    except (urllib.error.URLError, TimeoutError) as error:
        raise ManifestUnavailable(
            _unavailable_message(version, url, f"the download failed: {error}", release)
        ) from error
    return content


def manifest_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _verified(
    content: bytes, origin: str, expected_sha256: str | None, release: Release
) -> InstallManifest:
    actual = manifest_sha256(content)
    if expected_sha256 is not None and actual != expected_sha256:
        raise ManifestChecksumError(
            f"the {release.label} install manifest from {origin} has SHA-256 {actual}, "
            f"but {expected_sha256} was expected"
        )
    return InstallManifest(text=content.decode("utf-8"), sha256=actual, origin=origin)


def _normalised_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    normalised = value.strip().lower()
    if not _SHA256_HEX.match(normalised):
        raise ValueError(f"{value!r} is not a SHA-256 digest (64 hexadecimal characters)")
    return normalised


def _require_release_version(version: str, release: Release = FLUX) -> None:
    if not _RELEASE_VERSION.match(version):
        raise ValueError(f"{version!r} is not a {release.label} release version such as v2.9.4")


def _unavailable_message(version: str, url: str, reason: str, release: Release) -> str:
    return f"cannot obtain the {release.label} {version} install manifest from {url}: {reason}"


def _write_atomically(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(content)
    try:
        os.replace(tmp.name, path)
    except OSError:
        os.unlink(tmp.name)
        raise
