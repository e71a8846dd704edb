"""The VPC's address plan and subnet tags."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

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
