"""Karpenter in virtual time (EKS, AKS node auto-provisioning): a pending GPU pod is `Nominated` to a new NodeClaim
that goes Launched -> Registered -> Initialized with an event each, Spot runs out and the next claim is on-demand,
a warm buffer keeps its node through consolidation, and the timeline reads node provisioning from those events
the way it reads the cluster autoscaler's."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from coldstart.embedded.controllers.objects import condition
from coldstart.embedded.controllers.plane import control_plane
from coldstart.levers import karpenter as karpenter_lever
from coldstart.levers.node_warmup import placement
from coldstart.profiles import load_profile, profile_with
from coldstart.timeline.build import build_timeline
from coldstart.timeline.sources.events import events_from_objects
from coldstart.timeline.sources.pods import pods_from_objects
from tests.embedded.test_scheduling import _t
from tests.support.sim_harness import START, FakeKubelet, deployment, events, make_sim

REASONS_FILE = "/tmp/coldstart-gates/karpenter-reasons.txt"
LIFECYCLE = ("Launched", "Registered", "Initialized", "Ready")


def _sim(profile):
    ctx, sim = make_sim(profile, control_plane, lambda ctx: FakeKubelet(ctx, 5.0))
    for doc in karpenter_lever.manifests(profile):  # the rendered EC2NodeClass/AKSNodeClass and NodePool
        ctx.store.create(copy.deepcopy(doc))
    return ctx, sim


def _engine(profile, name="vllm", **kw):
    place = placement(profile)
    return deployment(name, gpus=1, tolerations=place["tolerations"], node_selector=place["nodeSelector"], **kw)


def _claims(ctx):
    return ctx.store.list("karpenter.sh/NodeClaim")[0]


def _launched(cloud):
    """A vLLM Deployment on the cloud's profile, run until idle: the context, its engine pod and its one NodeClaim."""
    profile = load_profile(cloud)
    ctx, sim = _sim(profile)
    ctx.store.create(_engine(profile))
    sim.run_until_idle(limit=3600)
    (pod,) = [p for p in ctx.store.list("/Pod")[0] if p["metadata"]["name"].startswith("vllm")]
    (claim,) = _claims(ctx)
    return ctx, pod, claim


@pytest.mark.parametrize("cloud", ["eks", "aks"])
def test_a_pending_gpu_pod_gets_a_nodeclaim_that_launches_registers_and_initializes(cloud):
    ctx, pod, claim = _launched(cloud)
    name = claim["metadata"]["name"]
    assert name.startswith("vllm-gpu-")
    (nominated,) = events(ctx.store, "Nominated", pod["metadata"]["name"])
    assert nominated["message"] == f"Pod should schedule on: nodeclaim/{name}"
    assert nominated["source"] == {"component": "karpenter"}
    stamps = {}
    for reason in LIFECYCLE:
        (ev,) = events(ctx.store, reason, name)
        assert ev["involvedObject"]["kind"] == "NodeClaim" and ev["source"] == {"component": "karpenter"}
        assert ev["message"] == (f"Status condition transitioned, Type: {reason}, Status: Unknown -> True, "
                                 f"Reason: {reason}")
        assert condition(claim, reason)["status"] == "True"
        stamps[reason] = _t(ev)
    k = ctx.kinetics
    assert _t(nominated) - START <= k.provisioner_batch_seconds + 1
    assert stamps["Launched"] - _t(nominated) == pytest.approx(k.instance_launch_seconds, rel=0.06, abs=1)
    assert stamps["Registered"] - stamps["Launched"] == pytest.approx(k.node_boot_seconds, rel=0.06, abs=1)
    assert stamps["Initialized"] - stamps["Registered"] == pytest.approx(k.driver_install_seconds, rel=0.06, abs=1)
    node = ctx.store.get("/Node", "", claim["status"]["nodeName"])
    labels = node["metadata"]["labels"]
    assert pod["spec"]["nodeName"] == node["metadata"]["name"]
    assert labels["karpenter.sh/nodepool"] == "vllm-gpu" and labels["karpenter.sh/capacity-type"] == "spot"
    assert labels["karpenter.sh/initialized"] == "true" and labels["karpenter.sh/registered"] == "true"
    assert claim["status"]["providerID"] == node["spec"]["providerID"]
    assert node["spec"]["providerID"].startswith({"eks": "aws:///", "aks": "azure:///"}[cloud])
    if cloud == "aks":
        assert node["metadata"]["name"] == f"aks-{name}"
    assert events(ctx.store, "TriggeredScaleUp") == []  # no cluster autoscaler on a Karpenter cluster


@pytest.mark.parametrize("cloud", ["eks", "aks"])
def test_spot_out_of_capacity_falls_back_to_on_demand(cloud):
    profile = profile_with(load_profile(cloud), {"kinetics.spot_available": False})
    ctx, sim = _sim(profile)
    ctx.store.create(_engine(profile))
    sim.run_until_idle(limit=3600)
    (pod,) = [p for p in ctx.store.list("/Pod")[0] if p["metadata"]["name"].startswith("vllm")]
    nominated = sorted(events(ctx.store, "Nominated", pod["metadata"]["name"]), key=_t)
    assert len(nominated) == 2
    first, second = (e["message"].rsplit("/", 1)[1] for e in nominated)
    (ice,) = events(ctx.store, "InsufficientCapacityError", first)
    assert ice["type"] == "Warning" and "insufficient capacity" in ice["message"]
    (claim,) = _claims(ctx)  # the Spot claim is gone
    assert claim["metadata"]["name"] == second
    assert claim["metadata"]["labels"]["karpenter.sh/capacity-type"] == "on-demand"
    node = ctx.store.get("/Node", "", pod["spec"]["nodeName"])
    assert node["metadata"]["labels"]["karpenter.sh/capacity-type"] == "on-demand"
    assert events(ctx.store, "Launched", first) == []


def test_a_nodepool_without_on_demand_leaves_the_pod_pending_when_spot_runs_out():
    profile = profile_with(load_profile("eks"), {"kinetics.spot_available": False,
                                                 "eks.karpenter.capacity_types": ["spot"]})
    ctx, sim = _sim(profile)
    ctx.store.create(_engine(profile))
    sim.run_for(900)
    (pod,) = [p for p in ctx.store.list("/Pod")[0] if p["metadata"]["name"].startswith("vllm")]
    assert not pod["spec"].get("nodeName")
    assert events(ctx.store, "Launched") == []
    assert len(events(ctx.store, "InsufficientCapacityError")) >= 2  # retried once the offering cache expired


def test_pods_select_what_their_nodepool_offers_or_nothing_launches():
    profile = load_profile("eks")
    ctx, sim = _sim(profile)
    wrong = _engine(profile)
    wrong["spec"]["template"]["spec"]["nodeSelector"]["karpenter.k8s.aws/instance-gpu-name"] = "h100"
    ctx.store.create(wrong)
    sim.run_for(600)
    assert _claims(ctx) == [] and events(ctx.store, "Nominated") == []


@pytest.mark.parametrize("buffered", [True, False])
def test_an_empty_node_is_consolidated_but_a_warm_buffer_keeps_its_node(buffered):
    profile = load_profile("eks")
    ctx, sim = _sim(profile)
    ctx.store.create(_engine(profile, "buffer" if buffered else "job"))
    sim.run_for(300)
    (node,) = [n for n in ctx.store.list("/Node")[0] if n["metadata"]["name"] != "system-0"]
    if not buffered:  # the work finished: nothing but daemons left on the node
        deploy = ctx.store.get("apps/Deployment", "default", "job")
        deploy["spec"]["replicas"] = 0
        ctx.store.replace(deploy)
    sim.run_for(660)  # consolidateAfter 10m
    nodes = [n["metadata"]["name"] for n in ctx.store.list("/Node")[0]]
    assert (node["metadata"]["name"] in nodes) == buffered
    assert bool(events(ctx.store, "DisruptionTerminating")) != buffered


def test_image_loading_follows_the_node_class():
    eks = load_profile("eks")
    for mode, expected in (("parallel_pull_unpack", "parallel"), ("lazy", "lazy")):
        profile = profile_with(eks, {"eks.soci.mode": mode})
        ctx, sim = _sim(profile)
        ctx.store.create(_engine(profile))
        sim.run_until_idle(limit=3600)
        (node,) = [n for n in ctx.store.list("/Node")[0] if n["metadata"]["name"] != "system-0"]
        assert node["metadata"]["labels"]["coldstart.dev/image-loading"] == expected
    profile = profile_with(eks, {"eks.soci.enabled": False})
    ctx, sim = _sim(profile)
    ctx.store.create(_engine(profile))
    sim.run_until_idle(limit=3600)
    (node,) = [n for n in ctx.store.list("/Node")[0] if n["metadata"]["name"] != "system-0"]
    assert "coldstart.dev/image-loading" not in node["metadata"]["labels"]


@pytest.mark.parametrize("cloud", ["eks", "aks"])
def test_the_timeline_marks_node_provisioning_from_karpenter_events(cloud):
    ctx, pod, claim = _launched(cloud)
    stored = [e for e in ctx.store.list("/Event")[0]]
    timeline = build_timeline(events_from_objects(stored), pods_from_objects([pod]))
    (tl,) = [t for t in timeline.pods if t.pod.split("/")[-1] == pod["metadata"]["name"]]
    t0 = tl.t0.timestamp()
    for mark, reason, name in (("scale_up", "Nominated", pod["metadata"]["name"]),
                               ("node_launched", "Launched", claim["metadata"]["name"]),
                               ("node_registered", "Registered", claim["metadata"]["name"]),
                               ("node_ready", "Initialized", claim["metadata"]["name"])):
        (ev,) = events(ctx.store, reason, name)
        assert tl.marks[mark] == pytest.approx(_t(ev) - t0, abs=1.0), mark


def test_the_simulation_emits_the_reasons_the_timeline_reads():
    """The timeline's Karpenter reader lists the reasons it turns into marks; the simulation emits each of them."""
    try:
        text = Path(REASONS_FILE).read_text()
    except OSError:
        pytest.skip(f"{REASONS_FILE} (written by the timeline's reader) is absent")
    wanted = {line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")}
    profile = load_profile("eks")
    ctx, sim = _sim(profile)
    ctx.store.create(_engine(profile))
    sim.run_until_idle(limit=3600)
    assert wanted <= {e["reason"] for e in ctx.store.list("/Event")[0]}
