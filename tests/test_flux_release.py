"""Behaviour of flux/release.py: file, cache, download, checksums, offline errors."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eks_gitops.flux.release import (
    DEFAULT_BASE_URL,
    FLUX_OPERATOR,
    ManifestChecksumError,
    ManifestUnavailable,
    default_cache_dir,
    download_release_manifest,
    load_install_manifest,
    release_url,
)

VERSION = "v2.9.4"
FIXTURE = Path(__file__).parent / "fixtures" / "flux" / f"install-{VERSION}.yaml"
FIXTURE_BYTES = FIXTURE.read_bytes()
FIXTURE_SHA256 = hashlib.sha256(FIXTURE_BYTES).hexdigest()
OTHER_BYTES = (FIXTURE.parent / "install-v2.8.5.yaml").read_bytes()


@dataclass
class ReleaseServer:
    """A local stand-in for GitHub's release downloads, serving ``files`` by URL path."""

    files: dict[str, bytes]
    requests: list[str] = field(default_factory=list)
    base_url: str = ""


@pytest.fixture
def release_server() -> Iterator[ReleaseServer]:
    server_state = ReleaseServer(files={f"/{VERSION}/install.yaml": FIXTURE_BYTES})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.requests.append(self.path)
            body = server_state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server_state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def cache_file(cache_dir: Path, version: str = VERSION) -> Path:
    return cache_dir / version / "install.yaml"


def test_release_url_points_at_the_github_release_asset() -> None:
    assert release_url("v2.9.4") == (
        "https://github.com/fluxcd/flux2/releases/download/v2.9.4/install.yaml"
    )
    assert DEFAULT_BASE_URL in release_url("v2.9.4")
    assert release_url("v2.9.4", "http://mirror.example/flux/") == (
        "http://mirror.example/flux/v2.9.4/install.yaml"
    )


@pytest.mark.parametrize("version", ["2.9.4", "latest", "v2.9", "../v2.9.4", "v2.9.4/../x"])
def test_versions_that_are_not_release_tags_are_rejected(version: str) -> None:
    with pytest.raises(ValueError, match="not a Flux release version"):
        release_url(version)


def test_given_file_wins_over_cache_and_network(tmp_path: Path) -> None:
    given = tmp_path / "my-install.yaml"
    given.write_bytes(FIXTURE_BYTES)
    cache_dir = tmp_path / "cache"
    cache_file(cache_dir).parent.mkdir(parents=True)
    cache_file(cache_dir).write_bytes(OTHER_BYTES)
    manifest = load_install_manifest(
        VERSION,
        file=given,
        expected_sha256=None,
        cache_dir=cache_dir,
        allow_network=True,
        base_url="http://127.0.0.1:9/unreachable",
    )
    assert manifest.text == FIXTURE_BYTES.decode()
    assert manifest.sha256 == FIXTURE_SHA256
    assert manifest.origin == str(given)


def test_cache_is_used_when_network_is_disabled(tmp_path: Path) -> None:
    cached = cache_file(tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(FIXTURE_BYTES)
    manifest = load_install_manifest(
        VERSION,
        file=None,
        expected_sha256=FIXTURE_SHA256.upper(),
        cache_dir=tmp_path,
        allow_network=False,
    )
    assert manifest.text == FIXTURE_BYTES.decode()
    assert manifest.origin == str(cached)


def test_download_is_verified_then_cached_for_offline_use(
    tmp_path: Path, release_server: ReleaseServer
) -> None:
    downloaded = load_install_manifest(
        VERSION,
        file=None,
        expected_sha256=FIXTURE_SHA256,
        cache_dir=tmp_path,
        allow_network=True,
        base_url=release_server.base_url,
    )
    assert downloaded.text == FIXTURE_BYTES.decode()
    assert downloaded.sha256 == FIXTURE_SHA256
    assert downloaded.origin == f"{release_server.base_url}/{VERSION}/install.yaml"
    assert cache_file(tmp_path).read_bytes() == FIXTURE_BYTES
    # The atomic write leaves no temporary file behind.
    assert [p.name for p in cache_file(tmp_path).parent.iterdir()] == ["install.yaml"]

    offline = load_install_manifest(
        VERSION, file=None, expected_sha256=None, cache_dir=tmp_path, allow_network=False
    )
    assert offline.text == downloaded.text
    assert offline.origin == str(cache_file(tmp_path))
    assert release_server.requests == [f"/{VERSION}/install.yaml"]


def test_download_with_wrong_checksum_fails_and_is_not_cached(
    tmp_path: Path, release_server: ReleaseServer
) -> None:
    wrong = hashlib.sha256(OTHER_BYTES).hexdigest()
    with pytest.raises(ManifestChecksumError) as error:
        load_install_manifest(
            VERSION,
            file=None,
            expected_sha256=wrong,
            cache_dir=tmp_path,
            allow_network=True,
            base_url=release_server.base_url,
        )
    message = str(error.value)
    assert wrong in message
    assert FIXTURE_SHA256 in message
    assert release_server.base_url in message
    assert not cache_file(tmp_path).exists()


def test_given_file_with_wrong_checksum_names_expected_actual_and_origin(tmp_path: Path) -> None:
    given = tmp_path / "install.yaml"
    given.write_bytes(OTHER_BYTES)
    with pytest.raises(ManifestChecksumError) as error:
        load_install_manifest(
            VERSION,
            file=given,
            expected_sha256=FIXTURE_SHA256,
            cache_dir=tmp_path / "cache",
            allow_network=False,
        )
    message = str(error.value)
    assert FIXTURE_SHA256 in message
    assert hashlib.sha256(OTHER_BYTES).hexdigest() in message
    assert str(given) in message


def test_malformed_expected_checksum_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a SHA-256 digest"):
        load_install_manifest(
            VERSION,
            file=FIXTURE,
            expected_sha256="abc123",
            cache_dir=tmp_path,
            allow_network=False,
        )


def assert_names_what_and_where(message: str, version: str, url: str) -> None:
    assert version in message
    assert url in message


def test_nothing_available_offline_names_the_release(tmp_path: Path) -> None:
    with pytest.raises(ManifestUnavailable) as error:
        load_install_manifest(
            VERSION, file=None, expected_sha256=None, cache_dir=tmp_path, allow_network=False
        )
    assert_names_what_and_where(str(error.value), VERSION, release_url(VERSION))


def test_failed_download_names_the_release(tmp_path: Path, release_server: ReleaseServer) -> None:
    version = "v2.0.0"
    with pytest.raises(ManifestUnavailable) as error:
        load_install_manifest(
            version,
            file=None,
            expected_sha256=None,
            cache_dir=tmp_path,
            allow_network=True,
            base_url=release_server.base_url,
        )
    message = str(error.value)
    assert "404" in message
    assert_names_what_and_where(
        message, version, f"{release_server.base_url}/{version}/install.yaml"
    )
    assert not cache_file(tmp_path, version).exists()


def test_default_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "eks-gitops" / "flux"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "eks-gitops" / "flux"
    # The XDG spec says a relative value is invalid and must be ignored.
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "eks-gitops" / "flux"


def test_each_release_is_downloaded_from_its_own_project(monkeypatch: pytest.MonkeyPatch) -> None:
    # The operator's install.yaml is an asset of controlplaneio-fluxcd/flux-operator's release, not
    # of fluxcd/flux2's: its release workflow attaches it (.goreleaser.yml extra_files).
    fetched: list[str] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b"kind: Namespace\n"

    def urlopen(url: str, timeout: float) -> Response:
        fetched.append(url)
        return Response()

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    download_release_manifest("v0.61.0", release=FLUX_OPERATOR)
    download_release_manifest("v2.9.4")
    assert fetched == [
        "https://github.com/controlplaneio-fluxcd/flux-operator/releases/download/v0.61.0/install.yaml",
        "https://github.com/fluxcd/flux2/releases/download/v2.9.4/install.yaml",
    ]
    assert release_url("v0.61.0", release=FLUX_OPERATOR) == fetched[0]
