"""Availability zones come from the stack file, so an impaired zone cannot move the subnets.

pulumi-aws `get_availability_zones` (sdk/python/pulumi_aws/get_availability_zones.py, `state`):
filters the zones by their current state ("available", "information", "impaired", "unavailable");
without it the list holds every zone the account can use, whatever its state. An ec2.Subnet's
`availability_zone` forces replacement: terraform-provider-aws internal/service/ec2/vpc_subnet.go,
resourceSubnet, `availability_zone` is ForceNew. Taking the first N zones whose state is
"available" therefore shifted every subnet along while a zone was impaired, and replaced them, the
node group and the cluster with them.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import mocks as pulumi_mocks

from tests.conftest import stack_document
from tools.offline import engine as offline_engine
from tools.offline.outputs import RecordingMocks
from tools.plan import Plan, PlanError

ZONES_INVOKE = "aws:index/getAvailabilityZones:getAvailabilityZones"


def placements(plan: Plan) -> dict[str, str]:
    return {
        subnet.name: subnet.plain_inputs["availabilityZone"]
        for subnet in plan.run.of_type("aws:ec2/subnet:Subnet")
    }


def expected(zones: list[str]) -> dict[str, str]:
    return {
        f"network-{tier}-{index}": zone
        for index, zone in enumerate(zones)
        for tier in ("private", "public")
    }


def no_edit(document: dict[str, Any]) -> None:
    del document


def test_subnets_go_to_the_zones_the_stack_names_in_order(plan_edited: Any) -> None:
    zones = ["eu-central-1c", "eu-central-1a", "eu-central-1b"]

    def reorder(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:network"]["availabilityZones"] = zones

    assert placements(plan_edited("prod", reorder)) == expected(zones)


class _ImpairedZoneMocks(RecordingMocks):
    """The region as EC2 reports it while eu-central-1a is impaired: still listed, but not
    "available", so a `state="available"` filter leaves it out."""

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        answer = super().call(args)
        if args.token == ZONES_INVOKE and args.args.get("state") == "available":
            keep = [i for i, name in enumerate(answer["names"]) if not name.endswith("1a")]
            answer = {
                **answer,
                "names": [answer["names"][i] for i in keep],
                "zoneIds": [answer["zoneIds"][i] for i in keep],
            }
        return answer


def test_an_impaired_zone_moves_no_subnet(
    plan_edited: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(offline_engine, "RecordingMocks", _ImpairedZoneMocks)
    configured = stack_document("prod")["config"]["eks-gitops:network"]["availabilityZones"]
    assert "eu-central-1a" in configured
    assert placements(plan_edited("prod", no_edit)) == expected(configured)


def test_a_zone_the_region_does_not_have_is_refused_by_the_lookup(plan_edited: Any) -> None:
    # The name has the region's shape, so parsing accepts it; the lookup knows the region has no d.
    def zone_d(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:network"]["availabilityZones"][2] = "eu-central-1d"

    with pytest.raises(PlanError) as refused:
        plan_edited("prod", zone_d)
    message = str(refused.value)
    assert message.startswith("config error: eks-gitops:network.availabilityZones = ")
    assert "eu-central-1d is not among" in message
