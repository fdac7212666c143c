"""Events in every shape SREs paste, one real public sample per shape (tests/timeline/data/events and pods, each
with its source URL in a `.source` file beside it): markdown tables, headerless `get events` rows with and without
the namespace column, `describe node` and `describe nodeclaim`, Karpenter's pod and NodeClaim events, events a
controller logged itself, Kueue's workload events, and the pod's last termination (exit 137 versus OOMKilled)."""

from __future__ import annotations

from pathlib import Path

from coldstart.kube.times import parse_age
from coldstart.timeline.build import build_timeline
from coldstart.timeline.inputs import parse_events, timeline_from_texts
from coldstart.timeline.sources.events import Event
from coldstart.timeline.sources.provisioning import (
    CLUSTER_AUTOSCALER_MARKS,
    KARPENTER_MARKS,
    PROVISIONING_MARKS,
    node_provisioning,
)

DATA = Path(__file__).with_name("data")


def _events(name: str) -> list[Event]:
    return parse_events((DATA / "events" / name).read_text())


def test_every_sample_names_its_source() -> None:
    for path in [*(DATA / "events").iterdir(), *(DATA / "pods").iterdir()]:
        if path.suffix != ".source":
            source = path.with_name(path.name + ".source").read_text()
            assert "https://github.com/" in source or "stored-file id" in source, path.name


# -- markdown tables -----------------------------------------------------------------------------------------

def test_markdown_events_table() -> None:
    events = _events("markdown_table_sentiment_api.md")
    assert [e.reason for e in events] == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    pulled = events[2]
    assert (pulled.info["seconds"], pulled.info["bytes"], pulled.last_age) == (352.063, 1302830843, 303.0)
    assert events[0].info["node"] == "mlops-workshop-worker" and events[0].component == "default-scheduler"


def test_markdown_table_without_spaces_and_a_cut_row() -> None:
    (event,) = _events("markdown_table_karpenter_3262.md")
    assert (event.reason, event.type, event.count, event.first_age, event.last_age) == \
        ("FailedScheduling", "Warning", 352, 119 * 60.0, 311.0)
    assert event.message == "0/31 nodes are av"


# -- kubectl get events rows without their header --------------------------------------------------------------

def test_get_events_rows_with_object_column() -> None:
    events = _events("karpenter_get_events_aws_cdk_33373.txt")
    assert [e.reason for e in events][:3] == ["Nominated", "Launched", "DisruptionBlocked"]
    assert (events[0].kind, events[0].name, events[1].kind, events[1].name) == \
        ("Pod", "nginx-5869d7778c-52pzg", "NodeClaim", "general-purpose-87brc")
    assert events[1].info["condition"] == "Launched" and events[1].info["status"] == "True"


def test_get_events_all_namespaces_rows() -> None:
    events = _events("aks_nap_get_events_all_namespaces.txt")
    assert len(events) == 8
    nominated = events[0]
    assert (nominated.namespace, nominated.kind, nominated.name, nominated.last_age) == \
        ("pets", "Pod", "nap-stress-74cf596db6-w4566", 600.0)
    assert nominated.info["target"] == "default-rp626"


# -- describe sections ----------------------------------------------------------------------------------------

def test_describe_nodeclaim_events() -> None:
    events = _events("karpenter_nodeclaim_describe.txt")
    assert [e.reason for e in events] == ["Launched", "DisruptionBlocked", "Registered", "Initialized", "Ready"]
    assert [e.last_age for e in events] == [70.0, 70.0, 48.0, 36.0, 36.0]
    assert events[0].component == "karpenter" and events[3].info["condition"] == "Initialized"


def test_describe_node_events_keep_counts() -> None:
    events = _events("describe_node_events_karpenter_1702.txt")
    assert [(e.reason, e.count, e.first_age) for e in events] == [
        ("NodeHasSufficientMemory", 2, parse_age("47m")), ("NodeAllocatableEnforced", 1, parse_age("47m")),
        ("NodeHasSufficientPID", 2, parse_age("47m"))]


def test_describe_node_sets_the_kind() -> None:
    text = ("Name:               gpu-node-1\nRoles:              <none>\n"
            "Taints:             nvidia.com/gpu:NoSchedule\n"
            "Events:\n  Type    Reason     Age   From     Message\n  ----    ------     ----  ----     -------\n"
            "  Normal  NodeReady  2m    kubelet  Node gpu-node-1 status is now: NodeReady\n")
    (event,) = parse_events(text)
    assert (event.kind, event.name) == ("Node", "gpu-node-1")


# -- Karpenter: node provisioning marks -----------------------------------------------------------------------------

def test_karpenter_pod_events_name_the_nodeclaims() -> None:
    events = _events("karpenter_pod_describe_data_on_eks_589.txt")
    assert [e.info.get("target") for e in events if e.reason == "Nominated"] == [
        "g5-gpu-karpenter-fc4pv", "g5-gpu-karpenter-jnzd8", "g5-gpu-karpenter-w9g6f", "g5-gpu-karpenter-ldz6d"]
    found = node_provisioning(events, {}, {})
    assert found is not None and found.provisioner == "karpenter" and found.claim == "g5-gpu-karpenter-ldz6d"
    assert found.event("scale_up") is events[1]  # the first time Karpenter chose to add a node


def test_karpenter_node_provisioning_marks_on_aks() -> None:
    timeline = timeline_from_texts(events=[("events", (DATA / "events" / "aks_nap_get_events_all_namespaces.txt")
                                            .read_text())])
    (pod,) = [p for p in timeline.pods if p.pod.endswith("nap-stress-74cf596db6-w4566")]
    marks = {k: v for k, v in pod.marks.items() if k.startswith(("scale_up", "node_"))}
    assert marks == {"scale_up": 0.0, "node_launched": 0.0, "node_registered": 60.0, "node_ready": 88.0}


def test_karpenter_marks_match_the_cluster_autoscaler_s() -> None:
    """Both provisioners give the same marks: the decision, then the node."""
    ca = parse_events("Events:\n  Type    Reason            Age   From                Message\n"
                      "  ----    ------            ----  ----                -------\n"
                      "  Normal  TriggeredScaleUp  5m    cluster-autoscaler  pod triggered scale-up: "
                      "[{gke-gpu-pool-grp 0->1 (max: 4)}]\n")
    found = node_provisioning(ca, {}, {})
    assert found is not None and found.provisioner == "cluster-autoscaler" and found.claim == "gke-gpu-pool-grp"
    assert list(found.events or {}) == ["scale_up"]


def test_karpenter_controller_json_log() -> None:
    """Karpenter's own log, as pasted in https://github.com/aws/karpenter-provider-aws/issues/7356."""
    line = ('{"level":"INFO","time":"2024-11-08T18:01:15.732Z","logger":"controller","caller":"lifecycle/launch.go:61",'
            '"message":"launched nodeclaim","commit":"901a5dc","controller":"nodeclaim.lifecycle","controllerGroup":'
            '"karpenter.sh","controllerKind":"NodeClaim","NodeClaim":{"name":"default-pf29b"},"namespace":"","name":'
            '"default-pf29b","reconcileID":"08844b79-06d2-4a9d-b14d-f0e0d131e930","provider-id":'
            '"aws:///eu-west-2a/i-0cd1463c1d01696c0","instance-type":"c6a.2xlarge","zone":"eu-west-2a","capacity-type":'
            '"on-demand","allocatable":{"cpu":"7910m","ephemeral-storage":"17Gi","memory":"14162Mi","pods":"58",'
            '"vpc.amazonaws.com/pod-eni":"38"}}\n')
    (event,) = parse_events(line)
    assert (event.reason, event.kind, event.name) == ("Launched", "NodeClaim", "default-pf29b")
    assert event.first is not None and event.first.isoformat() == "2024-11-08T18:01:15.732000+00:00"


# -- events a controller logged itself ---------------------------------------------------------------------------

def test_cluster_autoscaler_logged_events() -> None:
    events = _events("cluster_autoscaler_pod_log.txt")
    assert [(e.reason, e.name) for e in events] == [("TriggeredScaleUp", "nginx-deploy-5975cd4c6f-khvm4"),
                                                  ("TriggeredScaleUp", "nginx-deploy-5975cd4c6f-fzvs5")]
    assert events[0].info["groups"] == [{"group": "terraform-20221223072925690300000012", "from": 6, "to": 7,
                                         "max": 12}]


def test_oldest_klog_event_lines() -> None:
    events = _events("kubelet_klog_events_9534.txt")
    assert [(e.reason, e.kind, e.name) for e in events] == [("pulled", "Pod", "gh-tag"), ("created", "Pod", "gh-tag")]
    assert events[0].info["image"] == "gcr.io/google_containers/pause:0.8.0"


# -- Kueue ---------------------------------------------------------------------------------------------------------

def test_kueue_workload_events() -> None:
    events = _events("kueue_workload_describe_2376.txt")
    assert [e.reason for e in events] == ["Pending", "QuotaReserved", "EvictedDueToPodsReadyTimeout", "Admitted"]
    pending, reserved, evicted, admitted = events
    assert (pending.count, pending.first_age, pending.info["preemptions_pending"]) == (5, 185.0, 1)
    assert reserved.info["wait_seconds"] == 1.0 and admitted.info["wait_seconds"] == 0.0
    assert evicted.info == {"evicted": "PodsReadyTimeout", "workload": "e2e-gsj4m/job-high-67543"}


def test_kueue_eviction_is_a_reason_on_the_timeline() -> None:
    events = [*_events("kueue_workload_describe_2376.txt")]
    for ev in events:
        ev.kind, ev.name = "Pod", "job-high-67543-abcde"
    (pod,) = build_timeline(events, []).pods
    assert [r.reason for r in pod.reasons] == ["Pending", "EvictedDueToPodsReadyTimeout"]


# -- the last termination: exit 137 is a kill, OOMKilled is the kernel's memory verdict -----------------------------

def test_oomkilled_pod() -> None:
    text = (DATA / "pods" / "oomkilled_get_and_describe_28772.txt").read_text()
    timeline = timeline_from_texts(pods=[("pods", text)])
    (pod,) = timeline.pods
    reasons = {r.reason: r.message for r in pod.reasons}
    assert "OOMKilled" in reasons


def test_exit_137_without_oomkilled_is_a_kill_not_an_oom() -> None:
    timeline = timeline_from_texts(pods=[("pods", (DATA / "pods" / "exit137_error_describe.txt").read_text())])
    (pod,) = timeline.pods
    (last,) = [r for r in pod.reasons if r.reason == "Error"]
    assert "exit code 137" in last.message and "SIGKILL" in last.message and "not an OOM kill" in last.message


def test_cluster_autoscaler_node_marks_on_the_timeline() -> None:
    """The same marks from the cluster autoscaler's path: the pod's TriggeredScaleUp, then its node's own events."""
    def event(kind: str, name: str, reason: str, at: str, message: str) -> dict:
        return {"kind": "Event", "involvedObject": {"kind": kind, "name": name, "namespace": "llm" if kind == "Pod"
                                                    else ""},
                "reason": reason, "message": message, "firstTimestamp": at, "lastTimestamp": at, "count": 1}
    objects = [event("Pod", "vllm-0", "TriggeredScaleUp", "2025-06-02T10:00:05Z",
                     "pod triggered scale-up: [{gke-gpu-pool 0->1 (max: 4)}]"),
               event("Node", "gke-gpu-pool-1", "RegisteredNode", "2025-06-02T10:01:00Z",
                     "Node gke-gpu-pool-1 event: Registered Node gke-gpu-pool-1 in Controller"),
               event("Node", "gke-gpu-pool-1", "NodeReady", "2025-06-02T10:01:20Z",
                     "Node gke-gpu-pool-1 status is now: NodeReady"),
               event("Pod", "vllm-0", "Scheduled", "2025-06-02T10:01:40Z",
                     "Successfully assigned llm/vllm-0 to gke-gpu-pool-1")]
    (pod,) = build_timeline(parse_events(objects), []).pods
    marks = {k: v for k, v in pod.marks.items() if k.startswith(("scale_up", "node_"))}
    assert marks == {"scale_up": 0.0, "node_registered": 55.0, "node_ready": 75.0}


def test_karpenter_reasons_are_named_once() -> None:
    """The reasons an embedded Karpenter emits are the ones read: every one maps to a provisioning mark."""
    assert set(KARPENTER_MARKS.values()) == set(PROVISIONING_MARKS)
    assert set(CLUSTER_AUTOSCALER_MARKS.values()) == set(PROVISIONING_MARKS) - {"node_launched"}
