"""The EKS cluster: IAM roles, secrets encryption key, control plane, access for the deploying identity,
a managed node group with IMDSv2, the OIDC provider for service-account roles, and the Kubernetes
provider every Kubernetes resource of the program uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_aws import ec2, eks, iam, kms
from pulumi_aws.get_caller_identity import get_caller_identity
from pulumi_aws.iam.get_session_context import get_session_context
from pulumi_aws.provider import Provider as AwsProvider
from pulumi_kubernetes.provider import Provider as KubernetesProvider

from blueprints.cluster import (
    CLUSTER_ADMIN_POLICY,
    CLUSTER_ROLE_POLICIES,
    NODE_ROLE_POLICIES,
    assume_role_policy,
    policy_resource_name,
    render_kubeconfig,
)
from components.network import Network
from settings.model import ClusterConfig
from typed_outputs import secret


def _oidc_issuer(identities: Sequence[eks.outputs.ClusterIdentity]) -> str:
    issuers = [
        oidc.issuer for identity in identities for oidc in identity.oidcs or () if oidc.issuer
    ]
    if not issuers:
        raise pulumi.RunError("the EKS cluster reports no OIDC issuer")
    return issuers[0]


@dataclass(frozen=True)
class ClusterArgs:
    config: ClusterConfig
    region: str
    network: Network
    aws_provider: AwsProvider


class Cluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    kubernetes_provider: KubernetesProvider
    node_group: eks.NodeGroup

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:cluster:Cluster", name, None, opts)
        config = args.config
        opts_aws = pulumi.ResourceOptions(parent=self, provider=args.aws_provider)
        protected = pulumi.ResourceOptions.merge(
            opts_aws, pulumi.ResourceOptions(protect=config.protect)
        )

        cluster_role = self._role(
            f"{name}-cluster", "eks.amazonaws.com", CLUSTER_ROLE_POLICIES, opts_aws
        )
        node_role = self._role(f"{name}-node", "ec2.amazonaws.com", NODE_ROLE_POLICIES, opts_aws)

        secrets_key = kms.Key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes secrets in EKS cluster {config.name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            opts=protected,
        )
        kms.Alias(
            f"{name}-secrets",
            name=f"alias/{config.name}-secrets",
            target_key_id=secrets_key.key_id,
            opts=opts_aws,
        )

        cluster = eks.Cluster(
            name,
            name=config.name,
            version=config.kubernetes_version,
            role_arn=cluster_role.role.arn,
            vpc_config=eks.ClusterVpcConfigArgs(
                subnet_ids=pulumi.Output.all(
                    args.network.private_subnet_ids, args.network.public_subnet_ids
                ).apply(lambda ids: [*ids[0], *ids[1]]),
                endpoint_private_access=True,
                endpoint_public_access=config.endpoint_public_access,
                public_access_cidrs=list(config.public_access_cidrs) or None,
            ),
            enabled_cluster_log_types=list(config.log_types),
            encryption_config=eks.ClusterEncryptionConfigArgs(
                provider=eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn),
                resources=["secrets"],
            ),
            access_config=eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            opts=pulumi.ResourceOptions.merge(
                protected, pulumi.ResourceOptions(depends_on=cluster_role.attachments)
            ),
        )

        admin_grants = self._grant_admins(name, config, cluster, opts_aws)

        launch_template = ec2.LaunchTemplate(
            f"{name}-nodes",
            description=f"Nodes of EKS cluster {config.name}",
            metadata_options=ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=config.nodes.metadata_hop_limit,
            ),
            block_device_mappings=[
                ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=config.nodes.disk_size_gib,
                        volume_type="gp3",
                        # The provider's schema has this one as a string.
                        encrypted="true",
                    ),
                )
            ],
            update_default_version=True,
            opts=opts_aws,
        )
        self.node_group = eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=cluster.name,
            node_group_name_prefix=f"{config.name}-",
            node_role_arn=node_role.role.arn,
            subnet_ids=args.network.private_subnet_ids,
            version=config.kubernetes_version,
            instance_types=list(config.nodes.instance_types),
            capacity_type=config.nodes.capacity_type,
            ami_type=config.nodes.ami_type,
            scaling_config=eks.NodeGroupScalingConfigArgs(
                min_size=config.nodes.min_size,
                desired_size=config.nodes.desired_size,
                max_size=config.nodes.max_size,
            ),
            update_config=eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            launch_template=eks.NodeGroupLaunchTemplateArgs(
                id=launch_template.id,
                version=launch_template.latest_version.apply(str),
            ),
            opts=pulumi.ResourceOptions.merge(
                protected,
                pulumi.ResourceOptions(
                    # Nodes in private subnets join the cluster and pull images through the NAT
                    # routes: the whole network must be in place before the group is created.
                    depends_on=[*node_role.attachments, args.network],
                    # A cluster autoscaler owns the running count; Pulumi owns the bounds.
                    ignore_changes=["scalingConfig.desiredSize"],
                ),
            ),
        )

        issuer = cluster.identities.apply(_oidc_issuer)
        # IAM trusts the EKS issuer's certificate chain itself, so no thumbprint is pinned.
        oidc = iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer,
            client_id_lists=["sts.amazonaws.com"],
            opts=opts_aws,
        )

        kubeconfig = secret(
            pulumi.Output.all(
                cluster.name,
                cluster.endpoint,
                cluster.certificate_authority.data,
            ).apply(lambda values: render_kubeconfig(values[0], values[1], values[2], args.region))
        )
        # Kubernetes objects are only applied once someone is allowed into the cluster, and they
        # are deleted while that access still exists.
        self.kubernetes_provider = KubernetesProvider(
            f"{name}-kubernetes",
            kubeconfig=kubeconfig,
            delete_unreachable=False,
            # Without it the provider replaces a Secret whose data changes, and a named Secret is
            # deleted before it is recreated: Flux would find no SSH key (or app credentials) for a
            # moment. With it, a key rotation updates the Secret in place.
            enable_secret_mutable=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=admin_grants),
        )
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.kubeconfig = kubeconfig
        self.oidc_provider_arn = oidc.arn
        self.node_role_arn = node_role.role.arn
        self.register_outputs(
            {
                "clusterName": self.cluster_name,
                "endpoint": self.endpoint,
                "kubeconfig": self.kubeconfig,
                "oidcProviderArn": self.oidc_provider_arn,
                "nodeRoleArn": self.node_role_arn,
            }
        )

    def _role(
        self, name: str, service: str, policies: tuple[str, ...], opts: pulumi.ResourceOptions
    ) -> _RoleWithPolicies:
        role = iam.Role(name, assume_role_policy=assume_role_policy(service), opts=opts)
        attachments = [
            iam.RolePolicyAttachment(
                f"{name}-{policy_resource_name(policy)}",
                role=role.name,
                policy_arn=policy,
                opts=opts,
            )
            for policy in policies
        ]
        return _RoleWithPolicies(role, attachments)

    def _grant_admins(
        self,
        name: str,
        config: ClusterConfig,
        cluster: eks.Cluster,
        opts: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        """Cluster-admin access entries for the identity running Pulumi and the configured roles.

        An assumed-role session ARN is not a valid principal; its issuing role is."""
        caller = get_caller_identity(opts=pulumi.InvokeOptions(parent=self, provider=opts.provider))
        deployer = get_session_context(
            arn=caller.arn, opts=pulumi.InvokeOptions(parent=self, provider=opts.provider)
        ).issuer_arn
        grants: list[pulumi.Resource] = []
        principals = {
            "deployer": deployer,
            **{f"admin-{i}": arn for i, arn in enumerate(config.admin_role_arns)},
        }
        for label, principal in principals.items():
            entry = eks.AccessEntry(
                f"{name}-{label}", cluster_name=cluster.name, principal_arn=principal, opts=opts
            )
            grants.append(
                eks.AccessPolicyAssociation(
                    f"{name}-{label}",
                    cluster_name=cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=CLUSTER_ADMIN_POLICY,
                    access_scope=eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=opts,
                )
            )
        return grants


@dataclass(frozen=True)
class _RoleWithPolicies:
    role: iam.Role
    attachments: list[iam.RolePolicyAttachment]
