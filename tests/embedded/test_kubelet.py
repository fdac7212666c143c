"""The simulated kubelet: pulls, volumes, containers, conditions, probes, restarts and deletion, driven through
the store with a stand-in for the control plane (we create a Ready GPU node and bind pods ourselves)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from coldstart.embedded.clock import Simulation, VirtualClock
from coldstart.embedded.context import SimContext
from coldstart.embedded.node.images import go_duration
from coldstart.embedded.node.kubelet import Kubelet
from coldstart.embedded.node.side import node_side
from coldstart.embedded.store.store import PodLogs, Store
from coldstart.profiles import load_profile, profile_with

START = 1_764_230_000.0
NS = "ns"
PULLED = re.compile(r'^Successfully pulled image "(?P<ref>[^"]+)" in (?P<took>\S+) \((?P<total>\S+) including '
                    r"waiting\)\. Image size: (?P<size>\d+) bytes\.$")


def seconds(go: str) -> float:
    """A Go duration string back to seconds (41.2s, 1m10.933s, 412ms)."""
    if go.endswith("ms"):
        return float(go[:-2]) / 1000
    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)([hms])", go):
        total += float(value) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


class Cluster:
    """A store, a clock and the node side, plus helpers standing in for the control plane."""

    def __init__(self, profile: str = "baseline", changes: dict | None = None, seed: int | None = None):
        prof = load_profile(profile)
        if changes:
            prof = profile_with(prof, changes)
        self.profile = prof
        self.clock = VirtualClock(start=START)
        self.store = Store(now=self.clock.now)
        self.logs = PodLogs()
        self.ctx = SimContext(prof, self.store, self.clock, self.logs, seed)
        self.sim = Simulation(self.store, self.clock)
        self.controllers = node_side(self.ctx)
        self.sim.add(*self.controllers)

    @property
    def kubelet(self) -> Kubelet:
        return next(c for c in self.controllers if isinstance(c, Kubelet))

    # -- objects ------------------------------------------------------------------------------------
    def node(self, name: str = "gpu-0", gpus: int = 1, labels: dict | None = None, ready: bool = True) -> dict:
        return self.store.create({
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"podCIDR": "10.4.1.0/24"},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "allocatable": {"nvidia.com/gpu": str(gpus) if ready else "0", "memory": "64Gi"},
                       "addresses": [{"type": "InternalIP", "address": "10.128.0.5"}]}})

    def set_ready(self, name: str, gpus: int = 1) -> None:
        def ready(node: dict) -> None:
            node["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
            node["status"]["allocatable"]["nvidia.com/gpu"] = str(gpus)
        self.store.mutate("/Node", "", name, ready)

    def pod(self, name: str, containers: list[dict], *, volumes: list | None = None, init: list | None = None,
            node: str = "gpu-0", restart: str = "Always") -> dict:
        spec: dict[str, Any] = {"nodeName": node, "containers": containers, "restartPolicy": restart,
                                "volumes": volumes or []}
        if init:
            spec["initContainers"] = init
        return self.store.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
                                  "spec": spec})

    def storage_class(self, name: str, provisioner: str, **params: str) -> None:
        self.store.create({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
                           "provisioner": provisioner, "parameters": params})

    def claim(self, name: str, storage_class: str, bound: bool = True) -> None:
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": NS},
                 "spec": {"storageClassName": storage_class, "accessModes": ["ReadWriteMany"],
                          "resources": {"requests": {"storage": "50Gi"}}},
                 "status": {"phase": "Pending"}}
        if bound:
            claim["spec"]["volumeName"] = f"pvc-{name}-0001"
            claim["status"]["phase"] = "Bound"
        self.store.create(claim)

    def bind_claim(self, name: str) -> None:
        def bound(claim: dict) -> None:
            claim["spec"]["volumeName"] = f"pvc-{name}-0001"
            claim["status"] = {"phase": "Bound"}
        self.store.mutate("/PersistentVolumeClaim", NS, name, bound)

    # -- running and reading ------------------------------------------------------------------------
    def run(self, seconds: float = 900.0) -> None:
        self.sim.run_for(seconds)

    def events(self, pod: str | None = None, reason: str | None = None) -> list[dict]:
        items = [e for e in self.store.list("/Event")[0]
                 if (pod is None or e["involvedObject"]["name"] == pod) and (reason is None or e["reason"] == reason)]
        return sorted(items, key=lambda e: (e.get("firstTimestamp") or e.get("eventTime") or "",
                                            e["metadata"]["resourceVersion"]))

    def messages(self, pod: str, reason: str) -> list[str]:
        return [e["message"] for e in self.events(pod, reason)]

    def status(self, pod: str) -> dict:
        return self.store.get("/Pod", NS, pod)["status"]

    def container(self, pod: str, name: str = "vllm") -> dict:
        return next(c for c in self.status(pod)["containerStatuses"] if c["name"] == name)

    def condition(self, pod: str, type_: str) -> dict:
        return next(c for c in self.status(pod)["conditions"] if c["type"] == type_)

    def log(self, pod: str, container: str = "vllm", previous: bool = False) -> list[str]:
        return [line for _, line in self.logs.read(NS, pod, container, previous)]

    def truth(self, pod: str) -> dict[str, tuple[float, float]]:
        found = self.ctx.truth.get((NS, pod))
        return dict(found.phases) if found else {}


def engine(image: str, args: list[str], *, env: dict | None = None, memory: str = "36Gi", gpus: int = 1,
           startup_failures: int = 60, shm: bool = True, policy: str | None = None, name: str = "vllm",
           mounts: list | None = None, command: list[str] | None = None) -> dict:
    """A vLLM container as the manifests write it (startup + readiness probes on /health)."""
    container: dict[str, Any] = {
        "name": name, "image": image, "command": command if command is not None else ["vllm", "serve"], "args": args,
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "ports": [{"containerPort": 8000, "name": "http"}],
        "resources": {"limits": {"nvidia.com/gpu": str(gpus), "memory": memory},
                      "requests": {"nvidia.com/gpu": str(gpus), "memory": memory}},
        "startupProbe": {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 10,
                         "failureThreshold": startup_failures},
        "readinessProbe": {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 5},
        "volumeMounts": ([{"name": "shm", "mountPath": "/dev/shm"}] if shm else []) + (mounts or []),
    }
    if policy:
        container["imagePullPolicy"] = policy
    return container


SHM = {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}}
GOOD_ARGS = ["--model=Qwen/Qwen2.5-7B-Instruct", "--gpu-memory-utilization=0.75", "--max-model-len=8192",
             "--load-format=runai_streamer"]
OFFLINE = {"HF_HUB_OFFLINE": "1", "RUNAI_STREAMER_MEMORY_LIMIT": str(4 * 2**30)}


def sidecar(image: str, name: str = "helper") -> dict:
    return {"name": name, "image": image, "command": ["sh", "-c", "sleep infinity"]}


def hf_cache(cluster: Cluster, claim: str = "hf-cache") -> tuple[dict, dict]:
    """A claim holding the Hugging Face cache, pre-hydrated with the profile's model (as an earlier download would)."""
    cluster.kubelet.state.write(f"pvc:{NS}/{claim}", f"hf:{cluster.profile.model.name}")
    return ({"name": "cache", "persistentVolumeClaim": {"claimName": claim}},
            {"name": "cache", "mountPath": "/root/.cache"})


@pytest.fixture
def cluster() -> Cluster:
    c = Cluster()
    c.node()
    return c


# -- images -------------------------------------------------------------------------------------------
def test_cold_pull_then_digest_if_not_present_is_already_present(cluster: Cluster):
    image = cluster.profile.image.vllm
    cluster.pod("a", [sidecar(image)])
    cluster.run(300)
    pulled = cluster.messages("a", "Pulled")[0]
    m = PULLED.match(pulled)
    assert m and m["ref"] == image, pulled
    k = cluster.profile.kinetics
    expected = 8.4e9 / (k.registry_mb_per_s * 1e6) + 8.4e9 / (k.zstd_decompress_mb_per_s * 1e6)
    assert seconds(m["took"]) == pytest.approx(expected, rel=0.1)
    assert int(m["size"]) > 8.4e9  # the unpacked size, as containerd reports it
    assert cluster.messages("a", "Pulling") == [f'Pulling image "{image}"']
    status = cluster.container("a", "helper")
    assert status["imageID"] == image  # repo@sha256 of the pinned digest
    cluster.pod("b", [sidecar(image)])
    cluster.run(60)
    assert cluster.messages("b", "Pulled") == [f'Container image "{image}" already present on machine']
    assert cluster.messages("b", "Pulling") == []
    assert cluster.container("b", "helper")["state"]["running"]


def test_tag_with_always_repulls_when_the_tag_moved_but_if_not_present_does_not(cluster: Cluster):
    tagged = "registry.local:5000/vllm/vllm-openai:v0.11.0"
    cluster.pod("a", [sidecar(tagged) | {"imagePullPolicy": "Always"}])
    cluster.run(120)
    first = PULLED.match(cluster.messages("a", "Pulled")[0])
    # right away the tag still points at the same digest: Always still contacts the registry, layers are there
    cluster.pod("b", [sidecar(tagged) | {"imagePullPolicy": "Always"}])
    cluster.run(30)
    quick = PULLED.match(cluster.messages("b", "Pulled")[0])
    assert cluster.messages("b", "Pulling") == [f'Pulling image "{tagged}"']
    assert seconds(quick["took"]) < 2 < seconds(first["took"])
    # a re-push period later the tag names a new digest: the warm node downloads it all again
    cluster.run(cluster.profile.kinetics.tag_repush_minutes * 60)
    cluster.pod("c", [sidecar(tagged) | {"imagePullPolicy": "Always"}])
    cluster.pod("d", [sidecar(tagged) | {"imagePullPolicy": "IfNotPresent"}])
    cluster.run(200)
    again = PULLED.match(cluster.messages("c", "Pulled")[0])
    assert seconds(again["took"]) == pytest.approx(seconds(first["took"]), rel=0.15)
    assert cluster.container("c", "helper")["imageID"] != cluster.container("a", "helper")["imageID"]
    assert cluster.messages("d", "Pulled") == [f'Container image "{tagged}" already present on machine']


def test_pulls_are_serialised_per_node(cluster: Cluster):
    cluster.pod("a", [sidecar(cluster.profile.image.vllm)])
    cluster.pod("b", [sidecar("registry.local:5000/tools/busybox:1.36")])
    cluster.run(300)
    # Each pod asks for its image after its own (jittered) sandbox start, so the two requests are a fraction of a
    # second apart: "including waiting" counts from each pod's own request (the pull phase's start, kubelet truth).
    first, second = sorted("ab", key=lambda p: cluster.truth(p)["image_pull"][1])
    (asked_1, pulled_1), (asked_2, pulled_2) = cluster.truth(first)["image_pull"], cluster.truth(second)["image_pull"]
    one, two = (PULLED.match(cluster.messages(p, "Pulled")[0]) for p in (first, second))
    assert asked_2 < pulled_1, "the second pod asked while the first pull ran (else nothing was serialised)"
    assert seconds(one["total"]) == pytest.approx(seconds(one["took"]), abs=0.01)  # the first did not wait
    assert seconds(one["took"]) == pytest.approx(pulled_1 - asked_1, abs=0.01)
    assert pulled_2 - pulled_1 == pytest.approx(seconds(two["took"]), abs=0.01)  # the second began when it ended
    assert seconds(two["total"]) == pytest.approx(pulled_2 - asked_2, abs=0.01)  # and counts its wait
    assert seconds(two["total"]) > seconds(two["took"]) + 1.0


def _pull_seconds(changes: dict, image: str | None = None) -> float:
    c = Cluster(changes=changes)
    c.node()
    c.pod("a", [sidecar(image or c.profile.image.vllm)])
    c.run(600)
    return seconds(PULLED.match(c.messages("a", "Pulled")[0])["took"])


def test_zstd_is_faster_than_gzip_and_cross_region_is_slower():
    zstd = _pull_seconds({"image.compression": "zstd"})
    gzip = _pull_seconds({"image.compression": "gzip"})
    assert gzip > zstd * 1.3
    near = _pull_seconds({}, "registry.local:5000/tools/app:1.0")
    far = _pull_seconds({}, "docker.io/library/app:1.0")  # not the profile's registry: cross-region link
    k = load_profile("baseline").kinetics
    extra = 500e6 / (k.cross_region_mb_per_s * 1e6) - 500e6 / (k.registry_mb_per_s * 1e6)
    assert far - near == pytest.approx(extra, rel=0.3)


def test_image_streaming_pulls_early_and_says_so_on_the_node():
    plain = Cluster("gke")
    plain.node()
    streaming = Cluster("gke")
    streaming.node(labels={"cloud.google.com/gke-image-streaming": "true"})
    for c in (plain, streaming):
        volume, mount = hf_cache(c)
        c.claim("hf-cache", "standard")
        c.pod("a", [engine(c.profile.image.vllm, GOOD_ARGS, env=OFFLINE, mounts=[mount])], volumes=[SHM, volume])
        c.run(600)
    fast = seconds(PULLED.match(streaming.messages("a", "Pulled")[0])["took"])
    slow = seconds(PULLED.match(plain.messages("a", "Pulled")[0])["took"])
    k = streaming.profile.kinetics
    assert fast == pytest.approx(k.image_streaming_start_seconds * 8.4e9 / 5e9, rel=0.1) and fast < slow
    node_events = [e for e in streaming.events(reason="ImageStreaming") if e["involvedObject"]["kind"] == "Node"]
    assert node_events and node_events[0]["message"] == \
        f"Image {streaming.profile.image.vllm} is backed by image streaming."
    # the rest of the image is fetched lazily: the engine's imports are slower than from a local image
    first = {c: c.logs.read(NS, "a", "vllm")[0][0] - c.truth("a")["container_start"][1] for c in (plain, streaming)}
    assert first[streaming] > first[plain] + 5


# -- volumes ------------------------------------------------------------------------------------------
def test_unbound_claim_fails_mount_until_bound(cluster: Cluster):
    cluster.claim("weights", "standard", bound=False)
    cluster.pod("a", [sidecar("registry.local:5000/tools/app:1.0") | {
        "volumeMounts": [{"name": "w", "mountPath": "/data"}]}],
        volumes=[{"name": "w", "persistentVolumeClaim": {"claimName": "weights"}}])
    cluster.run(35)
    failed = cluster.events("a", "FailedMount")
    assert failed and failed[0]["type"] == "Warning" and failed[0]["count"] >= 3
    assert failed[0]["message"] == ("Unable to attach or mount volumes: unmounted volumes=[w], unattached volumes=[], "
                                    "failed to process volumes=[w]: error processing PVC ns/weights: PVC is not bound")
    assert cluster.events("a", "Pulling") == []
    assert cluster.condition("a", "PodReadyToStartContainers")["status"] == "False"
    cluster.bind_claim("weights")
    cluster.run(60)
    assert cluster.condition("a", "PodReadyToStartContainers")["status"] == "True"
    assert cluster.container("a", "helper")["state"].get("running")


def test_pd_claims_are_attached_once_per_node_before_the_pod_starts(cluster: Cluster):
    cluster.storage_class("hyperdisk-ml", "pd.csi.storage.gke.io", type="hyperdisk-ml")
    cluster.claim("weights", "hyperdisk-ml")
    vol = [{"name": "w", "persistentVolumeClaim": {"claimName": "weights"}}]
    mounts = {"volumeMounts": [{"name": "w", "mountPath": "/data"}]}
    cluster.pod("a", [sidecar("registry.local:5000/tools/app:1.0") | mounts], volumes=vol)
    cluster.run(120)
    attached = cluster.events("a", "SuccessfulAttachVolume")
    assert [e["message"] for e in attached] == ['AttachVolume.Attach succeeded for volume "pvc-weights-0001"']
    assert attached[0]["source"] == {"component": "attachdetach-controller"}
    pulling = cluster.events("a", "Pulling")[0]
    assert attached[0]["firstTimestamp"] <= pulling["firstTimestamp"]
    cluster.pod("b", [sidecar("registry.local:5000/tools/app:1.0") | mounts], volumes=vol)
    cluster.run(60)
    assert cluster.events("b", "SuccessfulAttachVolume") == []


# -- containers, conditions, init containers ------------------------------------------------------------
def test_container_events_status_and_conditions(cluster: Cluster):
    p = cluster.profile
    cluster.pod("a", [engine(p.image.vllm, GOOD_ARGS, env=OFFLINE, mounts=[hf_cache(cluster)[1]])],
                volumes=[SHM, hf_cache(cluster)[0]])
    cluster.claim("hf-cache", "standard")
    cluster.run(600)
    assert cluster.messages("a", "Created") == ["Created container: vllm"]
    assert cluster.messages("a", "Started") == ["Started container vllm"]
    started = cluster.events("a", "Started")[0]
    assert started["source"] == {"component": "kubelet", "host": "gpu-0"}
    assert started["involvedObject"]["fieldPath"] == "spec.containers{vllm}"
    status = cluster.status("a")
    assert status["phase"] == "Running" and status["podIP"].startswith("10.4.1.") and status["hostIP"] == "10.128.0.5"
    assert [c["type"] for c in status["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                         "ContainersReady"]
    vllm = cluster.container("a")
    assert vllm["ready"] and vllm["started"] and vllm["restartCount"] == 0
    assert vllm["imageID"].startswith("registry.local:5000/vllm/vllm-openai@sha256:")
    assert vllm["containerID"].startswith("containerd://")
    assert cluster.condition("a", "Ready")["lastTransitionTime"] > vllm["state"]["running"]["startedAt"]
    assert cluster.condition("a", "Ready")["lastTransitionTime"] == cluster.condition("a", "ContainersReady")[
        "lastTransitionTime"]
    # probes failed (connection refused) until /health answered, folded into one counted event
    unhealthy = cluster.events("a", "Unhealthy")
    assert len(unhealthy) == 1 and unhealthy[0]["count"] > 3
    assert re.fullmatch(r'Startup probe failed: Get "http://10\.4\.1\.\d+:8000/health": dial tcp 10\.4\.1\.\d+:8000: '
                        r"connect: connection refused", unhealthy[0]["message"])


def test_ready_condition_transitions_once(cluster: Cluster):
    cluster.pod("a", [sidecar("registry.local:5000/tools/app:1.0")])
    cluster.run(10)
    before = cluster.condition("a", "Ready")
    assert before["status"] == "False" and before["reason"] == "ContainersNotReady"
    assert before["message"] == "containers with unready status: [helper]"
    cluster.run(120)
    after = cluster.condition("a", "Ready")
    assert after["status"] == "True" and "reason" not in after
    cluster.run(120)
    assert cluster.condition("a", "Ready")["lastTransitionTime"] == after["lastTransitionTime"]


def test_init_containers_run_to_completion_in_order(cluster: Cluster):
    modelcar = cluster.profile.model.modelcar
    init = [{"name": "prepull", "image": cluster.profile.image.vllm, "command": ["/bin/sh", "-c", "true"]},
            {"name": "modelcar-init", "image": modelcar,
             "args": ["sh", "-c", "echo 'Pre-fetching modelcar oci://x: ' && echo 'Done!'"]}]
    cluster.pod("a", [sidecar("registry.local:5000/tools/app:1.0")], init=init)
    cluster.run(30)
    assert cluster.condition("a", "Initialized")["status"] == "False"
    assert cluster.status("a")["phase"] == "Pending"
    assert cluster.container("a", "helper")["state"]["waiting"]["reason"] == "PodInitializing"
    cluster.run(400)
    inits = cluster.status("a")["initContainerStatuses"]
    assert [s["state"]["terminated"]["reason"] for s in inits] == ["Completed", "Completed"]
    assert inits[0]["state"]["terminated"]["finishedAt"] <= inits[1]["state"]["terminated"]["startedAt"]
    assert cluster.log("a", "modelcar-init") == ["Pre-fetching modelcar oci://x: ", "Done!"]
    assert cluster.condition("a", "Initialized")["status"] == "True"
    assert cluster.events("a", "Started")[0]["involvedObject"]["fieldPath"] == "spec.initContainers{prepull}"
    assert cluster.status("a")["phase"] == "Running"


def test_pod_waits_for_its_node_to_be_ready_with_gpus():
    c = Cluster()
    c.node(ready=False)
    c.pod("a", [engine(c.profile.image.vllm, GOOD_ARGS, env=OFFLINE)], volumes=[SHM])
    c.run(120)
    assert c.events("a") == [] and "status" not in c.store.get("/Pod", NS, "a")
    c.set_ready("gpu-0")
    c.run(5)
    assert c.messages("a", "Pulling")


# -- probes, restarts, deletion -------------------------------------------------------------------------
def test_startup_probe_window_too_short_restarts_then_backs_off():
    c = Cluster()
    c.node()
    volumes, mount = hf_cache(c)
    c.claim("hf-cache", "standard")
    c.pod("a", [engine(c.profile.image.vllm, GOOD_ARGS, env=OFFLINE, startup_failures=3, mounts=[mount])],
          volumes=[SHM, volumes])
    c.run(400)
    kills = c.events("a", "Killing")
    assert kills and kills[0]["message"] == "Container vllm failed startup probe, will be restarted"
    assert kills[0]["count"] >= 2
    vllm = c.container("a")
    assert vllm["restartCount"] >= 2 and not vllm["ready"]
    last = vllm["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (137, "Error") and last["startedAt"] <= last["finishedAt"]
    backoff = c.events("a", "BackOff")
    uid = c.store.get("/Pod", NS, "a")["metadata"]["uid"]
    assert backoff and backoff[0]["message"] == f"Back-off restarting failed container vllm in pod a_ns({uid})"
    assert c.condition("a", "Ready")["status"] == "False"
    assert c.status("a")["phase"] == "Running"
    assert c.log("a", previous=True)[0].endswith("Automatically detected platform cuda.")
    c.run(600)
    waiting = c.container("a")["state"].get("waiting")
    assert waiting is None or (waiting["reason"] == "CrashLoopBackOff" and "restarting failed container=vllm"
                               in waiting["message"])
    # the fixed manifest (a startup window longer than the start) becomes Ready without a restart
    fixed = Cluster()
    fixed.node()
    volumes, mount = hf_cache(fixed)
    fixed.claim("hf-cache", "standard")
    fixed.pod("a", [engine(fixed.profile.image.vllm, GOOD_ARGS, env=OFFLINE, mounts=[mount])], volumes=[SHM, volumes])
    fixed.run(600)
    assert fixed.condition("a", "Ready")["status"] == "True" and fixed.container("a")["restartCount"] == 0


def test_crash_loop_back_off_doubles_from_ten_seconds_to_five_minutes():
    c = Cluster()
    c.node()
    c.pod("a", [{"name": "app", "image": "registry.local:5000/tools/app:1.0", "command": ["sh", "-c", "exit 3"]}])
    c.run(1800)
    starts = c.events("a", "Started")  # the recorder opens a new Event object every ten minutes
    first, last = _epoch(starts[0]["firstTimestamp"]), _epoch(starts[-1]["lastTimestamp"])
    restarts = sum(e["count"] for e in starts) - 1
    # restarts: immediately, then after 10, 20, 40, 80, 160, 300, 300 ... seconds (plus ~2 s to start each time)
    delays = [0, 10, 20, 40, 80, 160] + [300] * 10
    expected = sum(1 for i in range(len(delays)) if sum(delays[:i + 1]) + 2.2 * (i + 1) <= last - first + 1)
    assert restarts == pytest.approx(expected, abs=1) and restarts >= 8
    status = c.container("a", "app")
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert status["state"]["waiting"] == {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed "
                                          f"container=app pod=a_ns({c.store.get('/Pod', NS, 'a')['metadata']['uid']})"}
    assert go_duration(10) == "10s" and go_duration(70.933) == "1m10.933s" and go_duration(0.4121) == "412ms"


def test_liveness_probe_kills_a_process_that_never_answers():
    c = Cluster()
    c.node()
    app = {"name": "app", "image": "registry.local:5000/tools/app:1.0", "command": ["sleep", "infinity"],
           "livenessProbe": {"tcpSocket": {"port": 9999}, "periodSeconds": 1, "failureThreshold": 1}}
    c.pod("a", [app])
    c.run(200)
    assert c.messages("a", "Killing") == ["Container app failed liveness probe, will be restarted"]
    assert re.fullmatch(r"Liveness probe failed: dial tcp 10\.4\.1\.\d+:9999: connect: connection refused",
                        c.messages("a", "Unhealthy")[0])
    assert c.container("a", "app")["restartCount"] >= 3


def test_deleting_a_running_pod_stops_its_containers_and_drops_its_logs(cluster: Cluster):
    p = cluster.profile
    cluster.pod("a", [engine(p.image.vllm, GOOD_ARGS, env=OFFLINE, mounts=[hf_cache(cluster)[1]])],
                volumes=[SHM, hf_cache(cluster)[0]])
    cluster.claim("hf-cache", "standard")
    cluster.run(200)
    assert cluster.log("a")
    cluster.store.delete("/Pod", NS, "a")
    cluster.run(600)
    assert cluster.messages("a", "Killing") == ["Stopping container vllm"]
    assert cluster.log("a") == [] and cluster.logs.containers(NS, "a") == []
    assert not any("Application startup complete" in line for line in cluster.log("a"))


def test_same_seed_same_timeline():
    def timeline() -> tuple[list, list]:
        c = Cluster()
        c.node()
        volume, mount = hf_cache(c)
        c.claim("hf-cache", "standard")
        c.pod("a", [engine(c.profile.image.vllm, GOOD_ARGS, env=OFFLINE, mounts=[mount])], volumes=[SHM, volume])
        c.run(400)
        events = [(e["firstTimestamp"], e["lastTimestamp"], e["count"], e["reason"], e["message"])
                  for e in c.events("a")]
        return events, c.logs.read(NS, "a", "vllm")
    first, second = timeline(), timeline()
    assert first == second and len(first[1]) > 40


def test_ground_truth_phases_are_recorded_in_order(cluster: Cluster):
    p = cluster.profile
    cluster.pod("a", [engine(p.image.vllm, GOOD_ARGS, env=OFFLINE, mounts=[hf_cache(cluster)[1]])],
                volumes=[SHM, hf_cache(cluster)[0]])
    cluster.claim("hf-cache", "standard")
    cluster.run(600)
    truth = cluster.truth("a")
    order = ["image_pull", "container_start", "weights_load", "compile", "graph_capture", "api_ready"]
    assert all(truth[name][0] <= truth[name][1] for name in order)
    assert [truth[n][0] for n in order] == sorted(truth[n][0] for n in order)
    assert truth["engine_init"][0] == truth["weights_load"][1]
    assert 0 < truth["api_ready"][0] - truth["engine_init"][1] < cluster.profile.kinetics.api_server_seconds
    ready = cluster.condition("a", "Ready")["lastTransitionTime"]
    assert abs(truth["api_ready"][1] - _epoch(ready)) < 1


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def test_bad_input_from_a_manifest_is_reported_not_crashed_on(cluster: Cluster):
    """An unparseable image, a Never policy without the image, unexpanded numbers: kubelet answers, sim goes on."""
    cluster.pod("a", [sidecar("registry.local:5000/Tools/App:1.0")])
    cluster.pod("b", [sidecar("registry.local:5000/tools/app:9.9") | {"imagePullPolicy": "Never"}])
    odd = engine(cluster.profile.image.vllm, ["--model=Qwen/Qwen2.5-7B-Instruct", "--tensor-parallel-size=$(TP)",
                                              "--gpu-memory-utilization=${UTIL}"], env=OFFLINE, memory="lots")
    odd["startupProbe"]["periodSeconds"] = "often"
    cluster.pod("c", [odd], volumes=[SHM])
    cluster.run(300)
    assert cluster.events("a", "InspectFailed")[0]["message"].endswith("invalid reference format")
    assert cluster.container("a", "helper")["state"]["waiting"]["reason"] == "InvalidImageName"
    assert cluster.messages("b", "ErrImageNeverPull") == [
        'Container image "registry.local:5000/tools/app:9.9" is not present with pull policy of Never']
    assert cluster.container("b", "helper")["state"]["waiting"]["reason"] == "ErrImageNeverPull"
    assert cluster.log("c")  # the engine ran with vLLM's defaults for what it could not read
