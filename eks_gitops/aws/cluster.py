"""The EKS cluster: IAM roles, secrets encryption key, control plane, access for the deployer and admin
roles and for the deployer's network, a managed node group with IMDSv2, the OIDC provider for
service-account roles, the EKS add-ons, and the Kubernetes provider every Kubernetes resource of the
program uses."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, TypeVar, cast

import pulumi
from pulumi_aws import ec2, eks, iam, kms, vpc
from pulumi_kubernetes.provider import Provider as KubernetesProvider

from eks_gitops.aws.network import Network
from eks_gitops.policy import LAUNCHED_RESOURCE_TYPES
from eks_gitops.settings.model import EKS_ADDONS, POD_IDENTITY_ADDON, ClusterConfig, NodeGroupConfig

T = TypeVar("T")


def secret(value: pulumi.Output[T]) -> pulumi.Output[T]:
    """`pulumi.Output.secret` for an Output. Its `Input[U]` parameter leaves mypy unable to pick U
    from an Output argument; naming the input type settles it."""
    return pulumi.Output.secret(cast("pulumi.Input[T]", value))


# Exactly the AWS managed policies EKS documents for each role; nothing broader.
CLUSTER_ROLE_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
NODE_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# The cluster's input holding its control-plane subnets, as `ignore_changes` names it.
CLUSTER_SUBNETS_INPUT: Final = "vpcConfig.subnetIds"

EBS_CSI_ADDON: Final = "aws-ebs-csi-driver"
EBS_CSI_DRIVER_POLICY: Final = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
# The service account the add-on's controller runs as; its role trusts exactly this one.
EBS_CSI_SERVICE_ACCOUNT: Final = ("kube-system", "ebs-csi-controller-sa")
# Add-ons that run Deployments: EKS reports them DEGRADED until their pods are scheduled, so they
# are created once the node group is up. The DaemonSet ones (vpc-cni, kube-proxy) are healthy on
# a cluster without nodes and only need the cluster.
ADDONS_ON_NODES: Final = ("coredns", EBS_CSI_ADDON)

ROOT_DEVICE: Final = "/dev/xvda"
# Where each AMI type keeps container images: AL2023 on its root volume; Bottlerocket on a
# separate data volume, its root volume holding only the (small) OS.
_IMAGE_VOLUME_DEVICES: Final = {
    "AL2023_x86_64_STANDARD": ROOT_DEVICE,
    "AL2023_ARM_64_STANDARD": ROOT_DEVICE,
    "BOTTLEROCKET_x86_64": "/dev/xvdb",
    "BOTTLEROCKET_ARM_64": "/dev/xvdb",
}


@dataclass(frozen=True)
class NodeVolume:
    device_name: str
    size_gib: int | None
    """None keeps the size the AMI gives the volume."""


def image_volume_device(ami_type: str) -> str:
    """The device of the volume that holds container images on nodes of this AMI type."""
    try:
        return _IMAGE_VOLUME_DEVICES[ami_type]
    except KeyError:
        raise ValueError(f"no image volume known for AMI type {ami_type}") from None


def node_volumes(ami_type: str, disk_size_gib: int) -> tuple[NodeVolume, ...]:
    """The node volumes the launch template maps: the image volume at the configured size, and
    the root volume (at the AMI's size) where that is a different one, so every volume is mapped
    and so encrypted."""
    images = image_volume_device(ami_type)
    sized = NodeVolume(images, disk_size_gib)
    return (sized,) if images == ROOT_DEVICE else (NodeVolume(ROOT_DEVICE, None), sized)


def node_group_name(
    name: str, cluster_name: str, subnet_placement: Sequence[str], nodes: NodeGroupConfig
) -> str:
    """The node group's resource name: `name` and a digest of every setting that EKS can only apply
    to a node group by replacing it (terraform-provider-aws internal/service/eks/node_group.go:
    cluster_name, node_group_name_prefix, subnet_ids, instance_types, capacity_type and ami_type are
    ForceNew). A change of any of them names a new group: Pulumi creates it and waits until EKS
    reports it ACTIVE, moves what depends on nodes over to it, and deletes the old group, drained,
    at the end of the update. Everything else about the nodes (sizes, Kubernetes version, the launch
    template's disk size and metadata options) is updated in place by EKS's own rolling update."""
    replaced_on = {
        "clusterName": cluster_name,
        # subnet_ids is a set to the provider: the order of the subnets replaces nothing.
        "subnets": sorted(subnet_placement),
        "instanceTypes": list(nodes.instance_types),
        "capacityType": nodes.capacity_type,
        "amiType": nodes.ami_type,
    }
    digest = hashlib.sha256(json.dumps(replaced_on, sort_keys=True).encode()).hexdigest()[:8]
    return f"{name}-{digest}"


@dataclass(frozen=True)
class AdminAccess:
    """One cluster-admin access entry: its principal, the resource name derived from that principal
    alone, and the names the same grant had when entries were named by list position."""

    principal_arn: str
    name: str
    former_names: tuple[str, ...]


def access_entry_name(principal_arn: str) -> str:
    """A resource name that follows the principal, not its place in a list or who runs Pulumi."""
    return "access-" + hashlib.sha256(principal_arn.encode()).hexdigest()[:12]


def admin_access(deployer_role_arn: str, admin_role_arns: Sequence[str]) -> list[AdminAccess]:
    """The deployer and the admin roles, each principal once (EKS takes one access entry per
    principal), with the position-based names their entries had before: `deployer`, `admin-<i>`."""
    former: dict[str, list[str]] = {deployer_role_arn: ["deployer"]}
    for index, arn in enumerate(admin_role_arns):
        former.setdefault(arn, []).append(f"admin-{index}")
    return [AdminAccess(arn, access_entry_name(arn), tuple(names)) for arn, names in former.items()]


def assume_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        }
    )


def web_identity_policy(
    provider_arn: str, issuer_url: str, namespace: str, service_account: str
) -> str:
    """Trust for one Kubernetes service account through the cluster's OIDC provider (IRSA)."""
    issuer = issuer_url.removeprefix("https://")
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer}:aud": "sts.amazonaws.com",
                            f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        }
                    },
                }
            ],
        }
    )


def policy_resource_name(policy_arn: str) -> str:
    return policy_arn.rsplit("/", 1)[-1]


def render_kubeconfig(cluster_name: str, endpoint: str, certificate_data: str, region: str) -> str:
    """A kubeconfig that authenticates through `aws eks get-token`, so no long-lived token is stored."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {"server": endpoint, "certificate-authority-data": certificate_data},
                }
            ],
            "contexts": [
                {"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}
            ],
            "current-context": cluster_name,
            "users": [
                {
                    "name": cluster_name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                "eks",
                                "get-token",
                                "--cluster-name",
                                cluster_name,
                                "--region",
                                region,
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        },
        indent=2,
        sort_keys=True,
    )


def _oidc_issuer(identities: Sequence[eks.outputs.ClusterIdentity]) -> str:
    issuers = [
        oidc.issuer for identity in identities for oidc in identity.oidcs or () if oidc.issuer
    ]
    if not issuers:
        raise pulumi.RunError("the EKS cluster reports no OIDC issuer")
    return issuers[0]


def _cluster_security_group(vpc_config: eks.outputs.ClusterVpcConfig) -> str:
    if not vpc_config.cluster_security_group_id:
        raise pulumi.RunError("the EKS cluster reports no cluster security group")
    return vpc_config.cluster_security_group_id


@dataclass(frozen=True)
class ClusterArgs:
    config: ClusterConfig
    region: str
    network: Network
    tags: Mapping[str, str]
    """The stack's tags, for what the node group launches (provider default tags do not reach it)."""


class Cluster(pulumi.ComponentResource):
    TYPE_TOKEN: ClassVar[str] = "eks-gitops:cluster:Cluster"

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    kubernetes_provider: KubernetesProvider
    node_group: eks.NodeGroup
    pod_identity_agent: eks.Addon
    """What Pod Identity associations need to hand their roles' credentials to pods."""

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        config = args.config
        opts_aws = pulumi.ResourceOptions(parent=self)
        protected = pulumi.ResourceOptions.merge(
            opts_aws, pulumi.ResourceOptions(protect=config.protect)
        )

        cluster_role = self._role(
            f"{name}-cluster",
            assume_role_policy("eks.amazonaws.com"),
            CLUSTER_ROLE_POLICIES,
            opts_aws,
        )
        node_role = self._role(
            f"{name}-node", assume_role_policy("ec2.amazonaws.com"), NODE_ROLE_POLICIES, opts_aws
        )

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
                protected,
                pulumi.ResourceOptions(
                    depends_on=cluster_role.attachments,
                    # The control plane keeps the subnets it was created with: EKS takes new
                    # cluster subnets only in the zones the cluster was created in, so an appended
                    # zone would fail the update. Nodes and load balancers use any subnet of the VPC.
                    ignore_changes=[CLUSTER_SUBNETS_INPUT],
                ),
            ),
        )

        admin_grants = self._grant_admins(name, config, cluster, opts_aws)
        runner_access = self._admit_runner(name, config, cluster, opts_aws)

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
                    device_name=volume.device_name,
                    ebs=ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=volume.size_gib,
                        volume_type="gp3",
                        # The provider's schema has this one as a string.
                        encrypted="true",
                    ),
                )
                for volume in node_volumes(config.nodes.ami_type, config.nodes.disk_size_gib)
            ],
            tag_specifications=[
                ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=dict(args.tags))
                for kind in LAUNCHED_RESOURCE_TYPES
            ],
            update_default_version=True,
            opts=opts_aws,
        )
        self.node_group = eks.NodeGroup(
            node_group_name(
                f"{name}-nodes", config.name, args.network.private_subnet_placement, config.nodes
            ),
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
            # Not protected: a roll deletes the old group, and a protected resource cannot be
            # deleted. Both groups share the node role, so its access entry stays while the old
            # group drains (EKS removes a node role's access only with its last managed node group).
            opts=pulumi.ResourceOptions.merge(
                opts_aws,
                pulumi.ResourceOptions(
                    # Nodes in private subnets join the cluster and pull images through the NAT
                    # routes: the whole network must be in place before the group is created.
                    depends_on=[*node_role.attachments, args.network],
                    # The group's name before it followed its replacement-forcing settings: a
                    # stack created then adopts its group under the new name instead of replacing it.
                    aliases=[pulumi.Alias(name=f"{name}-nodes")],
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
        addons = self._addons(
            name, config=config, cluster=cluster, oidc=oidc, issuer=issuer, opts=opts_aws
        )
        self.pod_identity_agent = addons[POD_IDENTITY_ADDON]

        kubeconfig = secret(
            pulumi.Output.all(
                cluster.name,
                cluster.endpoint,
                cluster.certificate_authority.data,
            ).apply(lambda values: render_kubeconfig(values[0], values[1], values[2], args.region))
        )
        # Kubernetes objects are only applied once the deployer is allowed into the cluster and its
        # runner can reach the endpoint, and they are deleted while both still hold.
        self.kubernetes_provider = KubernetesProvider(
            f"{name}-kubernetes",
            kubeconfig=kubeconfig,
            delete_unreachable=False,
            # Without it the provider replaces a Secret whose data changes, and a named Secret is
            # deleted before it is recreated: Flux would find no SSH key (or app credentials) for a
            # moment. With it, a key rotation updates the Secret in place.
            enable_secret_mutable=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*admin_grants, *runner_access]),
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
        self,
        name: str,
        trust_policy: pulumi.Input[str],
        policies: tuple[str, ...],
        opts: pulumi.ResourceOptions,
    ) -> _RoleWithPolicies:
        role = iam.Role(name, assume_role_policy=trust_policy, opts=opts)
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

    def _addons(
        self,
        name: str,
        *,
        config: ClusterConfig,
        cluster: eks.Cluster,
        oidc: iam.OpenIdConnectProvider,
        issuer: pulumi.Output[str],
        opts: pulumi.ResourceOptions,
    ) -> dict[str, eks.Addon]:
        """The EKS add-ons at the versions the stack pins, so a Kubernetes upgrade moves them too.

        OVERWRITE on create adopts the copies EKS installs itself with a new cluster; on update it
        resets fields EKS manages to the declared (default) configuration, so a version change
        cannot stall on an edit made in the cluster. `preserve` leaves the add-on's workloads
        running when the add-on is deleted: the network, DNS and storage of a cluster being torn
        down stay up until its nodes are gone, whatever order the engine deletes things in."""
        namespace, service_account = EBS_CSI_SERVICE_ACCOUNT
        ebs_csi_role = self._role(
            f"{name}-ebs-csi",
            pulumi.Output.all(oidc.arn, issuer).apply(
                lambda values: web_identity_policy(values[0], values[1], namespace, service_account)
            ),
            (EBS_CSI_DRIVER_POLICY,),
            opts,
        )
        service_roles = {EBS_CSI_ADDON: ebs_csi_role}
        addons = {}
        for addon in EKS_ADDONS:
            role = service_roles.get(addon)
            addons[addon] = eks.Addon(
                f"{name}-{addon}",
                cluster_name=cluster.name,
                addon_name=addon,
                addon_version=config.addons[addon],
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                preserve=True,
                service_account_role_arn=role.role.arn if role else None,
                opts=pulumi.ResourceOptions.merge(
                    opts,
                    pulumi.ResourceOptions(
                        depends_on=[
                            *(role.attachments if role else ()),
                            *((self.node_group,) if addon in ADDONS_ON_NODES else ()),
                        ]
                    ),
                ),
            )
        return addons

    def _grant_admins(
        self,
        name: str,
        config: ClusterConfig,
        cluster: eks.Cluster,
        opts: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        """Cluster-admin access entries for the configured deployer and admin roles, named by
        principal: who happens to run `pulumi up` changes nothing, and neither does list order."""
        grants: list[pulumi.Resource] = []
        for access in admin_access(config.deployer_role_arn, config.admin_role_arns):
            named = pulumi.ResourceOptions.merge(
                opts,
                pulumi.ResourceOptions(
                    aliases=[pulumi.Alias(name=f"{name}-{old}") for old in access.former_names]
                ),
            )
            entry = eks.AccessEntry(
                f"{name}-{access.name}",
                cluster_name=cluster.name,
                principal_arn=access.principal_arn,
                opts=named,
            )
            grants.append(
                eks.AccessPolicyAssociation(
                    f"{name}-{access.name}",
                    cluster_name=cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=CLUSTER_ADMIN_POLICY,
                    access_scope=eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=named,
                )
            )
        return grants

    def _admit_runner(
        self,
        name: str,
        config: ClusterConfig,
        cluster: eks.Cluster,
        opts: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        """HTTPS from the runner's network into the cluster security group, the one group EKS puts
        on the private endpoint's network interfaces; by default it admits only itself."""
        group = cluster.vpc_config.apply(_cluster_security_group)
        sources = [
            *((cidr, True) for cidr in config.private_access_cidrs),
            *((source, False) for source in config.private_access_security_group_ids),
        ]
        return [
            vpc.SecurityGroupIngressRule(
                f"{name}-api-from-{source}",
                security_group_id=group,
                cidr_ipv4=source if is_cidr else None,
                referenced_security_group_id=None if is_cidr else source,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="Kubernetes API from the pulumi up runner",
                opts=opts,
            )
            for source, is_cidr in sources
        ]


@dataclass(frozen=True)
class _RoleWithPolicies:
    role: iam.Role
    attachments: list[iam.RolePolicyAttachment]
