"""The cluster's storage: a default StorageClass for claims that name none, provisioned by the EBS CSI
driver add-on, in place before Flux applies anything and gone only after what Flux applied."""

from __future__ import annotations

import pytest

from tests.conftest import ENVIRONMENTS, repo_plan
from tests.graph_support import Graph, Node, graph_of, must_delete_before

STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
STORAGE_COMPONENT = "eks-gitops:storage:DefaultStorageClass"
ADDON = "aws:eks/addon:Addon"
GIT_REPOSITORY = "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository"
KUSTOMIZATION = "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def ebs_csi_addon(graph: Graph) -> Node:
    [addon] = [n for n in graph.of_type(ADDON) if n.inputs["addonName"] == "aws-ebs-csi-driver"]
    return addon


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_every_cluster_has_one_default_storage_class_of_encrypted_gp3(stack: str) -> None:
    # EKS user guide, "Kubernetes versions" (awsdocs/amazon-eks-user-guide
    # latest/ug/clusters/kubernetes-versions-standard.adoc, 1.30): "Starting with 1.30, Amazon EKS no
    # longer includes the default annotation on the gp2 StorageClass resource applied to newly
    # created clusters"; a claim without storageClassName then stays Pending. Kubernetes picks the
    # class annotated storageclass.kubernetes.io/is-default-class: "true".
    plan = repo_plan(stack)
    [storage_class] = plan.run.of_type(STORAGE_CLASS)
    spec = storage_class.plain_inputs
    assert spec["metadata"]["annotations"] == {DEFAULT_CLASS_ANNOTATION: "true"}
    # kubernetes-sigs/aws-ebs-csi-driver docs/parameters.md: the driver's provisioner name is
    # ebs.csi.aws.com; "type" gp3, and "encrypted" takes the strings "true" or "false" (default
    # "false": without it, volumes are not encrypted).
    assert spec["provisioner"] == "ebs.csi.aws.com"
    assert spec["parameters"] == {"type": "gp3", "encrypted": "true"}
    # EBS volumes are zonal: bound on first use, the volume is created in the zone of the node the
    # pod is scheduled to (the chart's own default class, charts/aws-ebs-csi-driver/templates/
    # ebs-csi-default-sc.yaml, binds the same way).
    assert spec["volumeBindingMode"] == "WaitForFirstConsumer"
    assert spec["reclaimPolicy"] == "Delete"
    assert spec["allowVolumeExpansion"] is True
    # It is the only class the program marks default (two defaults make the choice arbitrary).
    defaults = [
        r
        for r in plan.run.resources
        if r.type == STORAGE_CLASS
        and (r.plain_inputs["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION)
        == "true"
    ]
    assert defaults == [storage_class]


@pytest.mark.parametrize("stack", ENVIRONMENTS)
def test_the_storage_class_follows_the_driver_and_precedes_the_sync(stack: str) -> None:
    graph = graph_of(repo_plan(stack))
    [storage_class] = graph.of_type(STORAGE_CLASS)
    addon = ebs_csi_addon(graph)
    # Created once the driver runs (deleted before it) ...
    assert graph.reaches(storage_class.urn, addon.urn)
    # ... and before the sync objects, whose wait would otherwise time out on a Pending claim.
    for sync_object in graph.of_type(GIT_REPOSITORY) + graph.of_type(KUSTOMIZATION):
        assert graph.reaches(sync_object.urn, storage_class.urn), sync_object.name
        assert must_delete_before(graph, sync_object.urn, storage_class.urn)


def test_a_storage_class_created_before_the_driver_is_caught() -> None:
    graph = graph_of(repo_plan("qa"))
    component = graph.find(STORAGE_COMPONENT, "storage")
    addon = ebs_csi_addon(graph)
    broken = graph.without_edge(component.urn, addon.urn)
    [storage_class] = broken.of_type(STORAGE_CLASS)
    assert not broken.reaches(storage_class.urn, addon.urn)
