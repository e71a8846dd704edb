"""The cluster's default StorageClass: encrypted gp3 volumes from the EBS CSI driver.

From Kubernetes 1.30 EKS no longer marks its `gp2` StorageClass as the default, so a
PersistentVolumeClaim without `storageClassName` would stay Pending, and with it the Flux sync that
waits for the tree to be healthy. This one is the default instead. The EBS CSI add-on can install a
default class of its own (`defaultStorageClass.enabled`), but unencrypted; the program leaves that
option off, so there is exactly one default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

import pulumi
from pulumi_kubernetes.meta import v1 as meta_v1
from pulumi_kubernetes.storage import v1 as storage_v1

EBS_CSI_PROVISIONER: Final = "ebs.csi.aws.com"
DEFAULT_CLASS_ANNOTATION: Final = "storageclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class DefaultStorageClassArgs:
    name: str = "gp3"


class DefaultStorageClass(pulumi.ComponentResource):
    """Give it the Kubernetes provider and a dependency on the EBS CSI add-on: the class is only
    useful once the driver that provisions it runs."""

    TYPE_TOKEN: ClassVar[str] = "eks-gitops:storage:DefaultStorageClass"

    def __init__(
        self, name: str, args: DefaultStorageClassArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE_TOKEN, name, None, opts)
        storage_v1.StorageClass(
            f"{name}-{args.name}",
            metadata=meta_v1.ObjectMetaArgs(
                name=args.name, annotations={DEFAULT_CLASS_ANNOTATION: "true"}
            ),
            provisioner=EBS_CSI_PROVISIONER,
            # The driver's parameters are strings, "encrypted" among them.
            parameters={"type": "gp3", "encrypted": "true"},
            # A volume is created in the zone of the node its first pod is scheduled to; created
            # at once, it could land in a zone the pod cannot run in.
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Delete",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
