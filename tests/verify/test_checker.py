"""Invariant checker: reading manifests, finding vLLM engines and their settings, and each invariant's verdict.

Each invariant is shown passing on a small good manifest, failing on a minimally broken copy, and n/a where
the input cannot say. Bad input goes through `coldstart.cli.main` and must exit 2 with one line on stderr.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from coldstart.cli import main
from coldstart.errors import ManifestError
from coldstart.inputs.documents import Document, parse_text, read_documents
from coldstart.kube.images import ImageRef, effective_pull_policy, has_digest, is_engine_image, is_pause_image
from coldstart.kube.podspec import shm_volume
from coldstart.profiles import load_profile, profile_with, shipped_profiles
from coldstart.verify import INVARIANTS, check_documents, worst
from coldstart.verify.discovery import find_workloads
from coldstart.verify.workloads import Inventory
from tests.conftest import FIXTURES, need

# ---------------------------------------------------------------------------------------------------
# documents.py: input forms


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


HELM_OUTPUT = """\
# leading comment from a wrapper script
---
# Source: chart/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: engine-env
data:
  HF_HUB_OFFLINE: "1"
---
---
# Source: chart/templates/empty.yaml
---
# Source: chart/templates/list.yaml
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
- just a string, skipped
---
- apiVersion: v1
  kind: Service
  metadata: {name: b}
--- plain scalar document
"""


def test_helm_output_documents_keep_file_line_and_template():
    docs = parse_text(HELM_OUTPUT, "out.yaml")
    assert [(d.obj["kind"], d.obj["metadata"]["name"]) for d in docs] == [
        ("ConfigMap", "engine-env"), ("Service", "a"), ("Service", "b")]
    assert docs[0].line == 4 and docs[0].origin == "chart/templates/configmap.yaml"
    assert docs[1].origin == "chart/templates/list.yaml"
    assert all(d.file == "out.yaml" for d in docs)


def test_typed_list_items_get_their_kind_and_json_forms(tmp_path):
    pod_list = {"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "p"}, "spec": {}}]}
    single = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    _write(tmp_path, "d/list.json", json.dumps(pod_list))
    _write(tmp_path, "d/array.json", json.dumps([single, single | {"metadata": {"name": "t"}}]))
    _write(tmp_path, "d/stream.json", json.dumps(single) + "\n" + json.dumps(single | {"kind": "ConfigMap"}))
    _write(tmp_path, "d/nested/x.yml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n")
    _write(tmp_path, "d/notes.txt", "not a manifest")
    docs = read_documents([tmp_path / "d"])
    kinds = sorted(d.obj["kind"] for d in docs)
    assert kinds == ["ConfigMap", "Namespace", "Pod", "Service", "Service", "Service"]
    pod = next(d for d in docs if d.obj["kind"] == "Pod")
    assert pod.obj["apiVersion"] == "v1" and pod.file.endswith("list.json")


def test_stdin_is_read_with_dash(monkeypatch, capsys):
    manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(manifest))
    assert main(["verify", "-", "--format", "json"]) == 0  # no engine: everything n/a, nothing fails
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["fail"] == 0 and {f["file"] for f in out["findings"]} == {"<stdin>"}


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: a: b\n",
     "bad.yaml:5:12: not valid YAML (mapping values are not allowed in this context); fix the syntax"),
    ("bad.json", '{"apiVersion": "v1",, "kind": "Pod"}', "bad.json:1:21: not valid JSON"),
    ("chart.yaml", "metadata:\n  name: {{ .Values.name }}\n  x: [\n", "Helm templates must be rendered first"),
    ("values.yaml", "replicaCount: 1\nimage: {tag: x}\n", "no Kubernetes objects"),
    ("empty.yaml", "", "no Kubernetes objects"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, name, text, expected):
    path = _write(tmp_path, name, text)
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and str(path) in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_path_and_empty_directory_exit_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    _write(tmp_path, "empty/readme.md", "# not a manifest")
    assert main(["verify", str(tmp_path / "empty")]) == 2
    assert "no *.yaml, *.yml or *.json files" in capsys.readouterr().err


def test_nothing_half_read_when_one_file_is_bad(tmp_path):
    _write(tmp_path, "a.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    _write(tmp_path, "b.yaml", "key: [unclosed\n")
    with pytest.raises(ManifestError, match=r"b\.yaml:\d+:\d+: not valid YAML"):
        read_documents([tmp_path])


# ---------------------------------------------------------------------------------------------------
# workloads.py: engines, flags, environment


def _docs(text: str) -> list[Document]:
    return parse_text(text, "t.yaml")


def _engines(text: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(object, container, flags, env) of every engine container found."""
    inv = Inventory(_docs(text))
    return [(w.ref, c.name, c.flags, c.env) for w in find_workloads(inv) for p in w.pods for c in p.containers]


@pytest.mark.parametrize(("image", "explicit", "expected"), [
    ("vllm/vllm-openai:latest", None, "Always"),
    ("vllm/vllm-openai", None, "Always"),
    ("registry.local:5000/vllm/vllm-openai", None, "Always"),  # a registry port is not a tag
    ("vllm/vllm-openai:v0.8.5", None, "IfNotPresent"),
    ("vllm/vllm-openai:latest@sha256:" + "a" * 64, None, "IfNotPresent"),
    ("vllm/vllm-openai:v0.8.5", "Always", "Always"),
    ("oci://registry.local:5000/models/m:1.5", None, "IfNotPresent"),
])
def test_effective_pull_policy(image, explicit, expected):
    assert effective_pull_policy(image, explicit) == expected


def test_image_reference_helpers():
    digest = "@sha256:" + "0" * 64
    assert has_digest("registry.local:5000/vllm" + digest) and not has_digest("vllm/vllm-openai:v1")
    assert ImageRef.parse("vllm/vllm-openai:v1").host == "docker.io" and ImageRef.parse("ubuntu").host == "docker.io"
    assert ImageRef.parse("registry.local:5000/vllm/vllm-openai:v1").host == "registry.local:5000"
    assert ImageRef.parse("oci://us-central1-docker.pkg.dev/p/m:1").host == "us-central1-docker.pkg.dev"
    assert all(is_engine_image(i) for i in ("vllm/vllm-openai:v1", "quay.io/modh/vllm:rhoai-2.20-cuda",
                                            "us-docker.pkg.dev/vllm-tpu/vllm-tpu:nightly", "ghcr.io/x/vllm:1"))
    assert not any(is_engine_image(i) for i in ("ubuntu:22.04", "busybox", "rayproject/ray:2.9", None))
    assert is_pause_image("registry.k8s.io/pause:3.10") and is_pause_image("gcr.io/x/pause-amd64:3.1")


POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: ns}}
spec:
  initContainers:
  - name: prepull
    image: vllm/vllm-openai:v1
    command: ["/bin/sh", "-c", "true"]
  containers:
  - name: engine
    image: {image}
{body}
  - name: sidecar
    image: vllm/vllm-openai:v1
    command: ["python3", "/app/metrics_proxy.py"]
"""


def _pod(body: str, image: str = "vllm/vllm-openai:v1") -> str:
    return POD.format(image=image, body="\n".join("    " + line for line in body.splitlines()))


def test_init_container_and_sidecar_with_vllm_image_are_not_engines():
    engines = _engines(_pod("args: [Qwen/Qwen3-8B, --gpu-memory-utilization=0.7]"))
    assert [(ref, name) for ref, name, _, _ in engines] == [("Pod/ns/p", "engine")]
    assert engines[0][2]["gpu_memory_utilization"] == "0.7"


@pytest.mark.parametrize("body", [
    'command: [vllm, serve]\nargs: ["--gpu-memory-utilization", "0.7", "--enforce-eager", "m"]',
    'command: [python3, -m, vllm.entrypoints.openai.api_server]\nargs: ["--gpu_memory_utilization=0.7", '
    '"--enforce-eager"]',
    'args: ["--model=m", "--gpu-memory-utilization 0.7", "--enforce-eager"]',  # image entrypoint, spaced item
    'command: ["/bin/bash", "-exc"]\nargs:\n- |\n  export UTIL=0.7\n  EXTRA="--enforce-eager --port 8000"\n'
    '  exec vllm serve m \\\n    --gpu-memory-utilization ${UTIL} $EXTRA 2>&1 | tee /tmp/log',
    'command: [sh, -c, "vllm serve m --gpu-memory-utilization $(UTIL) --enforce-eager"]\n'
    'env: [{name: UTIL, value: "0.7"}]',
    'command: [sh, -c, "vllm serve m --gpu-memory-utilization ${UTIL:-0.7} --enforce-eager"]',
])
def test_flags_are_found_in_every_spelling(body):
    (_, _, flags, _), = _engines(_pod(body))
    assert flags["gpu_memory_utilization"] == "0.7" and flags["enforce_eager"] is True


def test_script_launch_in_a_plain_image_and_env_from_configmaps():
    text = _pod('command: [/bin/bash, -c]\nargs:\n- |\n  apt-get update && pip install vllm\n'
                '  export HF_HUB_OFFLINE=1\n  python -m vllm.entrypoints.openai.api_server --model ${MODEL} \\\n'
                '    --load-format ${FORMAT}\n'
                'envFrom: [{configMapRef: {name: engine-env}}]\n'
                'env:\n- {name: MODEL, valueFrom: {configMapKeyRef: {name: models, key: name}}}\n'
                '- {name: NCCL_CUMEM_ENABLE, value: "0"}', image="ubuntu:22.04") + """\
---
apiVersion: v1
kind: ConfigMap
metadata: {name: engine-env, namespace: ns}
data: {FORMAT: runai_streamer, TRANSFORMERS_OFFLINE: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: models, namespace: ns}
data: {name: Qwen/Qwen3-8B}
"""
    (_, _, flags, env), = _engines(text)
    assert flags["model"] == "Qwen/Qwen3-8B" and flags["load_format"] == "runai_streamer"
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1" and env["NCCL_CUMEM_ENABLE"] == "0"


def test_vllm_config_file_from_a_configmap_volume():
    text = _pod('command: [vllm, serve, --config, /etc/vllm/config.yaml, --enforce-eager]\n'
                'volumeMounts: [{name: cfg, mountPath: /etc/vllm}]') + """\
  volumes: [{name: cfg, configMap: {name: vllm-config}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: vllm-config, namespace: ns}
data:
  config.yaml: |
    gpu-memory-utilization: 0.7
    enforce-eager: false
"""
    (_, _, flags, _), = _engines(text)
    assert flags["gpu_memory_utilization"] == 0.7 and flags["enforce_eager"] is True  # command line wins


def test_ray_serve_engine_kwargs_on_gpu_workers_only():
    manifest = need(FIXTURES / "manifests" / "aws-data-on-eks-rayservice-deepseek-r1-8b-runai.yaml")
    engines = _engines(manifest.read_text())
    assert [name for _, name, _, _ in engines] == ["gpu-workers/ray-worker"]
    assert engines[0][2]["load_format"] == "runai_streamer" and engines[0][2]["gpu_memory_utilization"] == 0.92
    assert engines[0][3]["AWS_REGION"] == "$AWS_REGION"  # runtime_env env_vars reach the engine


def test_lws_leader_launches_and_worker_hosts():
    inv = Inventory(read_documents([need(FIXTURES / "manifests" / "gke-lws-vllm-llama3-405b-a3.yaml")]))
    (w,) = find_workloads(inv)
    roles = {c.name: c.launch.role for p in w.pods for c in p.containers}
    assert roles == {"leader/vllm-leader": "launcher", "worker/vllm-worker": "host"}
    leader = w.pods[0].containers[0]
    assert leader.flags["tensor_parallel_size"] == "8" and leader.launch.model.startswith("meta-llama/")


KSERVE = """\
apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata: {name: vllm-rt, namespace: ns}
spec:
  supportedModelFormats: [{name: vLLM, autoSelect: true}]
  nodeSelector: {gpu: l4}
  volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 16Gi}}]
  containers:
  - name: kserve-container
    image: vllm/vllm-openai:v1
    command: [vllm, serve]
    args: [--model=/mnt/models, --gpu-memory-utilization=0.7]
    env: [{name: NCCL_CUMEM_ENABLE, value: "1"}]
    volumeMounts: [{name: dshm, mountPath: /dev/shm}]
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: m, namespace: ns}
spec:
  predictor:
    priorityClassName: high
    tolerations: [{key: nvidia.com/gpu, operator: Exists}]
    model:
      modelFormat: {name: vLLM}
      storageUri: oci://registry.local/models/m:1
      args: [--enforce-eager]
      env: [{name: NCCL_CUMEM_ENABLE, value: "0"}]
      resources: {limits: {memory: 40Gi, nvidia.com/gpu: "1"}}
"""


def test_kserve_joins_runtime_by_model_format():
    inv = Inventory(_docs(KSERVE))
    (w,) = find_workloads(inv)  # the runtime is used by the ISVC, so it is not judged on its own
    (pod,) = w.pods
    (c,) = pod.containers
    assert w.ref == "InferenceService/ns/m" and c.image == "vllm/vllm-openai:v1"
    assert c.flags["gpu_memory_utilization"] == "0.7" and c.flags["enforce_eager"] is True  # args appended
    assert c.env["NCCL_CUMEM_ENABLE"] == "0"  # the predictor's env wins
    assert c.spec["resources"]["limits"]["memory"] == "40Gi"
    assert w.priority_class == "high" and w.node_selector == {"gpu": "l4"} and w.tolerations
    assert w.gpu == {"nvidia.com/gpu": 1} and [m.container for m in w.modelcars] == ["storageUri"]
    assert shm_volume(pod.spec, c.spec)["emptyDir"]["sizeLimit"] == "16Gi"


def test_unused_serving_runtime_is_judged_on_its_own():
    runtime_only = KSERVE.split("---")[0]
    (w,) = find_workloads(Inventory(_docs(runtime_only)))
    assert w.ref == "ServingRuntime/ns/vllm-rt"


KUBEAI_AND_DYNAMO = """\
apiVersion: kubeai.org/v1
kind: Model
metadata: {name: llama}
spec:
  engine: VLLM
  url: hf://meta-llama/Llama-3.1-8B-Instruct
  args: [--gpu-memory-utilization=0.7]
  env: {HF_HUB_OFFLINE: "1"}
  resourceProfile: nvidia-gpu-l4:1
---
apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeployment
metadata: {name: dyn}
spec:
  services:
    Frontend:
      componentType: frontend
      extraPodSpec: {mainContainer: {image: nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.5.0}}
    VllmDecodeWorker:
      componentType: worker
      envs: [{name: NCCL_CUMEM_ENABLE, value: "0"}]
      resources: {limits: {gpu: "1", memory: 40Gi}}
      compilationCache: {name: compile-cache, mountPoint: /root/.cache/vllm}
      extraPodSpec:
        mainContainer:
          image: nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.5.0
          command: [python3]
          args: [-m, dynamo.vllm, --model, Qwen/Qwen3-0.6B, --gpu-memory-utilization, "0.75"]
"""


def test_operator_resources_kubeai_and_dynamo():
    engines = _engines(KUBEAI_AND_DYNAMO)
    assert [(ref, name) for ref, name, _, _ in engines] == [
        ("Model/default/llama", "server"), ("DynamoGraphDeployment/default/dyn", "VllmDecodeWorker/main")]
    assert engines[0][2]["gpu_memory_utilization"] == "0.7" and engines[0][3]["HF_HUB_OFFLINE"] == "1"
    assert engines[1][2]["gpu_memory_utilization"] == "0.75" and engines[1][3]["NCCL_CUMEM_ENABLE"] == "0"


def test_objects_read_back_from_a_cluster_are_judged_once_via_their_owner():
    deployment = yaml.safe_load(_deployment_text())
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "vllm-abc", "namespace": "coldstart", "managedFields": [{"manager": "kubelet"}],
                        "ownerReferences": [{"kind": "Deployment", "name": "vllm"}]},
           "spec": deployment["spec"]["template"]["spec"], "status": {"phase": "Running"}}
    inv = Inventory([Document(deployment, "live"), Document(pod, "live")])
    assert [w.ref for w in find_workloads(inv)] == ["Deployment/coldstart/vllm"]


# ---------------------------------------------------------------------------------------------------
# invariants.py: each invariant on a good manifest set and minimally broken copies

DIGEST = "@sha256:" + "9f" * 32
VLLM = "registry.local:5000/vllm/vllm-openai" + DIGEST
MODELCAR = "registry.local:5000/models/qwen" + DIGEST
PAUSE = "registry.k8s.io/pause:3.10" + DIGEST
BASELINE = load_profile("baseline")
GKE = load_profile("gke")


def _deployment_text() -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: vllm, namespace: coldstart}}
spec:
  replicas: 1
  template:
    spec:
      priorityClassName: coldstart-workload
      nodeSelector: {{nvidia.com/gpu.product: NVIDIA-L4}}
      tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]
      initContainers:
      - name: modelcar
        image: {MODELCAR}
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "cp -r /models/. /mnt/models/"]
        volumeMounts: [{{name: models, mountPath: /mnt/models}}]
      containers:
      - name: vllm
        image: {VLLM}
        imagePullPolicy: IfNotPresent
        command: [vllm, serve]
        args: [/mnt/models, --load-format=runai_streamer, --gpu-memory-utilization=0.75]
        env:
        - {{name: HF_HUB_OFFLINE, value: "1"}}
        - {{name: TRANSFORMERS_OFFLINE, value: "1"}}
        - {{name: NCCL_CUMEM_ENABLE, value: "0"}}
        - {{name: RUNAI_STREAMER_MEMORY_LIMIT, value: "4294967296"}}
        resources:
          requests: {{memory: 36Gi, nvidia.com/gpu: "1"}}
          limits: {{memory: 36Gi, nvidia.com/gpu: "1"}}
        volumeMounts:
        - {{name: dshm, mountPath: /dev/shm}}
        - {{name: cache, mountPath: /root/.cache}}
        - {{name: models, mountPath: /mnt/models}}
        startupProbe: {{httpGet: {{path: /health, port: 8000}}, periodSeconds: 10, failureThreshold: 90}}
        livenessProbe: {{httpGet: {{path: /health, port: 8000}}, periodSeconds: 10, failureThreshold: 6}}
      volumes:
      - {{name: dshm, emptyDir: {{medium: Memory, sizeLimit: 16Gi}}}}
      - {{name: cache, persistentVolumeClaim: {{claimName: vllm-cache}}}}
      - {{name: models, emptyDir: {{}}}}
"""


GOOD_TEXT = f"""\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: coldstart-buffer}}
value: -5
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {{name: coldstart-workload}}
value: 1000
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: vllm-cache, namespace: coldstart}}
spec: {{accessModes: [ReadWriteMany], resources: {{requests: {{storage: 50Gi}}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: warm-buffer, namespace: coldstart}}
spec:
  replicas: 1
  template:
    spec:
      priorityClassName: coldstart-buffer
      nodeSelector: {{nvidia.com/gpu.product: NVIDIA-L4}}
      tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]
      initContainers:
      - {{name: prepull-vllm, image: "{VLLM}", imagePullPolicy: IfNotPresent, command: [/bin/sh, -c, "true"]}}
      containers:
      - {{name: pause, image: "{PAUSE}", imagePullPolicy: IfNotPresent,
          resources: {{limits: {{nvidia.com/gpu: "1"}}}}}}
---
{_deployment_text()}"""

GKE_TEXT = """\
apiVersion: cloud.google.com/v1
kind: ComputeClass
metadata: {name: vllm-l4}
spec:
  priorities:
  - {machineType: g2-standard-16, spot: true}
  - {machineType: g2-standard-16, spot: false}
  whenUnsatisfiable: ScaleUpAnyway
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: hyperdisk-ml}
provisioner: pd.csi.storage.gke.io
parameters: {type: hyperdisk-ml}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: weights, namespace: coldstart}
spec: {accessModes: [ReadOnlyMany], storageClassName: hyperdisk-ml, resources: {requests: {storage: 100Gi}}}
"""


def _good(gke: bool = False) -> list[dict[str, Any]]:
    if not gke:
        return list(yaml.safe_load_all(GOOD_TEXT))
    docs = list(yaml.safe_load_all(GOOD_TEXT.replace("registry.local:5000", "us-central1-docker.pkg.dev/p")))
    if gke:
        docs += list(yaml.safe_load_all(GKE_TEXT))
        for d in (docs[3], docs[4]):  # the buffer and the engine select the ComputeClass
            d["spec"]["template"]["spec"]["nodeSelector"]["cloud.google.com/compute-class"] = "vllm-l4"
        pod = docs[4]["spec"]["template"]["spec"]
        pod["volumes"].append({"name": "weights", "persistentVolumeClaim": {"claimName": "weights"}})
        pod["containers"][0]["volumeMounts"].append({"name": "weights", "mountPath": "/mnt/w", "readOnly": True})
    return docs


def _pod_spec(docs: list[dict[str, Any]], name: str = "vllm") -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)["spec"]["template"][
        "spec"]


def _engine(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return _pod_spec(docs)["containers"][0]


def _set_env(docs: list[dict[str, Any]], name: str, value: str | None) -> None:
    env = [e for e in _engine(docs)["env"] if e["name"] != name]
    _engine(docs)["env"] = env + ([{"name": name, "value": value}] if value is not None else [])


def _set_arg(docs: list[dict[str, Any]], flag: str, value: str | None) -> None:
    """None drops the flag, "" leaves it bare (a boolean flag), anything else is `--flag=value`."""
    args = [a for a in _engine(docs)["args"] if not a.startswith(flag)]
    _engine(docs)["args"] = args + ([] if value is None else [f"{flag}={value}" if value else flag])


def _verdict(docs: list[dict[str, Any]], inv_id: str, profile: Any = BASELINE) -> tuple[str, str]:
    findings = [f for f in check_documents(docs, profile) if f.invariant == inv_id]
    assert findings, f"{inv_id} produced no finding"
    return worst(f.status for f in findings), " | ".join(f.message for f in findings)


@pytest.mark.parametrize("gke", [False, True])
def test_good_manifests_pass_everything(gke):
    profile = GKE if gke else BASELINE
    findings = check_documents(_good(gke), profile)
    assert {f.invariant for f in findings} == set(INVARIANTS)
    bad = [f for f in findings if f.status != "pass"]
    expected_na = {i for i, inv in INVARIANTS.items() if not inv.applies(profile)}
    assert {f.invariant for f in bad} == expected_na | {"cache-rwx-storage"}, bad
    assert all(f.status == "n/a" and (f.message.startswith(("not a", "not an", f"profile {profile.name} gets"))
                                      or f.invariant == "cache-rwx-storage") for f in bad), bad


def _image(docs, image):
    _engine(docs)["image"] = image


def _no_policy(docs):
    _engine(docs).pop("imagePullPolicy")


def _pause(docs, **changes):
    _pod_spec(docs, "warm-buffer")["containers"][0].update(changes)


def _drop_modelcar(docs, model="Qwen/Qwen3-8B"):
    _pod_spec(docs)["initContainers"] = []
    _engine(docs)["args"][0] = model


def _mount(docs, volume, **changes):
    for m in _engine(docs)["volumeMounts"]:
        if m["name"] == volume:
            m.update(changes)


def _volume(docs, name, volume):
    vols = _pod_spec(docs)["volumes"]
    vols[:] = [v for v in vols if v["name"] != name] + [{"name": name, **volume}]


def _buffer(docs, **changes):
    _pod_spec(docs, "warm-buffer").update(changes)


def _priority(docs, name, value):
    next(d for d in docs if d["kind"] == "PriorityClass" and d["metadata"]["name"] == name)["value"] = value


def _no_buffer(docs, keep_priority=True):
    docs[:] = [d for d in docs if d["metadata"]["name"] != "warm-buffer"]
    if not keep_priority:
        _pod_spec(docs).pop("priorityClassName")


CASES = [
    # (invariant, mutation, profile, expected, fragment of the message)
    ("image-digest-pinned", lambda d: _image(d, "registry.local:5000/vllm/vllm-openai:v0.9"), BASELINE, "fail",
     "registry.local:5000/vllm/vllm-openai@sha256:<digest>"),
    ("image-digest-pinned", lambda d: _pause(d, image="registry.k8s.io/pause:3.10"), BASELINE, "fail", "pause"),
    ("image-digest-pinned", lambda d: _pod_spec(d)["initContainers"][0].update(image="r.local/models/q:1"),
     BASELINE, "fail", "r.local/models/q:1"),
    ("pull-policy-ifnotpresent", lambda d: (_no_policy(d), _image(d, "vllm/vllm-openai:latest")), BASELINE, "fail",
     "Always"),
    ("pull-policy-ifnotpresent", lambda d: _engine(d).update(imagePullPolicy="Always"), BASELINE, "fail",
     "effective imagePullPolicy Always (explicit)"),
    ("pull-policy-ifnotpresent", lambda d: (_no_policy(d), _image(d, "vllm/vllm-openai:v0.9")), BASELINE, "pass",
     "tag v0.9"),
    ("registry-in-region", lambda d: _image(d, "docker.io/vllm/vllm-openai" + DIGEST), BASELINE, "fail",
     "mirror the image to registry.local:5000"),
    ("registry-in-region", lambda d: None, None, "n/a", "needs --profile"),
    ("modelcar-digest", _drop_modelcar, BASELINE, "fail", "the Hugging Face Hub (Qwen/Qwen3-8B)"),
    ("modelcar-digest", _drop_modelcar, None, "n/a", "without --profile"),
    ("modelcar-digest", lambda d: (_drop_modelcar(d, "/mnt/models"), _volume(
        d, "models", {"persistentVolumeClaim": {"claimName": "weights"}})), BASELINE, "n/a", "PVC weights"),
    ("modelcar-digest", lambda d: _pod_spec(d)["initContainers"][0].update(image="r.local/models/q:1"), None,
     "fail", "is a tag"),
    ("hf-offline", lambda d: _set_env(d, "TRANSFORMERS_OFFLINE", None), BASELINE, "fail", "TRANSFORMERS_OFFLINE"),
    ("hf-offline", lambda d: _set_env(d, "HF_HUB_OFFLINE", "true"), BASELINE, "pass", "set"),
    ("runai-streamer", lambda d: _set_arg(d, "--load-format", None), BASELINE, "fail", "auto (default)"),
    ("runai-streamer", lambda d: _set_arg(d, "--load-format", "runai_streamer_sharded"), BASELINE, "pass", ""),
    ("streamer-memory-bounded", lambda d: _set_env(d, "RUNAI_STREAMER_MEMORY_LIMIT", "-1"), BASELINE, "fail",
     "unlimited"),
    ("streamer-memory-bounded", lambda d: (_set_env(d, "RUNAI_STREAMER_MEMORY_LIMIT", None), _set_arg(
        d, "--model-loader-extra-config", '{"memory_limit": 1073741824}')), BASELINE, "pass", "1Gi"),
    ("streamer-memory-bounded", lambda d: _set_arg(d, "--load-format", "auto"), BASELINE, "n/a", "not used"),
    ("shm-memory-16gi", lambda d: _volume(d, "dshm", {"emptyDir": {"medium": "Memory", "sizeLimit": "15Gi"}}),
     BASELINE, "fail", "below 16Gi"),
    ("shm-memory-16gi", lambda d: _volume(d, "dshm", {"emptyDir": {"medium": "Memory"}}), BASELINE, "fail",
     "no sizeLimit"),
    ("shm-memory-16gi", lambda d: _volume(d, "dshm", {"emptyDir": {"sizeLimit": "16Gi"}}), BASELINE, "fail",
     "medium: Memory"),
    ("shm-memory-16gi", lambda d: _mount(d, "dshm", mountPath="/shm"), BASELINE, "fail", "64Mi"),
    ("nccl-cumem-disabled", lambda d: _set_env(d, "NCCL_CUMEM_ENABLE", "1"), BASELINE, "fail", "'1'"),
    ("nccl-cumem-disabled", lambda d: _set_env(d, "NCCL_CUMEM_ENABLE", None), BASELINE, "fail", "unset"),
    ("gpu-mem-util-range", lambda d: _set_arg(d, "--gpu-memory-utilization", None), BASELINE, "fail",
     "0.9 (vLLM default)"),
    ("gpu-mem-util-range", lambda d: _set_arg(d, "--gpu-memory-utilization", "0.95"), BASELINE, "fail", "0.95"),
    ("gpu-mem-util-range", lambda d: _set_arg(d, "--gpu-memory-utilization", "0.5"), BASELINE, "fail", "0.5"),
    ("gpu-mem-util-range", lambda d: _set_arg(d, "--gpu-memory-utilization", "0.6"), BASELINE, "pass", "0.6"),
    ("gpu-mem-util-range", lambda d: _set_arg(d, "--gpu-memory-utilization", "$(UTIL)"), BASELINE, "n/a",
     "cannot be resolved"),
    ("enforce-eager-per-profile", lambda d: None, None, "n/a", "needs --profile"),
    ("enforce-eager-per-profile", lambda d: _set_arg(d, "--enforce-eager", ""), BASELINE, "fail", "remove it"),
    ("enforce-eager-per-profile", lambda d: None, profile_with(BASELINE, {"runtime.enforce_eager": True}), "fail",
     "add it"),
    ("cache-persistent", lambda d: _volume(d, "cache", {"emptyDir": {}}), BASELINE, "fail",
     "emptyDir cache at /root/.cache"),
    ("cache-persistent", lambda d: _volume(d, "cache", {"hostPath": {"path": "/var/cache"}}), BASELINE, "fail",
     "hostPath"),
    ("cache-persistent", lambda d: (_mount(d, "cache", mountPath="/data"), _set_env(d, "HF_HOME", "/data/hf")),
     BASELINE, "pass", "Hugging Face cache /data/hf/hub on PVC vllm-cache"),
    ("cache-persistent", lambda d: _mount(d, "cache", mountPath="/root/.cache/huggingface"), BASELINE, "pass",
     "not kept: vLLM cache"),
    ("memory-covers-shm", lambda d: _engine(d)["resources"]["limits"].update(memory="30Gi"), BASELINE, "fail",
     "engine RSS 12Gi"),
    ("memory-covers-shm", lambda d: _engine(d)["resources"]["limits"].update(memory="30Gi"), None, "pass", ""),
    ("memory-covers-shm", lambda d: _engine(d)["resources"]["limits"].update(memory="16Gi"), None, "fail",
     "raise the memory limit"),
    ("memory-covers-shm", lambda d: _engine(d)["resources"]["limits"].pop("memory"), BASELINE, "n/a",
     "no container memory limit"),
    ("startup-probe-budget", lambda d: _engine(d).pop("startupProbe"), BASELINE, "fail",
     "livenessProbe restarts a start slower than 60s"),
    ("startup-probe-budget", lambda d: _engine(d)["startupProbe"].update(failureThreshold=5), BASELINE, "fail",
     "50s"),
    ("startup-probe-budget", lambda d: _engine(d)["startupProbe"].update(failureThreshold=50), None, "fail",
     "default budget 600s"),
    ("warm-buffer", _no_buffer, BASELINE, "n/a", "buffer is not in this input"),
    ("warm-buffer", lambda d: _no_buffer(d, keep_priority=False), BASELINE, "fail", "no warm buffer"),
    ("warm-buffer", lambda d: _priority(d, "coldstart-buffer", -20), BASELINE, "fail", "expendable"),
    ("warm-buffer", lambda d: _priority(d, "coldstart-buffer", 5), BASELINE, "fail", "not negative"),
    ("warm-buffer", lambda d: _priority(d, "coldstart-workload", -8), BASELINE, "fail", "not below the engine"),
    ("warm-buffer", lambda d: _buffer(d, nodeSelector={"gpu": "a100"}), BASELINE, "fail", "nodeSelector"),
    ("warm-buffer", lambda d: _buffer(d, tolerations=[]), BASELINE, "fail", "tolerations"),
    ("warm-buffer", lambda d: _pause(d, resources={"limits": {"amd.com/gpu": "1"}}), BASELINE, "fail",
     "amd.com/gpu"),
    ("warm-buffer", lambda d: d[3]["spec"].update(replicas=0), BASELINE, "fail", "replicas 0"),
    ("compute-class", lambda d: None, BASELINE, "n/a", "not a GKE profile"),
    ("compute-class", lambda d: None, None, "n/a", "needs --profile"),
]


@pytest.mark.parametrize(("inv_id", "mutate", "profile", "expected", "fragment"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_invariant_cases(inv_id, mutate, profile, expected, fragment):
    docs = _good()
    mutate(docs)
    status, message = _verdict(docs, inv_id, profile)
    assert (status, fragment in message) == (expected, True), message


GKE_CASES = [
    ("registry-in-region", lambda d: _image(d, "123.dkr.ecr.us-central1.amazonaws.com/vllm" + DIGEST), "pass",
     "123.dkr.ecr.us-central1.amazonaws.com is in region us-central1"),
    ("registry-in-region", lambda d: _image(d, "us-docker.pkg.dev/p/vllm" + DIGEST), "fail",
     "us-docker.pkg.dev is outside region us-central1"),
    ("compute-class", lambda d: d[-3]["spec"]["priorities"].reverse(), "fail", "spot: true rule before"),
    ("compute-class", lambda d: d[-3]["spec"].pop("whenUnsatisfiable"), "fail", "whenUnsatisfiable"),
    ("compute-class", lambda d: _pod_spec(d)["nodeSelector"].pop("cloud.google.com/compute-class"), "fail",
     "select no ComputeClass"),
    ("compute-class", lambda d: _pod_spec(d, "warm-buffer")["nodeSelector"].pop("cloud.google.com/compute-class"),
     "fail", "buffer Deployment/coldstart/warm-buffer"),
    ("hyperdisk-ml", lambda d: d.pop(-2), "fail", "no StorageClass"),
    ("hyperdisk-ml", lambda d: d[-1]["spec"].update(accessModes=["ReadWriteOnce"]), "fail", "no ReadOnlyMany PVC"),
    ("hyperdisk-ml", lambda d: _mount(d, "weights", readOnly=False), "fail", "readOnly: true"),
    ("hyperdisk-ml", lambda d: _mount(d, "weights", name="gone"), "fail", "do not use the Hyperdisk ML PVC"),
]


@pytest.mark.parametrize(("inv_id", "mutate", "expected", "fragment"), GKE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(GKE_CASES)])
def test_gke_invariant_cases(inv_id, mutate, expected, fragment):
    docs = _good(gke=True)
    mutate(docs)
    status, message = _verdict(docs, inv_id, GKE)
    assert (status, fragment in message) == (expected, True), message


def test_kserve_weights_from_pvc_uri_pass_hyperdisk_and_modelcar_is_na():
    docs = list(yaml.safe_load_all(KSERVE)) + list(yaml.safe_load_all(GKE_TEXT))
    docs[1]["spec"]["predictor"]["model"]["storageUri"] = "pvc://weights/qwen"
    assert _verdict(docs, "hyperdisk-ml", GKE)[0] == "pass"
    assert _verdict(docs, "modelcar-digest", GKE) == ("n/a", "weights come from a disk (pvc://weights/qwen), "
                                                             "not a modelcar")


def test_statefulset_volume_claim_template_keeps_the_cache():
    docs = _good()
    deployment = docs[4]
    deployment["kind"] = "StatefulSet"
    _pod_spec_of = deployment["spec"]["template"]["spec"]
    _pod_spec_of["volumes"] = [v for v in _pod_spec_of["volumes"] if v["name"] != "cache"]
    deployment["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "cache"}, "spec": {}}]
    assert _verdict(docs, "cache-persistent")[0] == "pass"


def test_no_engine_gives_one_na_per_invariant_and_helm_values_are_not_engines():
    findings = check_documents([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}], BASELINE,
                               source="svc.yaml")
    assert [f.invariant for f in findings] == list(INVARIANTS)
    assert all(f.status == "n/a" and f.file == "svc.yaml" for f in findings)
    assert {f.message for f in findings if f.invariant == "hf-offline"} == {"no vLLM container found in this input"}


def test_registry_is_lever_grouped_with_the_public_ids():
    levers = [inv.lever for inv in INVARIANTS.values()]
    assert levers == sorted(levers, key=["weight_load", "image_pull", "node_warmup", "runtime"].index)
    assert set(INVARIANTS) == {
        "image-digest-pinned", "pull-policy-ifnotpresent", "registry-in-region", "modelcar-digest", "hf-offline",
        "runai-streamer", "streamer-memory-bounded", "shm-memory-16gi", "nccl-cumem-disabled", "gpu-mem-util-range",
        "enforce-eager-per-profile", "cache-persistent", "memory-covers-shm", "startup-probe-budget", "warm-buffer",
        "compute-class", "hyperdisk-ml", "karpenter-spot-fallback", "karpenter-do-not-disrupt", "soci-enabled",
        "artifact-streaming", "cache-rwx-storage"}
    shipped = [load_profile(name) for name in shipped_profiles()]
    assert all(inv.trap and any(inv.applies(p) for p in shipped) for inv in INVARIANTS.values())
    assert not INVARIANTS["compute-class"].applies(BASELINE) and not INVARIANTS["registry-in-region"].applies(None)


def test_cli_json_and_table_formats_and_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump_all(_good()))
    assert main(["verify", str(good), "--profile", "baseline", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"findings", "summary"} and out["summary"]["fail"] == 0
    first = out["findings"][0]
    assert list(first) == ["invariant", "status", "file", "object", "container", "message"]
    assert {f["object"] for f in out["findings"]} >= {"Deployment/coldstart/vllm",
                                                       "Deployment/coldstart/warm-buffer"}
    docs = _good()
    _set_env(docs, "NCCL_CUMEM_ENABLE", None)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    assert main(["verify", str(bad)]) == 1
    table = capsys.readouterr().out
    assert "-- runtime" in table and "FAILED: 1 fail" in table.splitlines()[-1]
    fail_row = next(line for line in table.splitlines() if line.startswith("FAIL"))
    assert "nccl-cumem-disabled" in fail_row and "Deployment/coldstart/vllm" in fail_row


def test_wrongly_typed_fields_count_as_absent_instead_of_crashing():
    docs = _good()
    _engine(docs)["env"] = "HF_HUB_OFFLINE=1"  # Kubernetes wants a list of {name, value}
    _engine(docs)["resources"] = ["36Gi"]
    _pod_spec(docs)["volumes"] = {"dshm": {}}
    docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": ["not", "a", "map"], "spec": "nonsense"})
    verdicts = {f.invariant: f.status for f in check_documents(docs, BASELINE) if f.object.endswith("/vllm")}
    assert verdicts["hf-offline"] == "fail" and verdicts["memory-covers-shm"] == "n/a"
    assert verdicts["shm-memory-16gi"] == "fail" and verdicts["gpu-mem-util-range"] == "pass"


def test_yaml_alias_loops_and_alias_bombs_are_refused(tmp_path, capsys):
    """A self-referencing document and an alias bomb are bad input (exit 2), refused before they are built."""
    loop = _write(tmp_path, "loop.yaml", "- &a [*a]\n")
    assert main(["verify", str(loop)]) == 2 and "references itself" in capsys.readouterr().err
    levels = ["a: &a [" + ", ".join(['"x"'] * 9) + "]"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    bomb = _write(tmp_path, "bomb.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n" + "\n".join(levels))
    assert main(["verify", str(bomb)]) == 2  # 9**8 leaves once expanded: counted, not walked
    assert "expand this document to more than" in capsys.readouterr().err


MULTINODE = """\
apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata: {name: vllm-multinode}
spec:
  supportedModelFormats: [{name: vllm, autoSelect: true}]
  containers:
  - name: kserve-container
    image: vllm/vllm-openai:v1
    command:
    - bash
    - -c
    - |
      export MODEL=${MODEL_DIR}
      ray start --head --port=${RAY_PORT}
      while ! ray health-check --address "${RAY_ADDRESS}" > /dev/null 2>&1; do
        sleep 2
      done
      vllm serve ${MODEL} --tensor-parallel-size ${TENSOR_PARALLEL_SIZE:-1} $@
    - bash
    env: [{name: MODEL_DIR, value: /mnt/models}]
  workerSpec:
    containers:
    - name: worker-container
      image: vllm/vllm-openai:v1
      command: [bash, -c, 'ray start --address="${HEAD}:6379" --block']
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: big}
spec:
  predictor:
    model:
      modelFormat: {name: vllm}
      args: [--gpu-memory-utilization=0.7]
    workerSpec:
      containers:
      - name: worker-container
        env: [{name: NCCL_CUMEM_ENABLE, value: "0"}]
"""


def test_kserve_multinode_runtime_script_args_and_workers():
    engines = {name: (flags, env) for _, name, flags, env in _engines(MULTINODE)}
    assert set(engines) == {"kserve-container", "worker/worker-container"}
    flags, env = engines["kserve-container"]
    assert flags["gpu_memory_utilization"] == "0.7"  # the ISVC's args reach the script as "$@"
    assert flags["tensor_parallel_size"] == "1" and "@" not in env
    assert engines["worker/worker-container"][1]["NCCL_CUMEM_ENABLE"] == "0"


def test_llm_inference_service_merges_configs_from_the_input():
    text = """\
apiVersion: serving.kserve.io/v1alpha1
kind: LLMInferenceServiceConfig
metadata: {name: base, namespace: llm}
spec:
  template:
    containers:
    - {name: main, image: vllm/vllm-openai:v1, command: [vllm, serve, /mnt/models, --gpu-memory-utilization=0.7]}
---
apiVersion: serving.kserve.io/v1alpha2
kind: LLMInferenceService
metadata: {name: q, namespace: llm}
spec:
  baseRefs: [{name: base}]
  model: {uri: "oci://quay.io/x/q:1"}
  template:
    containers: [{name: main, env: [{name: NCCL_CUMEM_ENABLE, value: "0"}]}]
  worker:
    containers: [{name: main}]
"""
    inv = Inventory(_docs(text))
    (w,) = find_workloads(inv)
    roles = {c.name: (c.launch.role, c.image, c.flags.get("gpu_memory_utilization"), c.env.get("NCCL_CUMEM_ENABLE"))
             for p in w.pods for c in p.containers}
    assert roles == {"main": ("launcher", "vllm/vllm-openai:v1", "0.7", "0"), "worker/main": ("host", None, None, None)}
    assert w.model_uri == "oci://quay.io/x/q:1" and w.modelcars


def test_ray_llm_configs_in_files_inside_the_image_are_na_for_engine_flags():
    text = """\
apiVersion: ray.io/v1
kind: RayService
metadata: {name: llm}
spec:
  serveConfigV2: |
    applications:
    - name: llm
      import_path: ray.serve.llm:build_openai_app
      args:
        llm_configs: [./configs/qwen.yaml]
  rayClusterConfig:
    headGroupSpec:
      rayStartParams: {num-cpus: "0"}
      template: {spec: {containers: [{name: head, image: rayproject/ray-llm:2.46.0}]}}
    workerGroupSpecs:
    - groupName: gpu
      template:
        spec:
          containers:
          - {name: worker, image: rayproject/ray-llm:2.46.0, resources: {limits: {nvidia.com/gpu: "1"}}}
"""
    docs = [d.obj for d in _docs(text)]
    assert _verdict(docs, "gpu-mem-util-range") == (
        "n/a", "the engine settings are in ./configs/qwen.yaml inside the image, not in this input")
    assert _verdict(docs, "nccl-cumem-disabled")[0] == "fail"  # the pods' env is still in the input


@pytest.mark.parametrize("serving", ["kserve", "deployment"])
@pytest.mark.parametrize("profile_name", shipped_profiles())
def test_our_own_renders_pass(profile_name, serving):
    """`coldstart render` output must satisfy every invariant its profile enables (the rest is n/a with a reason)."""
    from coldstart.levers.render import flatten, render

    profile = load_profile(profile_name)
    findings = check_documents(flatten(render(profile, serving=serving)), profile)
    assert not [f for f in findings if f.status == "fail"]
    passed = {f.invariant for f in findings if f.status == "pass"}
    expected = {i for i, inv in INVARIANTS.items() if inv.applies(profile)} - (
        {"modelcar-digest"} if profile.gke_feature("hyperdisk_ml") else set())
    if profile.cloud == "generic":
        expected.discard("cache-rwx-storage")  # a generic cluster's StorageClass is unknown: n/a
    assert passed == expected, {f.invariant: f.message for f in findings if f.status == "n/a"}


def test_check_documents_accepts_a_list_read_back_from_a_cluster():
    live = {"apiVersion": "v1", "kind": "List", "items": _good()}
    findings = check_documents([live], BASELINE, source="cluster")
    assert not [f for f in findings if f.status == "fail"] and {f.file for f in findings} == {"cluster"}
