"""Virtual time: controllers see changes in order, timers fire in time order, time jumps when idle."""

from __future__ import annotations

import threading
import time

from coldstart.embedded.clock import Simulation, VirtualClock
from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.embedded.events import EventRecorder
from coldstart.embedded.store.store import Store
from coldstart.live.cluster import Cluster
from coldstart.live.wait import wait_for
from coldstart.profiles import load_profile


class _Echo:
    def __init__(self, sim, clock, store):
        self.seen, self.sim, self.clock, self.store = [], sim, clock, store

    def on_change(self, change):
        self.seen.append((change.type, change.obj["metadata"]["name"], self.clock.now()))
        if change.type == "ADDED" and change.key == "/ConfigMap":
            name = change.obj["metadata"]["name"]
            self.clock.call_later(120, lambda: self.store.create(
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-later", "namespace": "default"}}))


def _cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}


def test_timers_fire_in_virtual_time_by_hand():
    clock = VirtualClock(start=1_000.0)
    store = Store(now=clock.now)
    sim = Simulation(store, clock)
    echo = _Echo(sim, clock, store)
    sim.add(echo)
    store.create(_cm("a"))
    sim.run_until_idle()
    assert [(t, n) for t, n, _ in echo.seen] == [("ADDED", "a"), ("ADDED", "a-later")]
    assert echo.seen[1][2] == 1_120.0
    assert store.get("/Secret", "default", "a-later")["metadata"]["creationTimestamp"] == "1970-01-01T00:18:40Z"


def test_background_driver_jumps_when_quiet():
    clock = VirtualClock(start=0.0)
    store = Store(now=clock.now)
    sim = Simulation(store, clock, quiet_seconds=0.01)
    sim.add(_Echo(sim, clock, store))
    sim.start()
    try:
        store.create(_cm("b"))
        deadline = time.monotonic() + 5
        while store.get("/Secret", "default", "b-later") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert store.get("/Secret", "default", "b-later") is not None
        assert clock.now() >= 120.0
    finally:
        sim.stop()
    assert sim.error is None


def test_recorder_aggregates_legacy_events_and_series_for_new_style():
    clock = VirtualClock(start=1_700_000_000.0)
    store = Store(now=clock.now)
    pod = store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}})
    kubelet = EventRecorder(store, clock.now, "kubelet")
    kubelet.event(pod, "Warning", "Unhealthy", "Startup probe failed: connection refused", host="n1",
                  field_path="spec.containers{vllm}")
    clock.advance_to(clock.now() + 10)
    ev = kubelet.event(pod, "Warning", "Unhealthy", "Startup probe failed: connection refused", host="n1",
                       field_path="spec.containers{vllm}")
    assert ev["count"] == 2 and ev["firstTimestamp"] != ev["lastTimestamp"]
    assert ev["source"] == {"component": "kubelet", "host": "n1"}
    assert ev["involvedObject"]["fieldPath"] == "spec.containers{vllm}"
    scheduler = EventRecorder(store, clock.now, "default-scheduler", new_style=True)
    sched = scheduler.event(pod, "Normal", "Scheduled", "Successfully assigned ns/p to n1", action="Binding")
    assert sched["eventTime"].endswith("Z") and sched["firstTimestamp"] is None and sched["source"] == {}
    assert len(store.list("/Event", "ns")[0]) == 2


def test_the_clock_stops_once_a_client_has_seen_what_it_waited_for():
    """Time runs while a client waits on a watch. Once the wait is over the client hangs up and works (200 ms, no
    request): the clock must not keep running for it until the server's stream notices (it ran ~56 s before)."""
    profile = load_profile("baseline")
    with EmbeddedCluster(profile) as cluster, Cluster.connect("embedded", profile=profile, run_id="be0c0009",
                                                             embedded=cluster) as conn:
        for i in range(3):
            name = f"awaited-{i}"
            made = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}
            threading.Timer(0.05, cluster.store.create, (made,)).start()
            wait_for(conn, "v1", "ConfigMap", "default", label_selector=None, timeout=600, what=name,
                     done=lambda objects, n=name: (int(n in objects), 1))
            before = cluster.clock.now()
            busy_until = time.monotonic() + 0.2
            while time.monotonic() < busy_until:
                pass
            assert cluster.clock.now() - before < 15, "cluster time ran while the client worked"
