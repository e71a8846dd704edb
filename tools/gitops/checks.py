"""Pure checks over manifests and file text. Each returns the problems it finds."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from eks_gitops.flux.kinds import FLUX_KINDS
from tools.gitops.cluster_tree import ClusterTree
from tools.gitops.model import Manifest, Problem, api_group, is_flux

SCHEMA_PATH = Path(__file__).with_name("schemas") / "flux.schema.json"

# Chart repositories that are gone or whose project is retired.
RETIRED_CHART_REPOSITORIES = (
    "kubernetes-charts.storage.googleapis.com",
    "kubernetes-charts-incubator.storage.googleapis.com",
    "charts.helm.sh/stable",
    "charts.helm.sh/incubator",
    "kubernetes.github.io/ingress-nginx",
)

AWS_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")
PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_CREDENTIAL_KEY_ENDINGS = (
    "password",
    "passwd",
    "passphrase",
    "accesskey",
    "secretkey",
    "token",
    "apikey",
    "privatekey",
    "clientsecret",
)
_ONLY_VARIABLES = re.compile(r"^(\$\{[^}]*\}\s*)+$")
# A value SOPS encrypted: `ENC[AES256_GCM,data:...,iv:...,tag:...,type:str]` (getsops/sops
# aes/cipher.go, the format Encrypt writes and Decrypt parses).
SOPS_VALUE = re.compile(
    r"^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]$"
)
SECRET_DATA_FIELDS = ("data", "stringData")


# ---------------------------------------------------------------------------- API versions, schemas


def check_api_version(manifest: Manifest, served_controllers: frozenset[str]) -> list[Problem]:
    api_version = str(manifest.body.get("apiVersion", ""))
    known = FLUX_KINDS.get(manifest.kind)
    if known is None or known.group != api_group(api_version):
        if is_flux(manifest.body):
            return [
                manifest.problem("kind", f"{manifest.kind} is not a Flux kind of {api_version}")
            ]
        return []
    if api_version != known.api_version:
        return [
            manifest.problem(
                "apiVersion",
                f"{api_version} is not served by Flux v2.9; use {known.api_version}",
                needle=api_version,
            )
        ]
    if known.controller not in served_controllers:
        return [
            manifest.problem(
                "kind", f"{manifest.kind} needs {known.controller}, which this cluster does not run"
            )
        ]
    return []


@cache
def _schema_document() -> Mapping[str, Any]:
    loaded: Mapping[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


@cache
def schema_validator(schema_name: str) -> Draft202012Validator:
    document = _schema_document()
    return Draft202012Validator({"$defs": document["$defs"], "$ref": f"#/$defs/{schema_name}"})


def _json_path(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _error_fields(error: ValidationError) -> Iterator[tuple[str, str]]:
    """(field, message) for a schema error, naming the missing or unexpected field itself."""
    base = _json_path(error)
    prefix = f"{base}." if base else ""
    if error.validator == "required" and isinstance(error.instance, Mapping):
        for name in error.validator_value:
            if name not in error.instance:
                yield f"{prefix}{name}", "required field is missing"
    elif error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        for name in error.instance:
            if name not in allowed:
                yield f"{prefix}{name}", "unknown field"
    elif error.validator == "type" and error.instance is None:
        yield base or "-", f"is empty; expected a {error.validator_value}"
    elif error.validator == "oneOf" and not base.endswith("]"):
        yield base or "spec", "exactly one of spec.chart and spec.chartRef is required"
    else:
        yield base or "-", error.message


def check_schema(manifest: Manifest) -> list[Problem]:
    known = FLUX_KINDS.get(manifest.kind)
    if manifest.stub or known is None or manifest.kind not in _schema_document()["$defs"]:
        return []
    if manifest.body.get("apiVersion") != known.api_version:
        return []  # check_api_version reports it; the fields of another version differ anyway
    validator = schema_validator(manifest.kind)
    return [
        manifest.problem(field, message)
        for error in validator.iter_errors(dict(manifest.body))
        for field, message in _error_fields(error)
    ]


# ----------------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Reference:
    field: str
    kind: str
    namespace: str | None
    name: str
    optional: bool = False
    # For valuesFrom: the key the HelmRelease reads from the ConfigMap or Secret.
    values_key: str | None = None


def _secret_refs(value: Any, path: str, namespace: str | None) -> Iterator[Reference]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}"
            is_secret_ref = key == "secretRef" or str(key).endswith("SecretRef")
            if is_secret_ref and isinstance(item, Mapping) and "name" in item:
                yield Reference(f"{child}.name", "Secret", namespace, str(item["name"]))
            else:
                yield from _secret_refs(item, child, namespace)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_refs(item, f"{path}[{index}]", namespace)


def _named_refs(
    items: Any,
    field: str,
    namespace: str | None,
    kind: str | None = None,
    default_values_key: str | None = None,
) -> Iterator[Reference]:
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, Mapping) and "name" in item:
            values_key = item.get("valuesKey", default_values_key)
            yield Reference(
                f"{field}[{index}]",
                str(kind or item.get("kind")),
                item.get("namespace") or namespace,
                str(item["name"]),
                bool(item.get("optional")),
                None if values_key is None else str(values_key),
            )


def _source_ref(ref: Any, field: str, namespace: str | None) -> Iterator[Reference]:
    if isinstance(ref, Mapping) and "name" in ref:
        name = str(ref["name"])
        yield Reference(field, str(ref.get("kind")), ref.get("namespace") or namespace, name)


def references(manifest: Manifest) -> list[Reference]:
    """Every object a Flux object points at, with the field that points."""
    if manifest.stub or not is_flux(manifest.body):
        return []
    spec, namespace, kind = manifest.spec, manifest.namespace, manifest.kind
    found = list(_secret_refs(spec, "spec", namespace))
    if kind in ("Kustomization", "HelmChart"):
        found += _source_ref(spec.get("sourceRef"), "spec.sourceRef", namespace)
    if kind in ("Kustomization", "HelmRelease"):
        found += _named_refs(spec.get("dependsOn"), "spec.dependsOn", namespace, kind)
    if kind == "Kustomization":
        post_build = spec.get("postBuild") or {}
        field = "spec.postBuild.substituteFrom"
        found += _named_refs(post_build.get("substituteFrom"), field, namespace)
    if kind == "HelmRelease":
        chart_spec = (spec.get("chart") or {}).get("spec") or {}
        found += _source_ref(chart_spec.get("sourceRef"), "spec.chart.spec.sourceRef", namespace)
        found += _source_ref(spec.get("chartRef"), "spec.chartRef", namespace)
        # valuesFrom has no namespace field: it reads from the HelmRelease's own namespace.
        values_from = spec.get("valuesFrom")
        found += _named_refs(values_from, "spec.valuesFrom", namespace, None, "values.yaml")
        creates_namespace = bool((spec.get("install") or {}).get("createNamespace"))
        if spec.get("targetNamespace") and not creates_namespace:
            target = str(spec["targetNamespace"])
            found.append(Reference("spec.targetNamespace", "Namespace", None, target))
    return found


def _missing_values_key(reference: Reference, target: Manifest) -> bool:
    """valuesFrom names a key that the ConfigMap or Secret, as built from this repository, lacks.
    Objects known only from the generated record have unknown keys."""
    if reference.values_key is None or target.stub:
        return False
    data = {**(target.body.get("data") or {}), **(target.body.get("stringData") or {})}
    return reference.values_key not in data


def check_references(manifest: Manifest, cluster: ClusterTree) -> list[Problem]:
    problems: list[Problem] = []
    for reference in references(manifest):
        target = cluster.find(reference.kind, reference.namespace, reference.name)
        if target is None:
            if not reference.optional:
                where = f"{reference.namespace}/" if reference.namespace else ""
                problems.append(
                    manifest.problem(
                        reference.field,
                        f"{reference.kind} {where}{reference.name} does not exist in cluster "
                        f"{cluster.name}",
                        needle=reference.name,
                    )
                )
            continue
        if _missing_values_key(reference, target):
            problems.append(
                manifest.problem(
                    f"{reference.field}.valuesKey",
                    f"{target.label} has no key {reference.values_key}",
                    needle="valuesKey:",
                )
            )
    return problems


def check_helm_repository(manifest: Manifest) -> list[Problem]:
    if manifest.kind != "HelmRepository" or manifest.stub:
        return []
    url = str(manifest.spec.get("url", ""))
    if any(retired in url for retired in RETIRED_CHART_REPOSITORIES):
        return [manifest.problem("spec.url", f"{url} is a retired chart repository")]
    return []


# ----------------------------------------------------------------------------------- credentials


def is_credential_key(key: str) -> bool:
    normalized = re.sub(r"[^a-z0-9]", "", key.lower())
    return normalized.endswith(_CREDENTIAL_KEY_ENDINGS)


def is_literal_secret(value: Any) -> bool:
    """A non-empty literal; a value made only of `${var}` references is filled in elsewhere, and a
    SOPS-encrypted one is ciphertext."""
    return (
        isinstance(value, str)
        and bool(value.strip())
        and not _ONLY_VARIABLES.match(value)
        and not SOPS_VALUE.match(value)
    )


def _sops_file_in_data(value: str) -> bool:
    """A `data` value that is a whole SOPS-encrypted file, as a kustomize secretGenerator makes from
    one (kustomize-controller decrypts those too: docs/spec/v1/kustomizations.md, "Kustomize
    secretGenerator")."""
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    return "ENC[AES256_GCM," in text and "sops" in text


def unencrypted_secret_fields(body: Mapping[str, Any]) -> list[str]:
    """The data/stringData fields of a Secret that are not SOPS-encrypted. An `ENC[...]` value
    counts only in a file that carries SOPS's metadata (`sops:` with its `mac`), which is what
    `sops decrypt` needs to decrypt it."""
    metadata = body.get("sops")
    has_metadata = isinstance(metadata, Mapping) and bool(metadata.get("mac"))
    fields = []
    for field in SECRET_DATA_FIELDS:
        values = body.get(field)
        if not isinstance(values, Mapping):
            if values:
                fields.append(field)
            continue
        for key, value in values.items():
            text = "" if value is None else str(value)
            encrypted = (has_metadata and bool(SOPS_VALUE.match(text))) or (
                field == "data" and _sops_file_in_data(text)
            )
            if not encrypted:
                fields.append(f"{field}.{key}")
    return fields


def is_sops_encrypted(body: Mapping[str, Any]) -> bool:
    """A Secret whose data is SOPS ciphertext, which only a Kustomization that decrypts can apply."""
    has_data = any(body.get(field) for field in SECRET_DATA_FIELDS)
    return has_data and not unencrypted_secret_fields(body)


def _credential_fields(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if is_credential_key(str(key)) and is_literal_secret(item):
                yield child
            else:
                yield from _credential_fields(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _credential_fields(item, f"{path}[{index}]")


def check_credentials_in_object(manifest: Manifest) -> list[Problem]:
    if manifest.stub:
        return []
    body = {k: v for k, v in manifest.body.items() if k not in ("apiVersion", "kind", "metadata")}
    problems = [
        manifest.problem(field, "literal credential; pass it through valuesFrom a Secret")
        for field in _credential_fields(body, "")
    ]
    if manifest.kind == "Secret":
        problems += [
            manifest.problem(
                field,
                "Secret data in clear in git; encrypt the file with sops (docs/sops.md) or let "
                "Pulumi create the Secret (eks-gitops:appSecrets)",
                needle=field.split(".", 1)[0] + ":",
            )
            for field in unencrypted_secret_fields(manifest.body)
        ]
    return problems


@dataclass(frozen=True)
class CreationRule:
    """One `creation_rules` entry of `.sops.yaml`: files whose path matches get these KMS keys."""

    path_regex: str
    kms: tuple[str, ...]


def read_creation_rules(path: Path) -> tuple[CreationRule, ...]:
    if not path.is_file():
        return ()
    rules = (yaml.safe_load(path.read_text()) or {}).get("creation_rules") or []
    return tuple(
        CreationRule(
            str(rule.get("path_regex", "")),
            tuple(arn.strip() for arn in str(rule.get("kms", "")).split(",") if arn.strip()),
        )
        for rule in rules
        if isinstance(rule, Mapping)
    )


def check_sops_key(
    manifest: Manifest, rules: tuple[CreationRule, ...], root: Path
) -> list[Problem]:
    """An encrypted Secret must carry the key `.sops.yaml` gives its path: each cluster's key is its
    own, so a file encrypted for another cluster (copied from dev to prod, say) cannot be decrypted
    where it is applied. SOPS takes the first rule whose path_regex matches the path relative to
    `.sops.yaml` (getsops/sops config/config.go, parseCreationRuleForFile)."""
    if manifest.kind != "Secret" or manifest.stub or not is_sops_encrypted(manifest.body):
        return []
    file = manifest.file("sops:")
    try:
        relative = str(file.resolve().relative_to(root.resolve()))
    except ValueError:
        relative = str(file)
    rule = next((r for r in rules if re.search(r.path_regex, relative)), None)
    metadata = manifest.body.get("sops") or {}
    used = sorted(
        str(entry.get("arn"))
        for entry in (metadata.get("kms") or [])
        if isinstance(entry, Mapping) and entry.get("arn")
    )
    if rule is None:
        return [
            manifest.problem(
                "sops.kms",
                "no creation rule in .sops.yaml matches this file; encrypted Secrets belong "
                "under gitops/aws/clusters/<env>/secrets/",
                needle="sops:",
            )
        ]
    if not set(rule.kms) & set(used):
        return [
            manifest.problem(
                "sops.kms",
                f"encrypted with {used or 'no KMS key'}, but .sops.yaml gives this path "
                f"{list(rule.kms)}: the cluster cannot decrypt it; encrypt it again here",
                needle="sops:",
            )
        ]
    return []


def decrypting_kustomizations(cluster: ClusterTree) -> set[str]:
    """Labels of the cluster's Flux Kustomizations that decrypt what they apply."""
    return {
        m.label
        for m in cluster.manifests.values()
        if m.kind == "Kustomization" and (m.spec.get("decryption") or {}).get("provider") == "sops"
    }


def check_decryption(manifest: Manifest, decrypting: set[str]) -> list[Problem]:
    """An encrypted Secret applied by a Kustomization that does not decrypt would reach the cluster
    as ciphertext (kustomize-controller decrypts only with `spec.decryption`)."""
    if manifest.kind != "Secret" or manifest.stub or not is_sops_encrypted(manifest.body):
        return []
    if manifest.applied_by in decrypting:
        return []
    return [
        manifest.problem(
            "sops",
            f"SOPS-encrypted, but applied by {manifest.applied_by}, which has no "
            "spec.decryption.provider: sops; list it under the cluster's secrets/ instead",
        )
    ]


def check_credentials_in_text(path: Path, text: str) -> list[Problem]:
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if AWS_ACCESS_KEY_ID.search(line):
            problems.append(Problem(path, "-", f"line {number}", "AWS access key id"))
        if PEM_PRIVATE_KEY.search(line):
            problems.append(Problem(path, "-", f"line {number}", "PEM private key"))
        if path.suffix == ".env" and "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            if is_credential_key(key.strip()) and is_literal_secret(value.strip()):
                problems.append(Problem(path, "-", f"line {number}", f"literal credential {key}"))
    return problems
