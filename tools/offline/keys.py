"""Key material for the offline engine: real keys and certificates from `cryptography`, ECDSA and
Ed25519 keys derived from resource names, so that two plans of one stack are byte-identical, and
one fixed RSA placeholder key."""

from __future__ import annotations

import base64
import datetime
import hashlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID


def digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def hex_digest(*parts: str, length: int = 17) -> str:
    return digest(*parts).hex()[:length]


# Generating an RSA key is slow and not reproducible; every RSA tls.PrivateKey gets this one,
# generated once for the offline engine and labelled as a placeholder in the file itself.
_RSA_PLACEHOLDER = Path(__file__).with_name("placeholders") / "rsa-4096.pem"


def _rsa_key(bits: int) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(_RSA_PLACEHOLDER.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    if key.key_size != bits:
        raise ValueError(
            f"the offline engine has an RSA placeholder of {key.key_size} bits, not {bits}"
        )
    return key


def tls_private_key_outputs(
    seed_text: str, algorithm: str, ecdsa_curve: str, rsa_bits: int
) -> dict[str, str]:
    """The outputs of tls.PrivateKey, from a real key derived from `seed_text` (the mock engine
    passes `STACK/RESOURCE-NAME`, so every stack and every key generation has its own key)."""
    seed = digest("tls", seed_text)
    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if algorithm == "ED25519":
        key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    elif algorithm == "ECDSA":
        curve = {"P256": ec.SECP256R1(), "P384": ec.SECP384R1(), "P521": ec.SECP521R1()}[
            ecdsa_curve
        ]
        # Any number below the curve's order is a private key; this one follows the seed.
        key = ec.derive_private_key(int.from_bytes(seed, "big"), curve)
    elif algorithm == "RSA":
        key = _rsa_key(rsa_bits)
    else:
        raise ValueError(f"tls.PrivateKey algorithm {algorithm!r} is not one the provider supports")
    public = key.public_key()
    openssh_public = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    traditional = (
        serialization.PrivateFormat.PKCS8
        if algorithm == "ED25519"
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    ssh_blob = base64.b64decode(openssh_public.split()[1])
    return {
        "id": hashlib.sha1(der).hexdigest(),
        "privateKeyPem": key.private_bytes(
            serialization.Encoding.PEM, traditional, serialization.NoEncryption()
        ).decode(),
        "privateKeyPemPkcs8": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "privateKeyOpenssh": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ).decode(),
        "publicKeyOpenssh": openssh_public + "\n",
        "publicKeyPem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        "publicKeyFingerprintSha256": "SHA256:"
        + base64.b64encode(hashlib.sha256(ssh_blob).digest()).decode().rstrip("="),
        "publicKeyFingerprintMd5": ":".join(f"{b:02x}" for b in hashlib.md5(ssh_blob).digest()),
    }


def cluster_ca_certificate(seed_text: str) -> str:
    """A real self-signed CA certificate, base64 PEM as EKS returns it. Ed25519 signatures are
    deterministic, so the certificate is the same on every run."""
    key = ed25519.Ed25519PrivateKey.from_private_bytes(digest("ca", seed_text))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    not_before = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(digest("serial", seed_text)[:16], "big"))
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None)
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()
