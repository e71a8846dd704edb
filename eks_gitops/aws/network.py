"""The VPC the cluster runs in: public and private subnets across zones, NAT, routes, and the subnet
tags AWS load balancer controllers look for. With existing subnets in config, nothing is created."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar

import pulumi
from pulumi_aws import ec2
from pulumi_aws.get_availability_zones import get_availability_zones

from eks_gitops.settings.model import PROJECT, ConfigError, NetworkConfig

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


class Network(pulumi.ComponentResource):
    TYPE_TOKEN: ClassVar[str] = "eks-gitops:network:Network"

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]
    zone_count: int
    private_subnet_placement: tuple[str, ...]
    """What decides the private subnets' ids, known before anything exists: each created subnet's
    zone and CIDR (a change of either replaces the subnet), or the existing subnets' ids."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        existing = args.config.existing
        if existing is not None:
            self.vpc_id = pulumi.Output.from_input(existing.vpc_id)
            self.private_subnet_ids = pulumi.Output.from_input(list(existing.private_subnet_ids))
            self.public_subnet_ids = pulumi.Output.from_input(list(existing.public_subnet_ids))
            self.zone_count = len(existing.private_subnet_ids)
            self.private_subnet_placement = existing.private_subnet_ids
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
        opts = pulumi.ResourceOptions(parent=self)
        invoke_opts = pulumi.InvokeOptions(parent=self)
        zones = args.config.availability_zones
        # A check only: the stack file names the zones. Without a state filter the lookup lists
        # every zone of the region, so an impaired zone still passes instead of failing the run.
        known = get_availability_zones(opts=invoke_opts).names
        unknown = [zone for zone in zones if zone not in known]
        if unknown:
            raise ConfigError(
                f"{PROJECT}:network.availabilityZones",
                list(zones),
                f"zones of this account's region; {', '.join(unknown)} is not among {known}",
            )
        cluster = args.cluster_name

        vpc = ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.config.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": cluster},
            opts=opts,
        )
        gateway = ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={"Name": cluster}, opts=opts
        )
        public_routes = ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags={"Name": f"{cluster}-public"},
            opts=opts,
        )
        public_subnets: list[ec2.Subnet] = []
        private_subnets: list[ec2.Subnet] = []
        nat_gateways: list[ec2.NatGateway] = []
        subnet_plans = plan_subnets(args.config.vpc_cidr, len(zones))
        for plan, zone in zip(subnet_plans, zones, strict=True):
            public = ec2.Subnet(
                f"{name}-public-{plan.zone_index}",
                vpc_id=vpc.id,
                cidr_block=plan.public_cidr,
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags=subnet_tags(cluster, public=True),
                opts=opts,
            )
            ec2.RouteTableAssociation(
                f"{name}-public-{plan.zone_index}",
                subnet_id=public.id,
                route_table_id=public_routes.id,
                opts=opts,
            )
            public_subnets.append(public)
            # One NAT gateway per zone keeps a zone outage from cutting the others off the
            # internet; a single one is the cheaper choice for short-lived clusters.
            if not args.config.single_nat_gateway or not nat_gateways:
                address = ec2.Eip(f"{name}-nat-{plan.zone_index}", domain="vpc", opts=opts)
                nat_gateways.append(
                    ec2.NatGateway(
                        f"{name}-nat-{plan.zone_index}",
                        allocation_id=address.id,
                        subnet_id=public.id,
                        tags={"Name": f"{cluster}-{zone}"},
                        opts=pulumi.ResourceOptions.merge(
                            opts, pulumi.ResourceOptions(depends_on=[gateway])
                        ),
                    )
                )
            private = ec2.Subnet(
                f"{name}-private-{plan.zone_index}",
                vpc_id=vpc.id,
                cidr_block=plan.private_cidr,
                availability_zone=zone,
                tags=subnet_tags(cluster, public=False),
                opts=opts,
            )
            private_routes = ec2.RouteTable(
                f"{name}-private-{plan.zone_index}",
                vpc_id=vpc.id,
                routes=[
                    ec2.RouteTableRouteArgs(
                        cidr_block="0.0.0.0/0", nat_gateway_id=nat_gateways[-1].id
                    )
                ],
                tags={"Name": f"{cluster}-private-{zone}"},
                opts=opts,
            )
            ec2.RouteTableAssociation(
                f"{name}-private-{plan.zone_index}",
                subnet_id=private.id,
                route_table_id=private_routes.id,
                opts=opts,
            )
            private_subnets.append(private)
        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in public_subnets])
        self.zone_count = len(zones)
        self.private_subnet_placement = tuple(
            f"{zone} {plan.private_cidr}" for plan, zone in zip(subnet_plans, zones, strict=True)
        )
