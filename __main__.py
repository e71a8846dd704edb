"""eks-gitops: reads the stack's settings and wires the components together. No logic lives here."""

import pulumi
import pulumi_aws as aws

from components import config
from components.cluster import Cluster, ClusterArgs
from components.network import Network, NetworkArgs

loaded = config.load()
settings = loaded.settings

aws_provider = aws.Provider(
    "aws", region=settings.region, default_tags={"tags": dict(settings.tags)}
)
network = Network(
    "network",
    NetworkArgs(
        cluster_name=settings.cluster.name, config=settings.network, aws_provider=aws_provider
    ),
)
cluster = Cluster(
    "cluster",
    ClusterArgs(
        config=settings.cluster, region=settings.region, network=network, aws_provider=aws_provider
    ),
)

pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("endpoint", cluster.endpoint)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("nodeRoleArn", cluster.node_role_arn)
