"""The embedded cluster: a Kubernetes API server on loopback plus a simulated control plane, kubelets and vLLM
engines in virtual time, so a ten-minute cold start takes seconds and needs no cloud.

`store/` (objects, resourceVersions, the change log) <- `apiserver/` (HTTP, verbs, admission, watch, SSA) and
`controllers/` (scheduler, autoscaler, workload and KServe controllers, nodes) and `node/` (kubelets, images,
volumes, probes) <- `engine/` (the simulated vLLM); `cluster` wires them together (`EmbeddedCluster`), `serve`
runs one for people and kubectl (`coldstart cluster up`), `clock` keeps its time behind the wall clock. The
profile sets how fast things are (`coldstart.profiles.physics`); how a workload behaves comes from its manifests.
"""

from __future__ import annotations


def context_name(profile_name: str) -> str:
    """The kubeconfig context of a profile's embedded cluster (`coldstart-baseline`): what `coldstart cluster up`
    writes, and the one context a runbook may target without the profile listing it (live.targets)."""
    return f"coldstart-{profile_name}"
