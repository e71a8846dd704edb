"""Key material for the offline engine: real keys and certificates from `cryptography`, derived from
resource names so that two plans of one stack are byte-identical."""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import math
import random

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID


def digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def hex_digest(*parts: str, length: int = 17) -> str:
    return digest(*parts).hex()[:length]


# Sieving bound for RSA prime candidates: one gcd with the product of the odd primes below it
# rejects about nine candidates in ten before any modular exponentiation is spent on them.
_SIEVE_BOUND = 1 << 16
# Miller-Rabin rounds on a random odd candidate of 512 bits or more: by the Damgard-Landrock-
# Pomerance bound, 8 rounds leave a composite less than a 2^-100 chance, and a composite would
# only make `cryptography` reject the key loudly.
_MILLER_RABIN_ROUNDS = 8


@functools.cache
def _small_primes_product() -> int:
    """Computed on the first RSA key only: plans without one do not pay for it."""
    sieve = bytearray([1]) * _SIEVE_BOUND
    sieve[:2] = b"\x00\x00"
    for i in range(2, math.isqrt(_SIEVE_BOUND) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, _SIEVE_BOUND, i)))
    return math.prod(i for i in range(3, _SIEVE_BOUND, 2) if sieve[i])


def _deterministic_prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if math.gcd(candidate, _small_primes_product()) == 1 and _probably_prime(candidate, rng):
            return candidate


def _probably_prime(n: int, rng: random.Random) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(_MILLER_RABIN_ROUNDS):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _rsa_key(seed: bytes, bits: int) -> rsa.RSAPrivateKey:
    rng = random.Random(seed)
    e = 65537
    while True:
        p, q = _deterministic_prime(rng, bits // 2), _deterministic_prime(rng, bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            break
    d = pow(e, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=d % (p - 1),
        dmq1=d % (q - 1),
        iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


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
        order = {"P256": 2**256, "P384": 2**384, "P521": 2**521}[ecdsa_curve]
        secret = int.from_bytes(hashlib.sha512(seed).digest() * 2, "big") % (order - 2) + 1
        key = ec.derive_private_key(secret, curve)
    elif algorithm == "RSA":
        key = _rsa_key(seed, rsa_bits)
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
