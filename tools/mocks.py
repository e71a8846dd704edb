"""Pulumi's mock engine, made honest enough to run the real program offline.

`RecordingMocks` answers resource registrations and invokes with outputs shaped like the real
providers' (ids, ARNs, endpoints, a CA certificate, real key material for TLS keys, GitHub's SSH keys);
`RecordingMonitor` records everything the program asked the engine for: type, name, parent, inputs
(with secrets marked), dependencies and options such as protect. Nothing here knows the program: it
runs whatever `__main__.py` declares.

Every generated value is derived from the stack, the resource's type and its name, so two runs give
identical output.
"""

from __future__ import annotations

import base64
import contextvars
import datetime
import functools
import hashlib
import json
import logging
import math
import os
import random
import runpy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

ACCOUNT_ID = "123456789012"
SECRET_MARK = "[secret]"
_SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"

# GitHub's published SSH host keys (https://api.github.com/meta, "ssh_keys"), what
# github.get_ssh_keys returns for github.com since the RSA key rotation of March 2023.
GITHUB_SSH_KEYS = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=",
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=",
)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def _hex(*parts: str, length: int = 17) -> str:
    return _digest(*parts).hex()[:length]


# ---------------------------------------------------------------------------------------------
# Key material: real keys from `cryptography`, derived from the resource name so plans are stable.


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
    seed = _digest("tls", seed_text)
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
    key = ed25519.Ed25519PrivateKey.from_private_bytes(_digest("ca", seed_text))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    not_before = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(_digest("serial", seed_text)[:16], "big"))
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None)
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()


# ---------------------------------------------------------------------------------------------
# Outputs per resource type.


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG_KEY) == _SECRET_SIG:
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


@dataclass(frozen=True)
class _Declared:
    """What a resource was declared with, as an output generator sees it."""

    region: str
    stack: str
    name: str
    inputs: dict[str, Any]
    token: str

    @property
    def seed(self) -> str:
        """What generated material derives from: distinct per stack, as real clouds' values are."""
        return f"{self.stack}/{self.name}"

    @property
    def physical_name(self) -> str:
        # An explicit name wins; otherwise Pulumi auto-names: logical name plus 7 hex characters.
        return str(self.inputs.get("name") or f"{self.name}-{self.token[:7]}")

    def arn(self, service: str, resource: str, regional: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if regional else ''}:{ACCOUNT_ID}:{resource}"


_Generated = tuple[str, dict[str, Any]]


def _prefixed_id(prefix: str, arn_kind: str | None = None) -> Callable[[_Declared], _Generated]:
    """EC2-style resources: an id like `vpc-0123...`, and an ARN where the real one has it."""

    def generate(d: _Declared) -> _Generated:
        resource_id = f"{prefix}-{d.token}"
        return resource_id, ({"arn": d.arn("ec2", f"{arn_kind}/{resource_id}")} if arn_kind else {})

    return generate


def _eip(d: _Declared) -> _Generated:
    octets = _digest("eip", d.seed)
    resource_id = f"eipalloc-{d.token}"
    return resource_id, {
        "allocationId": resource_id,
        "publicIp": f"52.{octets[0]}.{octets[1]}.{octets[2] or 1}",
    }


def _launch_template(d: _Declared) -> _Generated:
    resource_id = f"lt-{d.token}"
    return resource_id, {"arn": d.arn("ec2", f"launch-template/{resource_id}"), "latestVersion": 1}


def _role(d: _Declared) -> _Generated:
    name = d.physical_name
    return name, {
        "arn": d.arn("iam", f"role/{name}", regional=False),
        "name": name,
        "uniqueId": f"AROA{d.token.upper()}",
    }


def _kms_key(d: _Declared) -> _Generated:
    key_id = "-".join(
        (d.token[:8], *(_hex(f"k{i}", d.seed, length=n) for i, n in enumerate((4, 4, 4, 12))))
    )
    return key_id, {"arn": d.arn("kms", f"key/{key_id}"), "keyId": key_id}


def _kms_alias(d: _Declared) -> _Generated:
    alias = str(d.inputs.get("name", f"alias/{d.name}"))
    return alias, {"arn": d.arn("kms", alias)}


def _eks_cluster(d: _Declared) -> _Generated:
    hex_id = _hex("eks", d.seed, length=32).upper()
    name = d.physical_name
    return name, {
        "arn": d.arn("eks", f"cluster/{name}"),
        "endpoint": f"https://{hex_id}.gr7.{d.region}.eks.amazonaws.com",
        "certificateAuthority": {"data": cluster_ca_certificate(d.seed)},
        "identities": [
            {"oidcs": [{"issuer": f"https://oidc.eks.{d.region}.amazonaws.com/id/{hex_id}"}]}
        ],
        "platformVersion": "eks.12",
        "status": "ACTIVE",
        "clusterId": _hex("cid", d.seed, length=32),
        "vpcConfig": {
            **d.inputs.get("vpcConfig", {}),
            "clusterSecurityGroupId": f"sg-{_hex('csg', d.seed)}",
            "vpcId": f"vpc-{_hex('cvpc', d.seed)}",
        },
    }


def _node_group(d: _Declared) -> _Generated:
    cluster = d.inputs.get("clusterName", "cluster")
    name = f"{d.inputs.get('nodeGroupNamePrefix', d.name + '-')}{d.token[:26]}"
    return f"{cluster}:{name}", {
        "arn": d.arn("eks", f"nodegroup/{cluster}/{name}/{d.token[:8]}"),
        "status": "ACTIVE",
        "nodeGroupName": name,
    }


def _oidc_provider(d: _Declared) -> _Generated:
    issuer = str(d.inputs.get("url", "")).removeprefix("https://")
    arn = d.arn("iam", f"oidc-provider/{issuer}", regional=False)
    return arn, {"arn": arn}


def _access_entry(d: _Declared) -> _Generated:
    cluster = d.inputs.get("clusterName")
    return f"{cluster}:{d.inputs.get('principalArn')}", {
        "accessEntryArn": d.arn("eks", f"access-entry/{cluster}/{d.token[:8]}")
    }


def _tls_private_key(d: _Declared) -> _Generated:
    outputs = tls_private_key_outputs(
        d.seed,
        str(d.inputs.get("algorithm", "RSA")),
        str(d.inputs.get("ecdsaCurve", "P224")),
        int(d.inputs.get("rsaBits", 2048)),
    )
    resource_id = outputs.pop("id")
    # The provider marks the private key outputs secret; so does the mock.
    secret_outputs = ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh")
    return resource_id, {
        key: {_SECRET_SIG_KEY: _SECRET_SIG, "value": value} if key in secret_outputs else value
        for key, value in outputs.items()
    }


def _deploy_key(d: _Declared) -> _Generated:
    return f"{d.inputs.get('repository')}:{int(d.token[:8], 16)}", {"etag": f'W/"{d.token}"'}


def _repository(d: _Declared) -> _Generated:
    name = d.physical_name
    return name, {
        "fullName": f"owner/{name}",
        "sshCloneUrl": f"git@github.com:owner/{name}.git",
        "nodeId": f"R_{d.token}",
        "repoId": int(d.token[:6], 16),
    }


def _kubernetes_object(d: _Declared) -> _Generated:
    metadata = dict(d.inputs.get("metadata") or {})
    metadata.setdefault("name", d.name)
    metadata["uid"] = "-".join(
        (
            d.token[:8],
            d.token[8:12],
            "4" + d.token[12:15],
            "8" + _hex("u", d.seed, length=3),
            _hex("u2", d.seed, length=12),
        )
    )
    return "/".join(filter(None, (metadata.get("namespace"), metadata["name"]))), {
        "metadata": metadata
    }


_OUTPUTS: dict[str, Callable[[_Declared], _Generated]] = {
    "aws:ec2/vpc:Vpc": _prefixed_id("vpc", "vpc"),
    "aws:ec2/subnet:Subnet": _prefixed_id("subnet", "subnet"),
    "aws:ec2/internetGateway:InternetGateway": _prefixed_id("igw", "internet-gateway"),
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/natGateway:NatGateway": _prefixed_id("nat"),
    "aws:ec2/routeTable:RouteTable": _prefixed_id("rtb", "route-table"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _prefixed_id("rtbassoc"),
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:iam/role:Role": _role,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:eks/accessEntry:AccessEntry": _access_entry,
    "tls:index/privateKey:PrivateKey": _tls_private_key,
    "github:index/repositoryDeployKey:RepositoryDeployKey": _deploy_key,
    "github:index/repository:Repository": _repository,
}


class RecordingMocks(pulumi.runtime.Mocks):
    """Outputs shaped like the real providers' for the types this program declares; any other
    type gets an id and its inputs back, as a provider with no computed outputs would give."""

    def __init__(self, region: str, stack: str) -> None:
        self.region = region
        self.stack = stack

    def new_resource(
        self, args: pulumi_mocks.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        declared = _Declared(
            self.region,
            self.stack,
            args.name,
            _unwrap(args.inputs),
            _hex(self.stack, args.typ, args.name),
        )
        if args.typ.startswith("kubernetes:"):
            generate: Callable[[_Declared], _Generated] | None = _kubernetes_object
        else:
            generate = _OUTPUTS.get(args.typ)
        if generate is None:
            return f"{args.name}-{declared.token[:8]}", dict(args.inputs)
        resource_id, outputs = generate(declared)
        return resource_id, {**args.inputs, **outputs}

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        token = args.token
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef"
            return {
                "names": [f"{self.region}{letter}" for letter in letters[:3]],
                "zoneIds": [f"{self.region[:3]}{self.region[-1]}-az{i}" for i in range(1, 4)],
                "id": self.region,
            }
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/platform-deployer/ci-session",
                "userId": "AROAEXAMPLEDEPLOYER:ci-session",
                "id": ACCOUNT_ID,
            }
        if token == "aws:iam/getSessionContext:getSessionContext":
            return {
                "arn": args.args.get("arn"),
                "issuerArn": f"arn:aws:iam::{ACCOUNT_ID}:role/platform-deployer",
                "issuerId": "AROAEXAMPLEDEPLOYER",
                "issuerName": "platform-deployer",
                "sessionName": "ci-session",
                "id": str(args.args.get("arn")),
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "github:index/getSshKeys:getSshKeys":
            return {"keys": list(GITHUB_SSH_KEYS), "id": "github.com"}
        raise NotImplementedError(f"the mock engine has no answer for invoke {token}")


# ---------------------------------------------------------------------------------------------
# Recording what the program declares.


def type_and_name(urn: str) -> str:
    """`TYPE::NAME` of a URN, the way the plan names resources (the parent chain is left out)."""
    qualified_type, name = urn.split("::")[2:4]
    return f"{qualified_type.split('$')[-1]}::{name}"


def whole_numbers(value: Any) -> Any:
    # protobuf Structs carry every number as a double; 40.0 was 40 in the program.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def _from_struct(struct: Any) -> Any:
    return whole_numbers(json_format.MessageToDict(struct, preserving_proto_field_name=True))


def is_secret(value: Any) -> bool:
    """Whether a value as sent to the engine is a secret."""
    return isinstance(value, dict) and value.get(_SECRET_SIG_KEY) == _SECRET_SIG


def redact(value: Any) -> Any:
    """Replace every value the engine would treat as secret with the string `[secret]`.

    A secret map keeps its keys: they name what it holds (as `kubectl describe secret` does), and a
    plan that shows a Secret's keys shows a missing or misspelt one."""
    if isinstance(value, dict):
        if is_secret(value):
            inner = value.get("value")
            if isinstance(inner, dict):
                return dict.fromkeys(inner, SECRET_MARK)
            return SECRET_MARK
        if value.get(_SECRET_SIG_KEY) == _RESOURCE_SIG:
            return {"urn": value.get("urn")}
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    """As sent to the engine: secrets still wrapped, so `redacted_inputs` and `plain_inputs` agree."""
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    delete_before_replace: bool
    retain_on_delete: bool
    provider: str | None
    ignore_changes: list[str]
    replace_on_changes: list[str]
    custom_timeouts: dict[str, str]
    deleted_with: str | None
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    """Earlier URNs of this resource, which the engine treats as the same resource."""

    @property
    def redacted_inputs(self) -> Any:
        return redact(self.inputs)

    @property
    def plain_inputs(self) -> Any:
        return _unwrap(self.inputs)

    @property
    def type_and_name(self) -> str:
        return f"{self.type}::{self.name}"


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self.stack_outputs: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine leaves the root stack out of its children's qualified types; so do we.
        if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(
                RecordedResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    inputs=_from_struct(request.object),
                    dependencies=sorted(request.dependencies),
                    property_dependencies={
                        key: sorted(deps.urns)
                        for key, deps in sorted(request.propertyDependencies.items())
                    },
                    protect=bool(request.protect),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    retain_on_delete=bool(request.retainOnDelete),
                    provider=type_and_name(request.provider.rsplit("::", 1)[0])
                    if request.provider
                    else None,
                    ignore_changes=sorted(request.ignoreChanges),
                    replace_on_changes=sorted(request.replaceOnChanges),
                    custom_timeouts=_from_struct(request.customTimeouts)
                    if request.HasField("customTimeouts")
                    else {},
                    deleted_with=request.deletedWith or None,
                    additional_secret_outputs=sorted(request.additionalSecretOutputs),
                    aliases=sorted(self._alias_urns(request)),
                )
            )
        return response

    def _alias_urns(self, request: Any) -> list[str]:
        urns = list(request.aliasURNs)
        for alias in request.aliases:
            if alias.WhichOneof("alias") == "urn":
                urns.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            urns.append(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        return urns

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.urn.split("::")[-2] == "pulumi:pulumi:Stack":
            self.stack_outputs = _from_struct(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


@dataclass
class ProgramRun:
    stack: str
    resources: list[RecordedResource]
    stack_outputs: dict[str, Any]
    logs: list[str] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.type == type_token]


class _LogCollector(logging.Handler):
    """Keeps what the program logs (info and above; the SDK's own debug chatter is dropped)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname.lower()}: {record.getMessage()}")


def config_from_stack_file(document: Mapping[str, Any]) -> dict[str, str]:
    """Pulumi hands config to the program as strings: objects and lists as JSON."""
    values = document.get("config") or {}
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()
    }


def run_program(
    program: Path,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    environment: Mapping[str, str] | None = None,
) -> ProgramRun:
    """Run a Pulumi program file under the mock engine and return what it declared.

    Each run gets a fresh context so runs in one process do not share the SDK's ambient state."""
    region = (
        json.loads(config["aws:region"])
        if config.get("aws:region", "").startswith('"')
        else config.get("aws:region", "us-east-1")
    )
    mocks = RecordingMocks(region, stack)
    monitor = RecordingMonitor(mocks)
    logs = _LogCollector()
    logger = logging.Logger(f"eks-gitops.{stack}")
    logger.addHandler(logs)

    def program_main() -> None:
        runpy.run_path(str(program), run_name="__main__")

    def execute() -> None:
        pulumi.runtime.set_all_config(dict(config), secret_keys)
        pulumi_mocks.set_mocks(
            mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=logger
        )
        # set_mocks opens a root stack of its own; the program gets the one run_in_stack opens,
        # as under the real language host, so its exports are registered as stack outputs.
        pulumi_settings.ROOT.set(None)
        program_dir = str(program.parent)
        sys.path.insert(0, program_dir)
        try:
            _sync_await(run_in_stack(program_main))
        finally:
            sys.path.remove(program_dir)

    saved = {key: os.environ.get(key) for key in (environment or {})}
    os.environ.update(environment or {})
    try:
        contextvars.Context().run(execute)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return ProgramRun(stack, monitor.recorded, monitor.stack_outputs, logs.lines)
