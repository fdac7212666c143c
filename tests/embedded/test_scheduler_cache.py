"""What the scheduler keeps between attempts gives the answers a scan of every node gives: the node it picks,
the FailedScheduling message, ImageLocality's shares, and Event names when many events land in one instant."""

from __future__ import annotations

import random

from coldstart.embedded.clock import VirtualClock
from coldstart.embedded.controllers.cache import LiveViews, Verdicts
from coldstart.embedded.controllers.fit import NodeView, filter_node, fit_error, fit_message
from coldstart.embedded.controllers.scoring import grade, scorer, wanted_images
from coldstart.embedded.events import EventRecorder
from coldstart.embedded.store.store import Store
from tests.support.sim_harness import GPU_TOLERATION

VLLM = "registry.example/vllm/vllm-openai@sha256:" + "ab" * 32
MODEL = "registry.example/models/qwen@sha256:" + "cd" * 32
POD = {"metadata": {"name": "vllm-0", "namespace": "default", "uid": "u-vllm"},
       "spec": {"containers": [{"name": "vllm", "image": VLLM, "resources": {"requests": {"cpu": "2"}}},
                               {"name": "model", "image": MODEL}],
                "tolerations": [GPU_TOLERATION]}}


def _node(rng: random.Random, name: str) -> dict:
    """A GPU node in one of a few states: tainted or not, short of CPU or not, holding some of the pod's images."""
    images = [{"names": [VLLM], "sizeBytes": 16_548_000_000}] if rng.random() < 0.5 else []
    if rng.random() < 0.3:
        images.append({"names": [MODEL], "sizeBytes": 15_231_233_024})
    taints = [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}] if rng.random() < 0.2 else []
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {"taints": taints},
            "status": {"allocatable": {"cpu": rng.choice(["2", "4", "8"]), "memory": "32Gi", "pods": "110"},
                       "images": images}}


def _busy(rng: random.Random, view: NodeView, cpu: int | None = None) -> None:
    """Count a pod on the node, as a binding does."""
    cpu = rng.choice([0, 1000, 2000]) if cpu is None else cpu
    view.add({"metadata": {"name": f"p-{rng.random()}", "uid": str(rng.random())},
              "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": f"{cpu}m"}}}]}})


def _scan(nodes: dict[str, NodeView]) -> tuple[str | None, str]:
    """The reference: filter every node, score every fitting one, count every refusal."""
    check = [(view, filter_node(POD, view, {"cpu": 2000})) for view in nodes.values()]
    fitting = [view for view, (code, _) in check if code is None]
    best = min(fitting, key=scorer(POD, list(nodes.values()))).name if fitting else None
    return best, fit_error(len(nodes), {v.name: reasons for v, (code, reasons) in check if code is not None})


def _kept(verdicts: Verdicts, nodes: dict[str, NodeView], images: dict) -> tuple[str | None, str]:
    wanted = wanted_images(POD)
    verdicts.refresh(nodes, lambda view: filter_node(POD, view, {"cpu": 2000}), lambda view: grade(view, wanted))
    best = verdicts.best(nodes, scorer(POD, nodes.values(), images)).name if verdicts.fitting else None
    return best, fit_message(len(nodes), verdicts.counts, len(verdicts.refused))


def _cluster(seed: int, nodes: int) -> tuple[random.Random, Store, LiveViews]:
    """`nodes` random GPU nodes in a store, and the scheduler's live views of them."""
    rng = random.Random(seed)
    store = Store(now=lambda: 1_750_000_000.0)
    for i in range(nodes):
        store.create(_node(rng, f"gpu-{i:03d}"))
    return rng, store, LiveViews(store)


def test_kept_verdicts_pick_the_node_and_write_the_message_a_scan_of_every_node_would():
    rng, store, live = _cluster(seed=7, nodes=60)
    nodes = live.get()
    cursor = store.resource_version
    verdicts = Verdicts()
    picks, messages = set(), set()
    for _ in range(40):
        best, message = _kept(verdicts, nodes, live.images)
        assert (best, message) == _scan(nodes)
        picks.add(best)
        messages.add(message)
        if best is not None:  # the pod binds there
            _busy(rng, nodes[best], 2000)
            verdicts.forget(best)
        # the cluster changes: pods land on some nodes, others change their images or taints, some go, some come
        for name in rng.sample(sorted(nodes), 5):
            _busy(rng, nodes[name])
            verdicts.forget(name)
        for name in rng.sample(sorted(nodes), 3):
            store.replace(_node(rng, name) | {"metadata": store.get("/Node", "", name)["metadata"]})
        gone = rng.choice(sorted(nodes))
        store.delete("/Node", "", gone)
        store.create(_node(rng, f"gpu-new-{rng.random():.6f}"))
        for change in store.changes(cursor):
            cursor = change.rv
            live.on_change(change)
            verdicts.forget(change.obj["metadata"]["name"])
        nodes = live.get()
    assert len(picks) > 10 and len(messages) > 10  # the comparisons covered many grades and refusals


def test_image_shares_kept_per_image_are_the_shares_a_scan_counts():
    rng, store, live = _cluster(seed=3, nodes=30)
    views = list(live.get().values())
    kept, scanned = scorer(POD, views, live.images), scorer(POD, views)
    assert [kept(v) for v in views] == [scanned(v) for v in views]
    # nodes that disagree on an image's size: the kept shares cannot say which size a scan would read, so they are
    # not used, and the answer is still the scan's (the size the last node by name lists)
    odd = _node(rng, "gpu-zz")
    odd["status"]["images"] = [{"names": [VLLM], "sizeBytes": 9_000_000_000}]
    store.create(odd)
    for change in store.changes(0, "/Node")[-1:]:
        live.on_change(change)
    views = list(live.get().values())
    kept, scanned = scorer(POD, views, live.images), scorer(POD, views)
    assert [kept(v) for v in views] == [scanned(v) for v in views]


def test_a_thousand_events_on_one_object_in_one_instant_get_consecutive_names():
    """A ReplicaSet creating a thousand pods writes a thousand SuccessfulCreate events while time stands still:
    each takes the next nanosecond of that instant, also when another component writes about the same object."""
    clock = VirtualClock(start=1_750_000_000.0)
    store = Store(now=clock.now)
    rs = store.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs", "namespace": "ns"}})
    controller = EventRecorder(store, clock.now, "replicaset-controller")
    other = EventRecorder(store, clock.now, "deployment-controller")
    names = []
    for i in range(1000):
        names.append(controller.event(rs, "Normal", "SuccessfulCreate", f"Created pod: rs-{i}")["metadata"]["name"])
        if i % 100 == 0:
            names.append(other.event(rs, "Normal", "Note", f"seen {i}")["metadata"]["name"])
    instant = int(clock.now() * 1e9)
    assert names == [f"rs.{instant + k:x}" for k in range(1010)]
    clock.advance_to(clock.now() + 1)
    later = controller.event(rs, "Normal", "SuccessfulCreate", "Created pod: rs-late")["metadata"]["name"]
    assert later == f"rs.{int(clock.now() * 1e9):x}"
