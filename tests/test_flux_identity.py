"""Flux's AWS identity: kustomize-controller decrypts SOPS-encrypted Secrets with the stack's KMS key
and nothing else, through EKS Pod Identity, and source-controller reads ECR when the stack asks.

Flux v2.9's AWS integration guide (fluxcd/website content/en/flux/integrations/aws.md, published at
https://fluxcd.io/flux/integrations/aws/) lists the identities it supports: EKS Pod Identity "only at
the controller level for EKS clusters" ("It's not possible to support it at the object level"), OIDC
federation (IRSA) at the object or controller level, and IAM user access keys. This stack uses Pod
Identity at the controller level: no key is stored anywhere, no service account needs an annotation.
For the Kustomization API "this field [provider] is not required/does not exist, SOPS detects the
provider from the metadata in the SOPS-encrypted Secret", and kustomize-controller falls back to the
controller's own credentials when the Kustomization names none (fluxcd/kustomize-controller
docs/spec/v1/kustomizations.md, "Controller global decryption"): the tree's Kustomizations say
`decryption: {provider: sops}` and no secretRef (tests/test_sops.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi.runtime.mocks import MockResourceArgs

from eks_gitops.aws.flux_identity import ECR_READ_ONLY_POLICY
from eks_gitops.settings.model import ConfigError
from eks_gitops.settings.parse import parse_stack_config
from tests.conftest import ENVIRONMENTS, repo_plan
from tests.graph_support import Graph, Node, graph_of, must_delete_before
from tests.test_config import minimal
from tools.offline.outputs import RecordingMocks
from tools.plan import Plan

ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
SOPS_KEY = "flux-identity-sops"
ALIAS = "aws:kms/alias:Alias"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ADDON = "aws:eks/addon:Addon"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"


def recorded(plan: Plan, node: Node) -> dict[str, Any]:
    """A resource's outputs as the mock engine answered them (ARNs, ids): it derives them from
    the stack, type, name and inputs alone, so asking again gives the same answer."""
    mocks = RecordingMocks(plan.settings.region, plan.stack)
    _, outputs = mocks.new_resource(MockResourceArgs(node.type, node.name, dict(node.inputs)))
    return outputs


def association(graph: Graph, service_account: str) -> Node:
    [found] = [
        node
        for node in graph.of_type(ASSOCIATION)
        if node.inputs["serviceAccount"] == service_account
    ]
    return found


def role_arn(plan: Plan, graph: Graph, node: Node) -> str:
    [role] = [r for r in graph.of_type(ROLE) if recorded(plan, r)["arn"] == node.inputs["roleArn"]]
    return str(recorded(plan, role)["arn"])


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_kustomize_controller_assumes_its_role_through_pod_identity(stack: str) -> None:
    plan = repo_plan(stack)
    graph = graph_of(plan)
    decrypting = association(graph, "kustomize-controller")
    # The association names the controller's service account in the toolkit namespace, in this
    # cluster (pulumi-aws sdk/python/pulumi_aws/eks/pod_identity_association.py: cluster_name,
    # namespace, role_arn, service_account).
    assert decrypting.inputs["namespace"] == plan.settings.toolkit.namespace == "gitops-system"
    assert decrypting.inputs["clusterName"] == plan.settings.cluster.name
    # Only EKS Pod Identity may assume the role: the trust policy awsdocs/amazon-eks-user-guide
    # latest/ug/manage-access/aws-access/pod-id-role.adoc gives, AssumeRole and TagSession.
    [role] = [
        r
        for r in graph.of_type(ROLE)
        if recorded(plan, r)["arn"] == role_arn(plan, graph, decrypting)
    ]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ]
    # No ECR role unless the stack asks for one.
    assert [n.inputs["serviceAccount"] for n in graph.of_type(ASSOCIATION)] == [
        "kustomize-controller"
    ]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_role_may_decrypt_with_the_stacks_key_and_nothing_else(stack: str) -> None:
    plan = repo_plan(stack)
    graph = graph_of(plan)
    key = graph.find(KEY, SOPS_KEY)
    key_arn = recorded(plan, key)["arn"]
    decrypter = role_arn(plan, graph, association(graph, "kustomize-controller"))
    [role] = [r for r in graph.of_type(ROLE) if recorded(plan, r)["arn"] == decrypter]
    [inline] = graph.of_type(ROLE_POLICY)
    assert inline.inputs["role"] == recorded(plan, role)["name"]
    # `sops decrypt` needs kms:Decrypt alone (getsops/sops kms/keysource.go, MasterKey.Decrypt
    # calls only the KMS Decrypt API); the Resource is exactly this key's ARN.
    assert json.loads(inline.inputs["policy"])["Statement"] == [
        {
            "Sid": "DecryptSopsSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
        }
    ]
    # Nothing else is attached to the role.
    assert not [a for a in graph.of_type(ATTACHMENT) if a.inputs["role"] == inline.inputs["role"]]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_key_rotates_and_its_policy_names_who_encrypts_and_who_decrypts(stack: str) -> None:
    plan = repo_plan(stack)
    graph = graph_of(plan)
    key = graph.find(KEY, SOPS_KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    # Losing the key loses every Secret encrypted with it: protected where the cluster is.
    [resource] = [r for r in plan.run.resources if r.urn == key.urn]
    assert resource.protect == plan.settings.cluster.protect
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    runners = sorted(
        {plan.settings.cluster.deployer_role_arn, *plan.settings.cluster.admin_role_arns}
    )
    decrypter = role_arn(plan, graph, association(graph, "kustomize-controller"))
    # KMS refuses a key policy that does not let the principal creating the key put the policy
    # again (the lockout safety check), and one naming a principal that does not exist
    # (KMS API reference, CreateKey, `Policy`): whoever runs `pulumi up` administers the key, and
    # the key is created after kustomize-controller's role.
    assert statements["KeyAdministration"]["Principal"] == {"AWS": runners}
    assert "kms:Put*" in statements["KeyAdministration"]["Action"]
    assert must_delete_before(
        graph, key.urn, graph.find(ROLE, "flux-identity-kustomize-controller").urn
    )
    # `sops encrypt` wraps its data key with kms:Encrypt (keysource.go, MasterKey.Encrypt).
    assert statements["EncryptSecrets"]["Principal"] == {"AWS": runners}
    assert statements["EncryptSecrets"]["Action"] == "kms:Encrypt"
    assert statements["FluxDecrypts"]["Principal"] == {"AWS": decrypter}
    assert statements["FluxDecrypts"]["Action"] == "kms:Decrypt"
    # Decryption is kustomize-controller's alone: no other statement allows it, and no statement
    # for the account root delegates the key to IAM policies (AWS KMS Developer Guide, "Default
    # key policy": the root statement "enables IAM policies to allow access to the KMS key").
    granted = [
        s
        for s in statements.values()
        if {"kms:Decrypt", "kms:*"} & set(json.dumps(s["Action"]).strip('[]"').split('", "'))
    ]
    assert [s["Sid"] for s in granted] == ["FluxDecrypts"]
    assert not any(":root" in json.dumps(s["Principal"]) for s in statements.values())


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_alias_is_the_arn_sops_yaml_can_name_before_the_key_exists(stack: str) -> None:
    plan = repo_plan(stack)
    graph = graph_of(plan)
    aliases = {n.inputs["name"]: n for n in graph.of_type(ALIAS)}
    alias = aliases[f"alias/gitops-{stack}-sops"]
    key = graph.find(KEY, SOPS_KEY)
    assert alias.inputs["targetKeyId"] == recorded(plan, key)["keyId"]
    # Region from the stack, account from the deployer role: the ARN the mock engine gives the
    # alias, as AWS builds it (arn:aws:kms:REGION:ACCOUNT:alias/NAME).
    assert recorded(plan, alias)["arn"] == plan.settings.sops_key_reference


def test_controllers_start_after_their_associations_and_outlive_nothing_they_need() -> None:
    plan = repo_plan("dev")
    graph = graph_of(plan)
    decrypting = association(graph, "kustomize-controller")
    controller = graph.find(DEPLOYMENT, "gitops-system/kustomize-controller")
    sync = graph.find(KUSTOMIZATION, "sync-kustomization")
    agent = graph.find(ADDON, "cluster-eks-pod-identity-agent")
    # EKS sets a pod's Pod Identity credentials when the pod is created; Flux's guide says to
    # "Restart (delete) the controller pod for the binding to take effect" (aws.md, "With EKS Pod
    # Identity", step 3). Created after the association, the controller needs no restart; and
    # every destroy deletes the sync (Flux pruning and decrypting) and the controllers before the
    # association, which goes before the agent that serves its credentials.
    assert must_delete_before(graph, controller.urn, decrypting.urn)
    assert must_delete_before(graph, sync.urn, decrypting.urn)
    assert must_delete_before(graph, decrypting.urn, agent.urn)
    # The sync names the identity itself (the engine records a component's children), not only
    # through the toolkit.
    [sync_component] = graph.of_type("eks-gitops:sync:Sync")
    assert decrypting.urn in sync_component.depends_on


def test_an_existing_key_is_only_granted_never_created(plan_edited: Callable[..., Plan]) -> None:
    key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

    def use_existing(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:secrets"]["sops"]["keyArn"] = key_arn

    plan = plan_edited("dev", use_existing)
    graph = graph_of(plan)
    assert [n.name for n in graph.of_type(KEY)] == ["cluster-secrets"]
    assert [n.inputs["name"] for n in graph.of_type(ALIAS)] == ["alias/gitops-dev-secrets"]
    [inline] = graph.of_type(ROLE_POLICY)
    assert json.loads(inline.inputs["policy"])["Statement"][0]["Resource"] == key_arn
    assert plan.settings.sops_key_reference == key_arn
    assert plan.outputs()["sopsKeyArn"] == key_arn


def test_source_controller_reads_ecr_when_the_stack_asks(plan_edited: Callable[..., Plan]) -> None:
    def read_ecr(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:ecr"] = {"enabled": True}

    plan = plan_edited("qa", read_ecr)
    graph = graph_of(plan)
    reading = association(graph, "source-controller")
    assert reading.inputs["namespace"] == "gitops-system"
    # OCIRepository's `provider: aws` authenticates with the controller's identity, and Flux
    # recommends this AWS managed read-only policy for it (aws.md, "For Amazon Elastic Container
    # Registry"; fluxcd/source-controller docs/spec/v1/ocirepositories.md, "Provider", "AWS").
    [attachment] = [
        a for a in graph.of_type(ATTACHMENT) if a.inputs["policyArn"] == ECR_READ_ONLY_POLICY
    ]
    [role] = [
        r for r in graph.of_type(ROLE) if recorded(plan, r)["name"] == attachment.inputs["role"]
    ]
    assert recorded(plan, role)["arn"] == reading.inputs["roleArn"]
    assert must_delete_before(
        graph, graph.find(DEPLOYMENT, "gitops-system/source-controller").urn, reading.urn
    )


def test_no_identity_without_sops_or_ecr(plan_edited: Callable[..., Plan]) -> None:
    def plain(document: dict[str, Any]) -> None:
        del document["config"]["eks-gitops:secrets"]

    graph = graph_of(plan_edited("dev", plain))
    assert graph.of_type(ASSOCIATION) == []
    assert [n.name for n in graph.of_type(KEY)] == ["cluster-secrets"]


@pytest.mark.parametrize(
    ("sops", "expected"),
    [
        ({"enabled": True, "keyArn": "arn:aws:kms:eu-west-1:123456789012:alias/x"}, "not an alias"),
        ({"keyArn": "arn:aws:kms:eu-west-1:123456789012:key/mrk-" + "0" * 32}, "enabled: true"),
        ({"enabled": "yes"}, "boolean"),
    ],
)
def test_a_wrong_sops_setting_is_one_line(sops: dict[str, Any], expected: str) -> None:
    raw = minimal()
    raw["eks-gitops:secrets"] = {"sops": sops}
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev")
    message = str(error.value)
    assert message.startswith("config error: eks-gitops:secrets.sops.")
    assert expected in message and "\n" not in message
