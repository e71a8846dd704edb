"""tools.plandiff: two plan directories compared resource by resource and field by field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import FLUX_V294, repo_plan
from tools import plandiff
from tools.plan import Plan, plan_stack, write_plan

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
DEPLOY_KEY = "github:index/repositoryDeployKey:RepositoryDeployKey"


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::eks-gitops::{type_}::{name}"


def resource(stack: str, type_: str, name: str, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": type_,
        "name": name,
        "urn": urn(stack, type_, name),
        "inputs": {},
        "protect": False,
        "replaceOnChanges": [],
        "aliases": [],
    }
    entry.update(fields)
    return entry


def write_dir(
    directory: Path,
    resources: list[dict[str, Any]],
    objects: list[dict[str, Any]] | None = None,
    outputs: dict[str, Any] | None = None,
    relax: list[str] | None = None,
) -> Path:
    directory.mkdir(parents=True)
    (directory / "resources.json").write_text(json.dumps(resources))
    (directory / "manifests.yaml").write_text(yaml.safe_dump_all(objects or []))
    (directory / "outputs.json").write_text(json.dumps(outputs or {}))
    if relax is not None:
        (directory / "policy.json").write_text(json.dumps({"relax": relax}))
    return directory


def compare(base: Path, head: Path, *, normalise: bool = False) -> plandiff.PlanDiff:
    return plandiff.diff_plans(
        plandiff.load_plan_dir(base, normalise=normalise),
        plandiff.load_plan_dir(head, normalise=normalise),
    )


def by_subject(changes: list[plandiff.Change]) -> dict[str, plandiff.Change]:
    return {change.subject: change for change in changes}


def node_group(**inputs: Any) -> dict[str, Any]:
    base = {
        "subnetIds": ["subnet-a", "subnet-b"],
        "instanceTypes": ["t3.large"],
        "scalingConfig": {"minSize": 2, "maxSize": 3, "desiredSize": 2},
    }
    return resource("dev", NODE_GROUP, "nodes", inputs={**base, **inputs})


def test_added_removed_and_changed_resources_with_their_fields(tmp_path: Path) -> None:
    vpc = resource("dev", "aws:ec2/vpc:Vpc", "vpc", inputs={"cidrBlock": "10.0.0.0/16"})
    old_only = resource("dev", "aws:ec2/eip:Eip", "nat-1")
    new_only = resource("dev", "aws:ec2/eip:Eip", "nat-2")
    base = write_dir(tmp_path / "base", [vpc, old_only])
    head = write_dir(
        tmp_path / "head",
        [{**vpc, "inputs": {"cidrBlock": "10.1.0.0/16", "tags": {"a": "b"}}}, new_only],
    )
    changes = by_subject(compare(base, head).resources)
    assert changes["aws:ec2/eip:Eip::nat-1"].kind == "removed"
    assert changes["aws:ec2/eip:Eip::nat-2"].kind == "added"
    vpc_change = changes["aws:ec2/vpc:Vpc::vpc"]
    assert vpc_change.kind == "changed"
    assert [(f.path, f.old, f.new) for f in vpc_change.fields] == [
        ("inputs.cidrBlock", "10.0.0.0/16", "10.1.0.0/16"),
        ("inputs.tags", plandiff.ABSENT, {"a": "b"}),
    ]


@pytest.mark.parametrize(
    ("inputs", "forcing"),
    [
        # hashicorp/terraform-provider-aws internal/service/eks/node_group.go: subnet_ids,
        # instance_types and capacity_type are ForceNew; scaling_config is updated in place
        # (resourceNodeGroupUpdate calls UpdateNodegroupConfig for it).
        ({"subnetIds": ["subnet-a", "subnet-c"]}, ("subnetIds[1]",)),
        ({"instanceTypes": ["m6i.large"]}, ("instanceTypes[0]",)),
        ({"capacityType": "SPOT"}, ("capacityType",)),
        ({"scalingConfig": {"minSize": 3, "maxSize": 3, "desiredSize": 3}}, ()),
    ],
)
def test_a_node_group_is_replaced_only_over_force_new_inputs(
    tmp_path: Path, inputs: dict[str, Any], forcing: tuple[str, ...]
) -> None:
    base = write_dir(tmp_path / "base", [node_group()])
    head = write_dir(tmp_path / "head", [node_group(**inputs)])
    [change] = compare(base, head).resources
    assert change.kind == ("replaced" if forcing else "changed")
    assert change.forcing == forcing


def test_a_deploy_key_title_change_replaces_it(tmp_path: Path) -> None:
    # integrations/terraform-provider-github github/resource_github_repository_deploy_key.go: key,
    # read_only, repository and title are ForceNew ("Deploy keys are defined immutable in the API").
    key = resource(
        "dev", DEPLOY_KEY, "deploy-key", inputs={"title": "flux-dev-1", "readOnly": True}
    )
    base = write_dir(tmp_path / "base", [key])
    head = write_dir(
        tmp_path / "head", [{**key, "inputs": {"title": "flux-dev-2", "readOnly": True}}]
    )
    [change] = compare(base, head).resources
    assert (change.kind, change.forcing) == ("replaced", ("title",))


def test_recorded_replace_on_changes_forces_replacement(tmp_path: Path) -> None:
    secret = resource(
        "dev",
        "aws:secretsmanager/secret:Secret",
        "s",
        inputs={"description": "a", "kmsKeyId": "k1"},
        replaceOnChanges=["kmsKeyId"],
    )
    base = write_dir(tmp_path / "base", [secret])
    head = write_dir(
        tmp_path / "head", [{**secret, "inputs": {"description": "b", "kmsKeyId": "k2"}}]
    )
    [change] = compare(base, head).resources
    assert change.kind == "replaced"
    assert change.forcing == ("kmsKeyId",)
    assert [f.path for f in change.fields] == ["inputs.description", "inputs.kmsKeyId"]


def test_a_resource_renamed_with_an_alias_is_one_change(tmp_path: Path) -> None:
    old = resource("dev", "aws:ec2/vpc:Vpc", "vpc")
    new = resource("dev", "aws:ec2/vpc:Vpc", "network-vpc", aliases=[old["urn"]])
    base = write_dir(tmp_path / "base", [old])
    head = write_dir(tmp_path / "head", [new])
    [change] = compare(base, head).resources
    assert change.kind == "changed"
    assert change.subject == "aws:ec2/vpc:Vpc::network-vpc"
    assert "renamed from `aws:ec2/vpc:Vpc::vpc`" in change.note


def test_kubernetes_objects_are_matched_by_identity(tmp_path: Path) -> None:
    def config_map(name: str, data: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "flux"},
            "data": data,
        }

    base = write_dir(tmp_path / "base", [], [config_map("a", {"x": "1"}), config_map("b", {})])
    head = write_dir(tmp_path / "head", [], [config_map("a", {"x": "2"}), config_map("c", {})])
    changes = by_subject(compare(base, head).objects)
    assert changes["v1 ConfigMap flux/b"].kind == "removed"
    assert changes["v1 ConfigMap flux/c"].kind == "added"
    assert [(f.path, f.old, f.new) for f in changes["v1 ConfigMap flux/a"].fields] == [
        ("data.x", "1", "2")
    ]


def test_normalising_drops_what_differs_only_by_stack_name(tmp_path: Path) -> None:
    def stack_dir(stack: str, cidr: str) -> Path:
        cluster = resource(
            stack,
            "aws:eks/cluster:Cluster",
            "cluster",
            inputs={
                "name": f"gitops-{stack}",
                "roleArn": f"arn:aws:iam::123456789012:role/{stack}-cluster",
                "tags": {"environment": stack},
                "publicAccessCidrs": [cidr],
            },
        )
        device = resource(
            stack,
            "aws:ec2/launchTemplate:LaunchTemplate",
            "nodes",
            inputs={"blockDeviceMappings": [{"deviceName": "/dev/xvda"}]},
        )
        return write_dir(tmp_path / stack, [cluster, device], outputs={"name": f"gitops-{stack}"})

    dev, qa = stack_dir("dev", "10.0.0.0/8"), stack_dir("qa", "10.0.0.0/8")
    assert compare(dev, qa, normalise=True).empty
    assert not compare(dev, qa).empty
    # The device path holds `dev` between slashes: a directory, not the stack, so it is kept.
    entry = plandiff.load_plan_dir(dev, normalise=True).resources[
        urn("<stack>", "aws:ec2/launchTemplate:LaunchTemplate", "nodes")
    ]
    assert entry["inputs"]["blockDeviceMappings"][0]["deviceName"] == "/dev/xvda"
    changed = stack_dir("prod", "192.0.2.0/24")
    [change] = compare(dev, changed, normalise=True).resources
    assert [f.path for f in change.fields] == ["inputs.publicAccessCidrs[0]"]


def test_waivers_show_even_when_nothing_else_changes(tmp_path: Path) -> None:
    base = write_dir(tmp_path / "base", [], relax=["min-nodes", "multi-az"])
    head = write_dir(tmp_path / "head", [], relax=["min-nodes", "audit-logging"])
    diff = compare(base, head)
    assert not diff.empty
    text = plandiff.render_markdown(diff, "t")
    assert "`min-nodes` (kept)" in text
    assert "`audit-logging` (**new**)" in text
    assert "~~`multi-az`~~ (no longer waived)" in text


def test_markdown_table_escapes_pipes_and_counts(tmp_path: Path) -> None:
    base = write_dir(tmp_path / "base", [resource("dev", "x:y:Z", "r", inputs={"a": "1"})])
    head = write_dir(tmp_path / "head", [resource("dev", "x:y:Z", "r", inputs={"a": "p|q"})])
    text = plandiff.render_markdown(compare(base, head), "Plan")
    assert "**Resources**: 0 added, 0 removed, 1 changed, 0 replaced" in text
    assert '`inputs.a`: `"1"` → `"p\\|q"`' in text
    assert "| ~ changed | `x:y:Z::r` |" in text


def test_missing_plan_file_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write_dir(tmp_path / "base", [])
    (tmp_path / "head").mkdir()
    assert plandiff.main([str(base), str(tmp_path / "head")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "resources.json" in err and err.count("\n") == 1


def test_real_plans_show_a_node_change_field_by_field_and_a_waiver(
    tmp_path: Path, plan_edited: Callable[..., Plan]
) -> None:
    def more_nodes(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:cluster"]["nodes"].update(maxSize=5)

    def relax_audit(document: dict[str, Any]) -> None:
        cluster = document["config"]["eks-gitops:cluster"]
        cluster["logTypes"] = [t for t in cluster["logTypes"] if t != "audit"]
        policy = document["config"].setdefault("eks-gitops:policy", {})
        policy["relax"] = [*policy.get("relax", []), "audit-logging"]

    base = write_plan(repo_plan("dev"), tmp_path / "base")
    head = write_plan(plan_edited("dev", more_nodes), tmp_path / "head")
    [change] = compare(base, head).resources
    assert change.subject.startswith(f"{NODE_GROUP}::cluster-nodes")
    assert change.kind == "changed"
    assert [(f.path, f.new) for f in change.fields] == [("inputs.scalingConfig.maxSize", 5)]

    waived = write_plan(plan_edited("dev", relax_audit), tmp_path / "waived")
    text = plandiff.render_markdown(compare(base, waived), "dev")
    assert "`audit-logging` (**new**)" in text
    assert "`inputs.enabledClusterLogTypes" in text


def test_real_plans_show_a_rolled_node_group_as_added_and_removed(
    tmp_path: Path, plan_edited: Callable[..., Plan]
) -> None:
    # An instance type change rolls the group to a new one named by a digest of the settings EKS
    # replaces on (tests/test_node_roll.py): a new URN, not an in-place replacement.
    def bigger_nodes(document: dict[str, Any]) -> None:
        document["config"]["eks-gitops:cluster"]["nodes"]["instanceTypes"] = ["m7i.large"]

    base = write_plan(repo_plan("dev"), tmp_path / "base")
    head = write_plan(plan_edited("dev", bigger_nodes), tmp_path / "head")
    groups = [c for c in compare(base, head).resources if c.subject.startswith(NODE_GROUP)]
    assert sorted(c.kind for c in groups) == ["added", "removed"]


def test_two_environments_planned_with_one_seed_differ_only_in_settings(tmp_path: Path) -> None:
    planned = {
        stack: write_plan(
            plan_stack(stack, flux_manifests=FLUX_V294, material_seed="compare"), tmp_path
        )
        for stack in ("dev", "qa")
    }
    changes = by_subject(compare(planned["dev"], planned["qa"], normalise=True).resources)
    # Made-up ids and role names now agree, so what references them is unchanged...
    assert not any(subject.startswith("aws:iam/") for subject in changes)
    # ...while what the stack files set differently still shows.
    assert [f.path for f in changes["aws:ec2/vpc:Vpc::network-vpc"].fields] == ["inputs.cidrBlock"]


def test_an_ignored_input_does_not_force_replacement(tmp_path: Path) -> None:
    # Pulumi's ignoreChanges keeps the old value of the named inputs in the engine's diff
    # (pulumi.com/docs/iac/concepts/options/ignorechanges), so no replacement follows from them.
    cluster = resource(
        "dev",
        "aws:eks/cluster:Cluster",
        "cluster",
        inputs={"vpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]}, "version": "1.34"},
        ignoreChanges=["vpcConfig.subnetIds"],
    )
    base = write_dir(tmp_path / "base", [cluster])
    head = write_dir(
        tmp_path / "head",
        [
            {
                **cluster,
                "inputs": {
                    "vpcConfig": {"subnetIds": ["subnet-a", "subnet-b", "subnet-c"]},
                    "version": "1.35",
                },
            }
        ],
    )
    [change] = compare(base, head).resources
    assert (change.kind, change.forcing) == ("changed", ())
    assert "not applied (ignoreChanges): `vpcConfig.subnetIds[2]`" in change.note
