"""DaemonSets: a pod per eligible node, pinned by node affinity, created once the node is Ready."""

from __future__ import annotations

from coldstart.embedded.controllers.objects import parse_time
from coldstart.embedded.controllers.plane import control_plane
from tests.support.sim_harness import GPU_TOLERATION, FakeKubelet, deployment, events, make_sim

SELECTOR = {"nvidia.com/gpu.product": "NVIDIA-L4"}


def _daemonset(name, tolerations=None, node_selector=None):
    spec = {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def test_prepull_daemon_lands_on_new_gpu_nodes_as_soon_as_they_are_ready():
    ctx, sim = make_sim("baseline", control_plane, lambda c: FakeKubelet(c, 5))
    ctx.store.create(_daemonset("prepull", [GPU_TOLERATION], {"kubernetes.io/os": "linux"}))
    ctx.store.create(_daemonset("cpu-only"))  # no GPU toleration: system node only
    ctx.store.create(deployment("vllm", gpus=1, tolerations=[GPU_TOLERATION], node_selector=SELECTOR))
    sim.run_until_idle(limit=900)
    gpu = next(n for n in ctx.store.list("/Node")[0] if n["metadata"]["name"] != "system-0")["metadata"]["name"]
    pods = {p["metadata"]["name"]: p for p in ctx.store.list("/Pod", "default")[0]}
    prepull = sorted((p for n, p in pods.items() if n.startswith("prepull-")), key=lambda p: p["spec"]["nodeName"])
    assert [p["spec"]["nodeName"] for p in prepull] == [gpu, "system-0"]
    terms = prepull[0]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                            "values": [gpu]}]}]
    assert {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"} in \
        prepull[0]["spec"]["tolerations"]
    assert [p["spec"]["nodeName"] for n, p in pods.items() if n.startswith("cpu-only-")] == ["system-0"]
    ready = parse_time(events(ctx.store, "NodeReady", gpu)[0]["firstTimestamp"])
    vllm = next(p for n, p in pods.items() if n.startswith("vllm-"))
    # on the GPU node before the vLLM pod: it needs no GPU, only a Ready node
    created = parse_time(prepull[0]["metadata"]["creationTimestamp"])
    assert ready <= created < parse_time(events(ctx.store, "Scheduled", vllm["metadata"]["name"])[0]["eventTime"])
    status = ctx.store.get("apps/DaemonSet", "default", "prepull")["status"]
    assert status["desiredNumberScheduled"] == status["currentNumberScheduled"] == status["numberReady"] == 2
    assert {e["message"] for e in events(ctx.store, "SuccessfulCreate", "prepull")} == \
        {f"Created pod: {p['metadata']['name']}" for p in prepull}
