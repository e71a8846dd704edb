"""The EKS cluster: IAM roles, secrets encryption key, control plane, access for the deploying identity,
a managed node group with IMDSv2, the OIDC provider for service-account roles, and the Kubernetes
provider every Kubernetes resource of the program uses."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pulumi_aws.iam.get_session_context import get_session_context

from components.network import Network
from components.outputs import secret
from components.schema_resources import SchemaResource, aws_resource
from settings.model import ClusterConfig

# Exactly the AWS managed policies EKS documents for each role; nothing broader.
CLUSTER_ROLE_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
NODE_ROLE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)
CLUSTER_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


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


@dataclass(frozen=True)
class ClusterArgs:
    config: ClusterConfig
    region: str
    network: Network
    aws_provider: aws.Provider


class Cluster(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    kubernetes_provider: k8s.Provider
    node_group: SchemaResource

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

        secrets_key = aws_resource(
            "kms",
            "Key",
            f"{name}-secrets",
            {
                "description": f"Envelope encryption of Kubernetes secrets in EKS cluster {config.name}",
                "enableKeyRotation": True,
                "deletionWindowInDays": 30,
            },
            protected,
            outputs=["arn", "keyId"],
        )
        aws_resource(
            "kms",
            "Alias",
            f"{name}-secrets",
            {"name": f"alias/{config.name}-secrets", "targetKeyId": secrets_key.output("keyId")},
            opts_aws,
        )

        cluster = aws_resource(
            "eks",
            "Cluster",
            name,
            {
                "name": config.name,
                "version": config.kubernetes_version,
                "roleArn": cluster_role.role.output("arn"),
                "vpcConfig": {
                    "subnetIds": pulumi.Output.all(
                        args.network.private_subnet_ids, args.network.public_subnet_ids
                    ).apply(lambda ids: [*ids[0], *ids[1]]),
                    "endpointPrivateAccess": True,
                    "endpointPublicAccess": config.endpoint_public_access,
                    "publicAccessCidrs": list(config.public_access_cidrs) or None,
                },
                "enabledClusterLogTypes": list(config.log_types),
                "encryptionConfig": {
                    "provider": {"keyArn": secrets_key.output("arn")},
                    "resources": ["secrets"],
                },
                "accessConfig": {
                    "authenticationMode": "API",
                    "bootstrapClusterCreatorAdminPermissions": False,
                },
            },
            pulumi.ResourceOptions.merge(
                protected, pulumi.ResourceOptions(depends_on=cluster_role.attachments)
            ),
            outputs=["endpoint", "certificateAuthority", "identities"],
        )

        admin_grants = self._grant_admins(name, config, cluster, opts_aws)

        launch_template = aws_resource(
            "ec2",
            "LaunchTemplate",
            f"{name}-nodes",
            {
                "description": f"Nodes of EKS cluster {config.name}",
                "metadataOptions": {
                    "httpEndpoint": "enabled",
                    "httpTokens": "required",
                    "httpPutResponseHopLimit": config.nodes.metadata_hop_limit,
                },
                "blockDeviceMappings": [
                    {
                        "deviceName": "/dev/xvda",
                        "ebs": {
                            "volumeSize": config.nodes.disk_size_gib,
                            "volumeType": "gp3",
                            "encrypted": "true",
                        },
                    }
                ],
                "updateDefaultVersion": True,
            },
            opts_aws,
            outputs=["latestVersion"],
        )
        self.node_group = aws_resource(
            "eks",
            "NodeGroup",
            f"{name}-nodes",
            {
                "clusterName": cluster.output("name"),
                "nodeGroupNamePrefix": f"{config.name}-",
                "nodeRoleArn": node_role.role.output("arn"),
                "subnetIds": args.network.private_subnet_ids,
                "version": config.kubernetes_version,
                "instanceTypes": list(config.nodes.instance_types),
                "capacityType": config.nodes.capacity_type,
                "amiType": config.nodes.ami_type,
                "scalingConfig": {
                    "minSize": config.nodes.min_size,
                    "desiredSize": config.nodes.desired_size,
                    "maxSize": config.nodes.max_size,
                },
                "updateConfig": {"maxUnavailable": 1},
                "launchTemplate": {
                    "id": launch_template.id,
                    # The engine hands numbers over as floats; "1.0" is not a template version.
                    "version": launch_template.output("latestVersion").apply(
                        lambda version: str(int(version))
                    ),
                },
            },
            pulumi.ResourceOptions.merge(
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

        issuer = cluster.output("identities").apply(
            lambda identities: identities[0]["oidcs"][0]["issuer"]
        )
        # IAM trusts the EKS issuer's certificate chain itself, so no thumbprint is pinned.
        oidc = aws_resource(
            "iam",
            "OpenIdConnectProvider",
            f"{name}-oidc",
            {"url": issuer, "clientIdLists": ["sts.amazonaws.com"]},
            opts_aws,
            outputs=["arn"],
        )

        kubeconfig = secret(
            pulumi.Output.all(
                cluster.output("name"),
                cluster.output("endpoint"),
                cluster.output("certificateAuthority").apply(lambda authority: authority["data"]),
            ).apply(lambda values: render_kubeconfig(values[0], values[1], values[2], args.region))
        )
        # Kubernetes objects are only applied once someone is allowed into the cluster, and they
        # are deleted while that access still exists.
        self.kubernetes_provider = k8s.Provider(
            f"{name}-kubernetes",
            kubeconfig=kubeconfig,
            delete_unreachable=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=admin_grants),
        )
        self.cluster_name = cluster.output("name")
        self.endpoint = cluster.output("endpoint")
        self.kubeconfig = kubeconfig
        self.oidc_provider_arn = oidc.output("arn")
        self.node_role_arn = node_role.role.output("arn")
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
        role = aws_resource(
            "iam",
            "Role",
            name,
            {"assumeRolePolicy": assume_role_policy(service)},
            opts,
            outputs=["arn", "name"],
        )
        attachments = [
            aws_resource(
                "iam",
                "RolePolicyAttachment",
                f"{name}-{policy_resource_name(policy)}",
                {"role": role.output("name"), "policyArn": policy},
                opts,
            )
            for policy in policies
        ]
        return _RoleWithPolicies(role, attachments)

    def _grant_admins(
        self,
        name: str,
        config: ClusterConfig,
        cluster: SchemaResource,
        opts: pulumi.ResourceOptions,
    ) -> list[pulumi.Resource]:
        """Cluster-admin access entries for the identity running Pulumi and the configured roles.

        An assumed-role session ARN is not a valid principal; its issuing role is."""
        caller = aws.get_caller_identity(
            opts=pulumi.InvokeOptions(parent=self, provider=opts.provider)
        )
        deployer = get_session_context(
            arn=caller.arn, opts=pulumi.InvokeOptions(parent=self, provider=opts.provider)
        ).issuer_arn
        grants: list[pulumi.Resource] = []
        principals = {
            "deployer": deployer,
            **{f"admin-{i}": arn for i, arn in enumerate(config.admin_role_arns)},
        }
        for label, principal in principals.items():
            entry = aws_resource(
                "eks",
                "AccessEntry",
                f"{name}-{label}",
                {"clusterName": cluster.output("name"), "principalArn": principal},
                opts,
            )
            grants.append(
                aws_resource(
                    "eks",
                    "AccessPolicyAssociation",
                    f"{name}-{label}",
                    {
                        "clusterName": cluster.output("name"),
                        "principalArn": entry.output("principalArn"),
                        "policyArn": CLUSTER_ADMIN_POLICY,
                        "accessScope": {"type": "cluster"},
                    },
                    opts,
                )
            )
        return grants


@dataclass(frozen=True)
class _RoleWithPolicies:
    role: SchemaResource
    attachments: list[SchemaResource]
