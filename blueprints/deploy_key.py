"""The deploy key's parameters, title and the known_hosts Flux checks GitHub against."""

from __future__ import annotations

from collections.abc import Sequence

# tls.PrivateKey arguments per configured algorithm. ECDSA P-384 is what `flux bootstrap` generates.
KEY_ALGORITHMS: dict[str, dict[str, str | int]] = {
    "ecdsa-p384": {"algorithm": "ECDSA", "ecdsa_curve": "P384"},
    "ecdsa-p256": {"algorithm": "ECDSA", "ecdsa_curve": "P256"},
    "ed25519": {"algorithm": "ED25519"},
    "rsa-4096": {"algorithm": "RSA", "rsa_bits": 4096},
}

# source-controller (Go's x/crypto/ssh) reads an `identity` in PKCS#8 PEM and in OpenSSH format alike;
# OpenSSH reads PKCS#8 for RSA and ECDSA but rejects it for Ed25519 ("invalid format"). Keys of these
# algorithms go in OpenSSH format so the Secret also works with `ssh -i`; the others stay PKCS#8, as
# bootstrap writes them.
OPENSSH_FORMAT_ALGORITHMS = frozenset({"ed25519"})


def known_hosts(host: str, keys: Sequence[str]) -> str:
    """One `HOST TYPE KEY` line per host key (never several keys on a line: Flux 2.6.1 misread those)."""
    lines = []
    for key in keys:
        parts = key.split()
        if len(parts) < 2:
            raise ValueError(f"host key {key!r} is not 'TYPE BASE64'")
        lines.append(f"{host} {parts[0]} {parts[1]}")
    if not lines:
        raise ValueError(f"no SSH host keys for {host}")
    return "\n".join(lines) + "\n"


def deploy_key_title(
    cluster_name: str, namespace: str, branch: str, path: str, generation: int
) -> str:
    """Says which cluster a key belongs to; shaped like bootstrap's `<ns>-<branch>-<secret>-<path>`."""
    return f"{cluster_name}: {namespace}-{branch}-{namespace}-./{path} (key {generation})"
