"""The whole simulated cluster (control plane + the real node side) on the project's own rendered manifests,
applied through admission as the API server would: both profiles end with a Ready InferenceService."""

from __future__ import annotations

import pytest

from coldstart.embedded.apiserver.admission import Admission
from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.embedded.controllers.objects import condition
from coldstart.embedded.store.resources import resource_for
from coldstart.levers.render import apply_order, flatten, render
from coldstart.profiles import load_profile
from tests.support.sim_harness import START, events


@pytest.mark.parametrize("profile_name", ["baseline", "gke"])
def test_rendered_manifests_reach_a_ready_inference_service(profile_name):
    profile = load_profile(profile_name)
    cluster = EmbeddedCluster(profile, start_time=START)
    admission = Admission(cluster.store)
    for doc in apply_order(flatten(render(profile, serving="kserve"))):
        resource = resource_for(doc["apiVersion"], doc["kind"])
        assert resource is not None, doc["kind"]
        cluster.store.create(admission.admit(resource, doc, "CREATE"))
    cluster.simulation.run_until_idle(limit=1800)
    store, ns = cluster.store, profile.namespace
    (isvc,) = store.list("serving.kserve.io/InferenceService", ns)[0]
    assert condition(isvc, "Ready")["status"] == "True", isvc["status"]["conditions"]
    assert isvc["status"]["url"].startswith("http://")
    predictor = next(p for p in store.list("/Pod", ns)[0] if p["metadata"]["name"].startswith(
        f"{isvc['metadata']['name']}-predictor-"))
    name = predictor["metadata"]["name"]
    assert events(store, "TriggeredScaleUp", name) and events(store, "Scheduled", name)
    phases = cluster.truth[(ns, name)].phases
    assert phases["scheduling"][0] == START
    assert phases["scheduling"][1] <= phases["image_pull"][0] <= phases["image_pull"][1]
    assert phases["image_pull"][1] <= phases["api_ready"][1]
    # the warm buffer got its own node and holds it; the pre-pull daemon runs on every GPU node
    buffer = [p for p in store.list("/Pod", ns)[0] if p["metadata"]["name"].startswith("coldstart-warm-buffer-")]
    assert buffer and all(p["spec"].get("nodeName") for p in buffer)
    gpu_nodes = [n["metadata"]["name"] for n in store.list("/Node")[0] if n["metadata"]["name"] != "system-0"]
    daemons = sorted(p["spec"]["nodeName"] for p in store.list("/Pod", ns)[0]
                     if p["metadata"]["name"].startswith("coldstart-image-prepull-"))
    assert daemons == sorted(gpu_nodes)
    assert cluster.simulation.error is None
