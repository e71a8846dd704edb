"""Secrets stay secret end to end: nothing the offline plan writes or logs carries a credential.

Every stack is planned with known Sumo Logic credentials; the deploy key's private key is recomputed
from the mock provider (real key material) and the kubeconfig is taken from the Kubernetes provider's
recorded inputs. None of them may appear in resources.json, manifests.yaml, outputs.json or the logs,
in clear or JSON-escaped, nor may any PEM private key block.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ENVIRONMENTS, FLUX_V294
from tests.graph_support import graph_of
from tools.offline.keys import tls_private_key_outputs
from tools.offline.wire import SECRET_MARK
from tools.plan import Plan, PlanError, plan_stack, write_plan

PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
TLS_KEY = "tls:index/privateKey:PrivateKey"
SECRET = "kubernetes:core/v1:Secret"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
PLAN_FILES = ("resources.json", "manifests.yaml", "outputs.json")


def sumologic_secrets(stack: str) -> dict[str, str]:
    return {
        "eks-gitops:sumologicAccessId": f"SUMO-ID-{stack}-6c1f0e93",
        "eks-gitops:sumologicAccessKey": f"SUMO-KEY-{stack}-b84d27a5e1",
    }


@dataclass(frozen=True)
class Needles:
    """Every string whose appearance in plan output is a leak, by what it is."""

    values: Mapping[str, str]

    def forms(self) -> Iterator[tuple[str, str]]:
        for label, value in self.values.items():
            yield label, value
            escaped = json.dumps(value)[1:-1]
            if escaped != value:
                yield f"{label} (JSON-escaped)", escaped


def private_key_needles(pem: str) -> dict[str, str]:
    """The base64 body of a PEM block line by line: any one line is enough to call it a leak."""
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return {f"private key line {i}": line for i, line in enumerate(body) if len(line) >= 16}


def known_secrets(plan: Plan, sumologic: Mapping[str, str]) -> Needles:
    graph = graph_of(plan)
    (key,) = graph.of_type(TLS_KEY)
    outputs = tls_private_key_outputs(
        f"{plan.stack}/{key.name}",
        str(key.inputs["algorithm"]),
        str(key.inputs.get("ecdsaCurve", "P224")),
        int(key.inputs.get("rsaBits", 2048)),
    )
    # The recomputed key is the one the SSH Secret carries, so the needles are the real material.
    ssh_secret = graph.find(SECRET, "deploy-key")
    forms = ("privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh")
    assert ssh_secret.inputs["stringData"]["identity"] in [outputs[form] for form in forms]
    (provider,) = graph.of_type(KUBERNETES_PROVIDER)
    kubeconfig = str(provider.inputs["kubeconfig"])
    certificate = json.loads(kubeconfig)["clusters"][0]["cluster"]["certificate-authority-data"]
    values = dict(sumologic)
    for form in forms:
        values.update({f"{form} {k}": v for k, v in private_key_needles(outputs[form]).items()})
    # The webhook's token, where the stack has one: the Secret Flux reads carries it.
    for token_secret in graph.of_type(SECRET):
        if token_secret.inputs["metadata"]["name"] == "webhook-token":
            values["webhook token"] = token_secret.inputs["stringData"]["token"]
    values["kubeconfig"] = kubeconfig
    values["kubeconfig certificate data"] = certificate
    return Needles(values)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _decoded(name: str, text: str) -> list[Any]:
    # YAML may fold a long string over lines; the decoded values are checked as well as the text.
    if name.endswith(".json"):
        return [json.loads(text)]
    return list(yaml.safe_load_all(text))


def leaks(plan_dir: Path, logs: list[str], needles: Needles) -> list[str]:
    """Each needle found in a written plan file or a log line, as 'WHAT in WHERE'."""
    sources = {name: (plan_dir / name).read_text() for name in PLAN_FILES}
    found = []
    for where, text in [*sources.items(), ("logs", "\n".join(logs))]:
        decoded = "\n".join(_strings(_decoded(where, text))) if where in sources else ""
        if PEM_PRIVATE_KEY.search(text) or PEM_PRIVATE_KEY.search(decoded):
            found.append(f"PEM private key block in {where}")
        found += [
            f"{label} in {where}"
            for label, needle in needles.forms()
            if needle in text or needle in decoded
        ]
    return sorted(set(found))


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Plan, Path]]:
    cache: dict[str, tuple[Plan, Path]] = {}

    def get(stack: str) -> tuple[Plan, Path]:
        if stack not in cache:
            plan = plan_stack(
                stack, flux_manifests=FLUX_V294, secret_values=sumologic_secrets(stack)
            )
            cache[stack] = plan, write_plan(plan, tmp_path_factory.mktemp("plan"))
        return cache[stack]

    return get


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_no_secret_reaches_the_plan_files_or_logs(
    stack: str, planned: Callable[[str], tuple[Plan, Path]]
) -> None:
    plan, target = planned(stack)
    needles = known_secrets(plan, sumologic_secrets(stack))
    assert leaks(target, plan.run.logs, needles) == []
    # The credentials did reach the program (as secrets), so their absence above means something.
    credentials = graph_of(plan).find(SECRET, "sumologic-credentials")
    assert set(credentials.inputs["stringData"].values()) == set(sumologic_secrets(stack).values())


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_credentials_and_cluster_access_are_marked_secret(
    stack: str, planned: Callable[[str], tuple[Plan, Path]]
) -> None:
    plan, _ = planned(stack)
    graph = graph_of(plan)
    assert graph.find(SECRET, "deploy-key").secret_inputs == {"stringData"}
    assert graph.find(SECRET, "sumologic-credentials").secret_inputs == {"stringData"}
    if plan.settings.webhook.enabled:
        assert graph.find(SECRET, "webhook-token").secret_inputs == {"stringData"}
        assert "webhook token" in known_secrets(plan, sumologic_secrets(stack)).values
    # What the cluster hands back stays secret too.
    for secret in plan.run.of_type(SECRET):
        assert secret.additional_secret_outputs == ["data", "stringData"], secret.name
    (provider,) = graph.of_type(KUBERNETES_PROVIDER)
    assert provider.secret_inputs == {"kubeconfig"}
    assert plan.outputs()["kubeconfig"] == SECRET_MARK
    # The private key is only ever an input of the SSH Secret, inside its secret data.
    for node in graph.nodes.values():
        if node.type != SECRET:
            assert "PRIVATE KEY" not in json.dumps(node.inputs), node.urn


def _with_output(plan: Plan, name: str, value: str) -> Plan:
    run = copy.deepcopy(plan.run)
    run.stack_outputs[name] = value
    return Plan(plan.stack, plan.settings, run, plan.manifest)


def _with_log(plan: Plan, line: str) -> Plan:
    run = copy.deepcopy(plan.run)
    run.logs.append(line)
    return Plan(plan.stack, plan.settings, run, plan.manifest)


def _with_configmap_data(plan: Plan, value: str) -> Plan:
    run = copy.deepcopy(plan.run)
    (template,) = [r for r in run.resources if r.type == SECRET and r.name == "deploy-key"]
    leaked = copy.deepcopy(template)
    leaked.type, leaked.name = "kubernetes:core/v1:ConfigMap", "leak"
    leaked.urn = template.urn.replace(SECRET, leaked.type).replace("::deploy-key", "::leak")
    leaked.inputs = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"value": value}}
    run.resources.append(leaked)
    return Plan(plan.stack, plan.settings, run, plan.manifest)


def test_the_scanner_catches_deliberate_leaks(
    planned: Callable[[str], tuple[Plan, Path]], tmp_path: Path
) -> None:
    plan, _ = planned("dev")
    sumologic = sumologic_secrets("dev")
    needles = known_secrets(plan, sumologic)
    (key,) = graph_of(plan).of_type(TLS_KEY)
    private_key = tls_private_key_outputs(f"{plan.stack}/{key.name}", "ECDSA", "P384", 2048)[
        "privateKeyPem"
    ]
    kubeconfig = needles.values["kubeconfig"]
    cases = {
        "outputs": _with_output(plan, "debug", private_key),
        "logs": _with_log(
            plan, f"info: using access key {sumologic['eks-gitops:sumologicAccessKey']}"
        ),
        "manifests": _with_configmap_data(plan, kubeconfig),
    }
    found = {}
    for where, leaky in cases.items():
        found[where] = leaks(write_plan(leaky, tmp_path / where), leaky.run.logs, needles)
    assert "PEM private key block in outputs.json" in found["outputs"]
    assert "privateKeyPem private key line 0 in outputs.json" in found["outputs"]
    assert found["logs"] == ["eks-gitops:sumologicAccessKey in logs"]
    assert "kubeconfig certificate data in manifests.yaml" in found["manifests"]
    assert "kubeconfig (JSON-escaped) in resources.json" in found["manifests"]


def test_a_github_token_in_a_stack_file_is_refused(plan_edited: Callable[..., Plan]) -> None:
    token = "ghp_4Qk1eXampLeT0kenV4lueN0tRea1000000"

    def add_token(document: dict[str, Any]) -> None:
        document["config"]["github:token"] = token

    with pytest.raises(PlanError) as refused:
        plan_edited("dev", add_token)
    message = str(refused.value)
    assert message.startswith("config error: github:token = ")
    assert token not in message


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_plan_files_name_each_secret_key_and_hide_its_value(
    stack: str, planned: Callable[[str], tuple[Plan, Path]]
) -> None:
    _, target = planned(stack)
    expected = {
        ("deploy-key", "gitops-system"): {"identity", "identity.pub", "known_hosts"},
        ("sumologic-credentials", "sumologic-credentials"): {"accessId", "accessKey"},
    }
    resources = json.loads((target / "resources.json").read_text())
    in_resources = {
        (entry["name"], entry["inputs"]["metadata"]["name"]): entry["inputs"]["stringData"]
        for entry in resources
        if entry["type"] == SECRET
    }
    manifests = yaml.safe_load_all((target / "manifests.yaml").read_text())
    in_manifests = {
        document["metadata"]["name"]: document["stringData"]
        for document in manifests
        if document["kind"] == "Secret"
    }
    for (name, secret_name), keys in expected.items():
        assert in_resources[name, secret_name] == dict.fromkeys(keys, SECRET_MARK), name
        assert in_manifests[secret_name] == dict.fromkeys(keys, SECRET_MARK), name
    # The values themselves appear nowhere: test_no_secret_reaches_the_plan_files_or_logs.
