"""The simulated control plane of the embedded cluster, as one list of controllers for the Simulation.

Order matters only for who sees a change first within one delivery; every controller is level-driven, so
the outcome does not depend on it. Building it creates the cluster's CPU-only system node.
"""

from __future__ import annotations

from coldstart.embedded.clock import Controller
from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.autoscaler import Autoscaler
from coldstart.embedded.controllers.daemonsets import DaemonSetController
from coldstart.embedded.controllers.endpoints import EndpointsController
from coldstart.embedded.controllers.gc import GarbageCollector
from coldstart.embedded.controllers.jobs import CronJobController, JobController
from coldstart.embedded.controllers.karpenter import Karpenter
from coldstart.embedded.controllers.kserve import KServeController
from coldstart.embedded.controllers.namespaces import NamespaceController
from coldstart.embedded.controllers.nodes import NodeLifecycle
from coldstart.embedded.controllers.objects import names
from coldstart.embedded.controllers.persistentvolumes import PersistentVolumeController
from coldstart.embedded.controllers.scheduler import Scheduler
from coldstart.embedded.controllers.statefulsets import StatefulSetController
from coldstart.embedded.controllers.workloads import DeploymentController, ReplicaSetController


def control_plane(ctx: SimContext) -> list[Controller]:
    """Every D1 controller, wired to one shared context; Karpenter instead of the cluster autoscaler where the
    profile's GPU nodes come from a NodePool (EKS, AKS node auto-provisioning)."""
    names(ctx)  # draw the generated-name seed now, before anyone's jitter, so names do not depend on timing
    lifecycle = NodeLifecycle(ctx)
    return [GarbageCollector(ctx), NamespaceController(ctx), PersistentVolumeController(ctx), KServeController(ctx),
            DeploymentController(ctx), ReplicaSetController(ctx), StatefulSetController(ctx), DaemonSetController(ctx),
            JobController(ctx), CronJobController(ctx), EndpointsController(ctx), Scheduler(ctx),
            Karpenter(ctx, lifecycle) if ctx.profile.karpenter is not None else Autoscaler(ctx, lifecycle), lifecycle]
