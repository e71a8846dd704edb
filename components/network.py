"""The VPC the cluster runs in: public and private subnets across zones, NAT, routes, and the subnet
tags AWS load balancer controllers look for. With existing subnets in config, nothing is created.
EC2 resources are declared by type token (components/schema_resources.py says why)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.schema_resources import SchemaResource, aws_resource
from settings.model import NetworkConfig

# Private subnets get the first half of the VPC, public ones the second; each half is cut into eight
# equal blocks so that up to six zones fit and a zone can be added without renumbering the others.
_BLOCKS_PER_HALF = 8


@dataclass(frozen=True)
class SubnetPlan:
    zone_index: int
    private_cidr: str
    public_cidr: str


def plan_subnets(vpc_cidr: str, zones: int) -> list[SubnetPlan]:
    network = ipaddress.IPv4Network(vpc_cidr)
    private_half, public_half = network.subnets(prefixlen_diff=1)
    extra_bits = _BLOCKS_PER_HALF.bit_length() - 1
    private_blocks = list(private_half.subnets(prefixlen_diff=extra_bits))
    public_blocks = list(public_half.subnets(prefixlen_diff=extra_bits))
    if zones > len(private_blocks):
        raise ValueError(f"{vpc_cidr} fits {len(private_blocks)} zones, not {zones}")
    return [SubnetPlan(i, str(private_blocks[i]), str(public_blocks[i])) for i in range(zones)]


def subnet_tags(cluster_name: str, public: bool) -> dict[str, str]:
    role = "kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"
    return {
        role: "1",
        f"kubernetes.io/cluster/{cluster_name}": "shared",
        "Name": f"{cluster_name}-{'public' if public else 'private'}",
    }


@dataclass(frozen=True)
class NetworkArgs:
    cluster_name: str
    config: NetworkConfig
    aws_provider: aws.Provider


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    zone_count: int

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("eks-gitops:network:Network", name, None, opts)
        existing = args.config.existing
        if existing is not None:
            self.vpc_id = pulumi.Output.from_input(existing.vpc_id)
            self.private_subnet_ids = pulumi.Output.from_input(list(existing.private_subnet_ids))
            self.public_subnet_ids = pulumi.Output.from_input(list(existing.public_subnet_ids))
            self.zone_count = len(existing.private_subnet_ids)
        else:
            self._create(name, args)
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
            }
        )

    def _create(self, name: str, args: NetworkArgs) -> None:
        opts = pulumi.ResourceOptions(parent=self, provider=args.aws_provider)
        invoke_opts = pulumi.InvokeOptions(parent=self, provider=args.aws_provider)
        zones = aws.get_availability_zones(state="available", opts=invoke_opts).names[
            : args.config.availability_zones
        ]
        if len(zones) < args.config.availability_zones:
            raise pulumi.RunError(
                f"config error: network.availabilityZones asks for {args.config.availability_zones} "
                f"zones; the region has {len(zones)}"
            )
        cluster = args.cluster_name

        def ec2(
            resource: str,
            resource_name: str,
            inputs: dict[str, Any],
            depends_on: Sequence[pulumi.Resource] = (),
        ) -> SchemaResource:
            return aws_resource(
                "ec2",
                resource,
                resource_name,
                inputs,
                pulumi.ResourceOptions.merge(
                    opts, pulumi.ResourceOptions(depends_on=list(depends_on))
                ),
            )

        vpc = ec2(
            "Vpc",
            f"{name}-vpc",
            {
                "cidrBlock": args.config.vpc_cidr,
                "enableDnsHostnames": True,
                "enableDnsSupport": True,
                "tags": {"Name": cluster},
            },
        )
        gateway = ec2(
            "InternetGateway", f"{name}-igw", {"vpcId": vpc.id, "tags": {"Name": cluster}}
        )
        public_routes = ec2(
            "RouteTable",
            f"{name}-public",
            {
                "vpcId": vpc.id,
                "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": gateway.id}],
                "tags": {"Name": f"{cluster}-public"},
            },
        )
        public_subnets: list[SchemaResource] = []
        private_subnets: list[SchemaResource] = []
        nat_gateways: list[SchemaResource] = []
        for plan, zone in zip(plan_subnets(args.config.vpc_cidr, len(zones)), zones, strict=True):
            public = ec2(
                "Subnet",
                f"{name}-public-{plan.zone_index}",
                {
                    "vpcId": vpc.id,
                    "cidrBlock": plan.public_cidr,
                    "availabilityZone": zone,
                    "mapPublicIpOnLaunch": False,
                    "tags": subnet_tags(cluster, public=True),
                },
            )
            ec2(
                "RouteTableAssociation",
                f"{name}-public-{plan.zone_index}",
                {"subnetId": public.id, "routeTableId": public_routes.id},
            )
            public_subnets.append(public)
            # One NAT gateway per zone keeps a zone outage from cutting the others off the
            # internet; a single one is the cheaper choice for short-lived clusters.
            if not args.config.single_nat_gateway or not nat_gateways:
                address = ec2("Eip", f"{name}-nat-{plan.zone_index}", {"domain": "vpc"})
                nat_gateways.append(
                    ec2(
                        "NatGateway",
                        f"{name}-nat-{plan.zone_index}",
                        {
                            "allocationId": address.id,
                            "subnetId": public.id,
                            "tags": {"Name": f"{cluster}-{zone}"},
                        },
                        depends_on=[gateway],
                    )
                )
            private = ec2(
                "Subnet",
                f"{name}-private-{plan.zone_index}",
                {
                    "vpcId": vpc.id,
                    "cidrBlock": plan.private_cidr,
                    "availabilityZone": zone,
                    "tags": subnet_tags(cluster, public=False),
                },
            )
            private_routes = ec2(
                "RouteTable",
                f"{name}-private-{plan.zone_index}",
                {
                    "vpcId": vpc.id,
                    "routes": [{"cidrBlock": "0.0.0.0/0", "natGatewayId": nat_gateways[-1].id}],
                    "tags": {"Name": f"{cluster}-private-{zone}"},
                },
            )
            ec2(
                "RouteTableAssociation",
                f"{name}-private-{plan.zone_index}",
                {"subnetId": private.id, "routeTableId": private_routes.id},
            )
            private_subnets.append(private)
        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in public_subnets])
        self.zone_count = len(zones)
