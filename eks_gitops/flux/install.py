"""Turn Flux's release ``install.yaml`` into the objects eks-gitops applies.

Everything here is pure: manifest text or plain dicts in, new plain dicts out. The
goal is to produce, for any namespace, the same objects ``flux bootstrap`` would
generate for it, starting from the release asset that hard-codes ``flux-system``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import yaml

KubeObject = dict[str, Any]

UPSTREAM_NAMESPACE: Final = "flux-system"

COMPONENT_LABEL: Final = "app.kubernetes.io/component"
INSTANCE_LABEL: Final = "app.kubernetes.io/instance"
DEFAULT_CLUSTER_DOMAIN: Final = "cluster.local"

_NOTIFICATION_CONTROLLER: Final = "notification-controller"
# Controllers resolve their own namespace at runtime, so addresses stay namespace-free.
_RUNTIME_NAMESPACE_REF: Final = "$(RUNTIME_NAMESPACE)"
_EVENTS_ADDR_FLAG: Final = "--events-addr="
_STORAGE_ADV_ADDR_FLAG: Final = "--storage-adv-addr="
_STORAGE_ADDRESS = re.compile(r"^(?P<service>[a-z0-9]([-a-z0-9]*[a-z0-9])?)\.[^.]+\.svc\.")
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_POD_SECURITY_LABELS: Final = {
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
}
# Bootstrap builds the shared RBAC file with a `-<namespace>` name suffix so that
# several Flux instances can live in one cluster without fighting over these names.
_SUFFIXED_SHARED_KINDS: Final = frozenset({"ClusterRole", "ClusterRoleBinding", "ResourceQuota"})
_APPLY_RANK: Final = {
    "Namespace": 0,
    "CustomResourceDefinition": 1,
    "ClusterRole": 2,
    "ClusterRoleBinding": 3,
}


class FluxManifestError(ValueError):
    """The install manifest, or what we were asked to do with it, does not fit."""


def parse_manifest(text: str) -> list[KubeObject]:
    """Parse multi-document YAML into Kubernetes objects, skipping empty documents."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise FluxManifestError(f"the Flux install manifest is not valid YAML: {error}") from error
    return [
        _require_kube_object(document, number)
        for number, document in enumerate(documents, start=1)
        if document is not None
    ]


def component_of(obj: Mapping[str, Any]) -> str | None:
    """The Flux component an object belongs to, or None for objects shared by all."""
    component = _labels(obj).get(COMPONENT_LABEL)
    return component if isinstance(component, str) else None


def select_components(objects: Sequence[KubeObject], components: Iterable[str]) -> list[KubeObject]:
    """Keep the chosen components' objects plus the shared ones (no component label)."""
    chosen = tuple(dict.fromkeys(components))
    present = {name for obj in objects if (name := component_of(obj)) is not None}
    missing = [name for name in chosen if name not in present]
    if missing:
        available = ", ".join(sorted(present)) or "no components at all"
        raise FluxManifestError(
            f"the Flux install manifest has no objects for {', '.join(missing)}; "
            f"it has: {available}"
        )
    return [obj for obj in objects if component_of(obj) in (None, *chosen)]


def relocate(
    objects: Sequence[KubeObject],
    namespace: str,
    components: Iterable[str],
    *,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> list[KubeObject]:
    """Return copies of ``objects`` as ``flux bootstrap`` generates them for ``namespace``.

    The source namespace is read from the manifest's Namespace object (``flux-system``
    for a release manifest), so relocating already relocated objects again is safe.
    """
    chosen = tuple(dict.fromkeys(components))
    source_namespace = _source_namespace(objects)
    renamed_cluster_roles = {
        obj["metadata"]["name"]: _suffixed(obj["metadata"]["name"], source_namespace, namespace)
        for obj in objects
        if obj["kind"] == "ClusterRole" and component_of(obj) is None
    }
    context = _Relocation(
        source_namespace=source_namespace,
        namespace=namespace,
        renamed_cluster_roles=renamed_cluster_roles,
        events_address=(
            f"http://{_NOTIFICATION_CONTROLLER}.{_RUNTIME_NAMESPACE_REF}.svc.{cluster_domain}./"
            if _NOTIFICATION_CONTROLLER in chosen
            else ""
        ),
        cluster_domain=cluster_domain,
    )
    relocated = [context.apply(copy.deepcopy(obj)) for obj in objects]
    for obj in relocated:
        _require_no_upstream_namespace(obj, namespace)
    return relocated


def order_for_apply(objects: Iterable[KubeObject]) -> list[KubeObject]:
    """Namespace, then CRDs, then cluster-wide RBAC, then everything else.

    Within a rank objects sort by namespace and name; kind breaks the remaining ties
    (a controller's Deployment, Service and ServiceAccount share one name) so the
    result does not depend on the order of the input.
    """
    return sorted(
        objects,
        key=lambda obj: (
            _APPLY_RANK.get(obj["kind"], len(_APPLY_RANK)),
            obj["metadata"].get("namespace", ""),
            obj["metadata"]["name"],
            obj["kind"],
        ),
    )


def resource_name(obj: Mapping[str, Any]) -> str:
    """The Pulumi resource name: ``namespace/name``, or ``name`` when cluster-scoped.

    Only identity goes in, never the Flux version or any content, so a Flux upgrade
    updates resources in place instead of replacing them. The Pulumi type token already
    carries apiVersion and kind.
    """
    metadata = obj["metadata"]
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])


def render_toolkit(
    text: str,
    components: Iterable[str],
    namespace: str,
    *,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> list[KubeObject]:
    """Parse, select, relocate and order: the objects to apply, in apply order."""
    chosen = tuple(dict.fromkeys(components))
    selected = select_components(parse_manifest(text), chosen)
    return order_for_apply(relocate(selected, namespace, chosen, cluster_domain=cluster_domain))


@dataclass(frozen=True)
class _Relocation:
    """The settings of one :func:`relocate` call, applied to one object at a time."""

    source_namespace: str
    namespace: str
    renamed_cluster_roles: Mapping[str, str]
    events_address: str
    cluster_domain: str

    def apply(self, obj: KubeObject) -> KubeObject:
        metadata = obj["metadata"]
        kind = obj["kind"]
        metadata["labels"] = {**(metadata.get("labels") or {}), INSTANCE_LABEL: self.namespace}
        if "namespace" in metadata:
            metadata["namespace"] = self.namespace
        if kind == "Namespace":
            metadata["name"] = self.namespace
            metadata["labels"].update(_POD_SECURITY_LABELS)
        elif kind in _SUFFIXED_SHARED_KINDS and component_of(obj) is None:
            metadata["name"] = _suffixed(metadata["name"], self.source_namespace, self.namespace)
        if kind in ("ClusterRoleBinding", "RoleBinding"):
            self._relocate_binding(obj)
        elif kind == "Deployment":
            self._relocate_deployment(obj)
        elif kind == "NetworkPolicy":
            self._relocate_network_policy(obj)
        return obj

    def _relocate_binding(self, binding: KubeObject) -> None:
        role_ref = binding.get("roleRef", {})
        if role_ref.get("kind") == "ClusterRole" and role_ref.get("name") in (
            self.renamed_cluster_roles
        ):
            role_ref["name"] = self.renamed_cluster_roles[role_ref["name"]]
        for subject in binding.get("subjects", []):
            if subject.get("kind") == "ServiceAccount" and subject.get("namespace") in (
                None,
                self.source_namespace,
            ):
                subject["namespace"] = self.namespace

    def _relocate_deployment(self, deployment: KubeObject) -> None:
        template = deployment.get("spec", {}).get("template", {})
        template_labels = template.get("metadata", {}).get("labels", {})
        if INSTANCE_LABEL in template_labels:
            template_labels[INSTANCE_LABEL] = self.namespace
        pod_spec = template.get("spec", {})
        for container in [*pod_spec.get("initContainers", []), *pod_spec.get("containers", [])]:
            if "args" in container:
                container["args"] = [
                    self._relocated_argument(argument, deployment) for argument in container["args"]
                ]

    def _relocated_argument(self, argument: Any, deployment: KubeObject) -> Any:
        if not isinstance(argument, str):
            return argument
        if argument.startswith(_EVENTS_ADDR_FLAG):
            return _EVENTS_ADDR_FLAG + self.events_address
        if argument.startswith(_STORAGE_ADV_ADDR_FLAG):
            address = _STORAGE_ADDRESS.match(argument.removeprefix(_STORAGE_ADV_ADDR_FLAG))
            if address is None:
                raise FluxManifestError(
                    f"{_describe(deployment)}: cannot relocate {argument!r}, expected "
                    "--storage-adv-addr=<service>.<namespace>.svc.<cluster-domain>."
                )
            return (
                f"{_STORAGE_ADV_ADDR_FLAG}{address['service']}.{_RUNTIME_NAMESPACE_REF}"
                f".svc.{self.cluster_domain}."
            )
        return argument

    def _relocate_network_policy(self, policy: KubeObject) -> None:
        spec = policy.get("spec", {})
        peers = [
            *(peer for rule in spec.get("ingress", []) for peer in rule.get("from", [])),
            *(peer for rule in spec.get("egress", []) for peer in rule.get("to", [])),
        ]
        for peer in peers:
            match_labels = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
            for key, value in match_labels.items():
                if value == self.source_namespace:
                    match_labels[key] = self.namespace


def _require_kube_object(document: Any, number: int) -> KubeObject:
    problem = _kube_object_problem(document)
    if problem:
        raise FluxManifestError(
            f"document {number} of the Flux install manifest is not a Kubernetes object: {problem}"
        )
    result: KubeObject = document
    return result


def _kube_object_problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return f"expected a mapping, found {type(document).__name__}"
    for field in ("apiVersion", "kind"):
        if not isinstance(document.get(field), str) or not document[field]:
            return f"missing or empty {field}"
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return "missing metadata"
    if not isinstance(metadata.get("name"), str) or not metadata["name"]:
        return "missing metadata.name"
    return None


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = obj.get("metadata", {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _source_namespace(objects: Sequence[Mapping[str, Any]]) -> str:
    names = [obj["metadata"]["name"] for obj in objects if obj["kind"] == "Namespace"]
    if len(names) > 1:
        raise FluxManifestError(f"expected one Namespace in the manifest, found {names}")
    return str(names[0]) if names else UPSTREAM_NAMESPACE


def _suffixed(name: str, source_namespace: str, namespace: str) -> str:
    return f"{name.removesuffix(f'-{source_namespace}')}-{namespace}"


def _require_no_upstream_namespace(obj: KubeObject, namespace: str) -> None:
    """Fail loudly when a Flux release mentions its namespace somewhere we do not relocate."""
    for path, text in _strings(obj, ""):
        # The target namespace may itself contain "flux-system" (e.g. "team-flux-system").
        if UPSTREAM_NAMESPACE in text.replace(namespace, ""):
            raise FluxManifestError(
                f"{_describe(obj)}: {path.lstrip('.')} still mentions {UPSTREAM_NAMESPACE} after "
                f"relocation to {namespace} ({text!r}); this Flux release puts the namespace "
                "somewhere flux/install.py does not relocate yet"
            )


def _strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a YAML tree, keys included, with a readable path to it."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if _PLAIN_KEY.match(str(key)) else f"{path}[{key!r}]"
            if isinstance(key, str):
                yield f"{child} (key)", key
            yield from _strings(value, child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}[{index}]")


def _describe(obj: Mapping[str, Any]) -> str:
    metadata = obj["metadata"]
    where = f" in namespace {metadata['namespace']}" if metadata.get("namespace") else ""
    return f"{obj['kind']} {metadata['name']}{where}"


def kubernetes_type_token(api_version: str, kind: str) -> str:
    """The Kubernetes provider's token for a kind: the core group is spelled `core`."""
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{kind}"


def render_operator(text: str, namespace: str) -> list[KubeObject]:
    """The Flux Operator's release manifest moved into ``namespace``, in apply order.

    The release builds it with `namespace: flux-system` (flux-operator config/default/
    kustomization.yaml), and its ClusterRoleBinding names the operator's ServiceAccount there
    (config/default/rbac.yaml); the operator finds its own namespace at runtime (RUNTIME_NAMESPACE
    from the downward API, config/manager/deployment.yaml), where the FluxInstance must live too.
    """
    objects = parse_manifest(text)
    source_namespace = _source_namespace(objects)
    relocated = []
    for original in objects:
        obj = copy.deepcopy(original)
        metadata = obj["metadata"]
        if "namespace" in metadata:
            metadata["namespace"] = namespace
        if obj["kind"] == "Namespace":
            metadata["name"] = namespace
        for subject in obj.get("subjects", []) if obj["kind"].endswith("Binding") else []:
            if subject.get("namespace") == source_namespace:
                subject["namespace"] = namespace
        _require_no_upstream_namespace(obj, namespace)
        relocated.append(obj)
    return order_for_apply(relocated)
