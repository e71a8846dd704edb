"""An AWS identity for Flux's controllers, without a long-lived key: EKS Pod Identity roles for
kustomize-controller (decrypting SOPS-encrypted Secrets with one KMS key) and, when the stack asks,
for source-controller (reading ECR). Flux supports Pod Identity at the controller level only
(fluxcd.io/flux/integrations/aws, "With EKS Pod Identity"), which is what this gives it.

The key is the stack's own, with rotation on and a key policy naming who may administer it and
encrypt with it (the deployer and admin roles) and who may decrypt (kustomize-controller's role
alone), or an existing key the stack only grants decryption on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final

import pulumi
from pulumi_aws import eks, iam, kms

from eks_gitops.aws.cluster import assume_role_policy, policy_resource_name
from eks_gitops.settings.model import EcrConfig, SopsConfig

POD_IDENTITY_SERVICE: Final = "pods.eks.amazonaws.com"
KUSTOMIZE_CONTROLLER: Final = "kustomize-controller"
SOURCE_CONTROLLER: Final = "source-controller"
# The AWS managed policy Flux recommends for OCIRepository from ECR (fluxcd.io/flux/integrations/aws,
# "For Amazon Elastic Container Registry").
ECR_READ_ONLY_POLICY: Final = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"

# What administering the key takes, without using it: KMS checks that the principal creating a key
# may put its policy again (the lockout safety check), and `pulumi up` reads and updates the key.
KEY_ADMINISTRATION_ACTIONS: Final = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
# `sops encrypt` wraps its data key with kms:Encrypt and `sops decrypt` (kustomize-controller)
# unwraps it with kms:Decrypt; nothing else (getsops/sops kms/keysource.go, MasterKey.Encrypt and
# MasterKey.Decrypt).
ENCRYPT_ACTION: Final = "kms:Encrypt"
DECRYPT_ACTION: Final = "kms:Decrypt"


def sops_key_policy(administrators: Sequence[str], decrypter: str) -> str:
    """The SOPS key's policy: the administrators manage it and encrypt with it; only the decrypter
    (kustomize-controller's role) decrypts. No statement for the account root, so no IAM policy
    elsewhere in the account can grant decryption."""
    principals = sorted(dict.fromkeys(administrators))
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "KeyAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": principals},
                    "Action": list(KEY_ADMINISTRATION_ACTIONS),
                    "Resource": "*",
                },
                {
                    "Sid": "EncryptSecrets",
                    "Effect": "Allow",
                    "Principal": {"AWS": principals},
                    "Action": ENCRYPT_ACTION,
                    "Resource": "*",
                },
                {
                    "Sid": "FluxDecrypts",
                    "Effect": "Allow",
                    "Principal": {"AWS": decrypter},
                    "Action": DECRYPT_ACTION,
                    "Resource": "*",
                },
            ],
        },
        indent=2,
    )


def decrypt_policy(key_arn: str) -> str:
    """kustomize-controller's role: decrypt with this one key, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DecryptSopsSecrets",
                    "Effect": "Allow",
                    "Action": DECRYPT_ACTION,
                    "Resource": key_arn,
                }
            ],
        },
        indent=2,
    )


@dataclass(frozen=True)
class FluxIdentityArgs:
    cluster_name: pulumi.Input[str]
    namespace: str
    """The toolkit namespace, where the controllers' service accounts are."""
    sops: SopsConfig
    ecr: EcrConfig
    key_administrators: tuple[str, ...]
    """The roles that run `pulumi up` (deployer and admin roles): they manage the key and encrypt."""
    alias_name: str
    protect: bool


class FluxIdentity(pulumi.ComponentResource):
    """Declared with the AWS provider and, as a dependency, the Pod Identity agent add-on; the
    toolkit depends on it, so the controllers' pods start with their associations in place (EKS
    sets a pod's credentials when the pod is created)."""

    TYPE_TOKEN: ClassVar[str] = "eks-gitops:flux-identity:FluxIdentity"

    associations: list[eks.PodIdentityAssociation]
    sops_key_arn: pulumi.Output[str] | None
    kustomize_controller_role_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: FluxIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.associations = []
        self.sops_key_arn = None
        self.kustomize_controller_role_arn = None
        if args.sops.enabled:
            role = self._controller_role(name, KUSTOMIZE_CONTROLLER, args, child)
            key_arn = self._sops_key(name, args, role, child)
            iam.RolePolicy(
                f"{name}-{KUSTOMIZE_CONTROLLER}-decrypt",
                role=role.name,
                policy=key_arn.apply(decrypt_policy),
                opts=child,
            )
            self.sops_key_arn = key_arn
            self.kustomize_controller_role_arn = role.arn
        if args.ecr.enabled:
            role = self._controller_role(name, SOURCE_CONTROLLER, args, child)
            iam.RolePolicyAttachment(
                f"{name}-{SOURCE_CONTROLLER}-{policy_resource_name(ECR_READ_ONLY_POLICY)}",
                role=role.name,
                policy_arn=ECR_READ_ONLY_POLICY,
                opts=child,
            )
        self.register_outputs(
            {
                "sopsKeyArn": self.sops_key_arn,
                "kustomizeControllerRoleArn": self.kustomize_controller_role_arn,
            }
        )

    def _controller_role(
        self,
        name: str,
        controller: str,
        args: FluxIdentityArgs,
        opts: pulumi.ResourceOptions,
    ) -> iam.Role:
        """A role only EKS Pod Identity may assume, associated with the controller's service
        account in the toolkit namespace."""
        role = iam.Role(
            f"{name}-{controller}",
            description=f"Flux {controller} through EKS Pod Identity",
            assume_role_policy=assume_role_policy(POD_IDENTITY_SERVICE),
            opts=opts,
        )
        self.associations.append(
            eks.PodIdentityAssociation(
                f"{name}-{controller}",
                cluster_name=args.cluster_name,
                namespace=args.namespace,
                service_account=controller,
                role_arn=role.arn,
                opts=opts,
            )
        )
        return role

    def _sops_key(
        self,
        name: str,
        args: FluxIdentityArgs,
        decrypter: iam.Role,
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Output[str]:
        if args.sops.key_arn is not None:
            return pulumi.Output.from_input(args.sops.key_arn)
        # KMS refuses a policy naming a principal that does not exist yet: the policy takes the
        # role's ARN as an output, so the key waits for the role.
        key = kms.Key(
            f"{name}-sops",
            description="SOPS-encrypted Secrets that Flux decrypts in the cluster",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=decrypter.arn.apply(lambda arn: sops_key_policy(args.key_administrators, arn)),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=args.protect)),
        )
        kms.Alias(f"{name}-sops", name=args.alias_name, target_key_id=key.key_id, opts=opts)
        return key.arn
