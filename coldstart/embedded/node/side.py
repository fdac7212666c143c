"""The node side of the embedded cluster: the kubelets (image pulls, volumes, containers, probes, restarts) and
the processes they run, among them the vLLM engine. The lead wires these next to the control plane's."""

from __future__ import annotations

from coldstart.embedded.clock import Controller
from coldstart.embedded.context import SimContext
from coldstart.embedded.node.kubelet import Kubelet


def node_side(ctx: SimContext) -> list[Controller]:
    """Controllers that act on pods bound to nodes; everything they need comes from ctx."""
    return [Kubelet(ctx)]
