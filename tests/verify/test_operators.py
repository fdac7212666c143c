"""Workloads found by meaning: operators coldstart maps (with the defaults their controllers add) and kinds it has
never seen, each judged from a manifest of the shape a real public one has (tests/verify/data/operators/*.yaml, each
file naming the public manifest whose shape it reproduces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coldstart.inputs.documents import as_documents, kubernetes_objects, parse_text, read_documents
from coldstart.verify import Finding, check_documents, verify_paths, worst
from coldstart.verify.discovery import find_workloads
from coldstart.verify.workloads import Inventory, Workload
from coldstart.vllm.launch import find_launches

DATA = Path(__file__).parent / "data" / "operators"


def _findings(name: str) -> list[Finding]:
    return verify_paths([str(DATA / name)])


def _by(findings: list[Finding], invariant: str) -> dict[str | None, Finding]:
    return {f.container: f for f in findings if f.invariant == invariant}


def _workloads(text: str) -> list[Workload]:
    return find_workloads(Inventory(kubernetes_objects(parse_text(text, "x.yaml"))))


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.yaml")))
def test_every_operator_sample_yields_verdicts_not_all_na(name: str):
    findings = _findings(name)
    assert worst(f.status for f in findings) == "fail", name
    assert sum(f.status != "n/a" for f in findings) >= 5, name
    assert all("no vLLM container" not in f.message for f in findings)


def test_stormservice_roles_are_engine_pods_named_after_their_roles():
    findings = _findings("aibrix-stormservice-pd.yaml")
    shm = _by(findings, "shm-memory-16gi")
    assert set(shm) == {"prefill/prefill", "decode/decode"}
    assert all(f.status == "fail" and "has no sizeLimit" in f.message for f in shm.values())
    assert all(f.object == "StormService/default/pd-demo" for f in findings if f.object != "-")
    assert not any("not an operator coldstart knows" in f.message for f in findings)  # AIBrix roles are plain pods


def test_model_adapter_notes_the_pods_it_loads_into():
    (workload,) = find_workloads(Inventory(read_documents([DATA / "aibrix-stormservice-adapter.yaml"])))
    assert workload.ref == "StormService/default/lora-base"
    assert "ModelAdapter base-7b-lora loads s3://example-bucket/base-7b-lora/" in workload.notes["weights"]
    assert workload.pods[0].containers[0].flags["gpu_memory_utilization"] == "0.75"


def test_rayclusterfleet_gets_kuberay_shm_sized_to_memory_and_its_generated_ray_start():
    findings = _findings("aibrix-rayclusterfleet.yaml")
    shm = _by(findings, "shm-memory-16gi")
    assert {c: f.status for c, f in shm.items()} == {"head/ray-head": "pass", "small-group/ray-worker": "pass"}
    assert "sizeLimit 32Gi" in shm["head/ray-head"].message and "KubeRay mounts" in shm["head/ray-head"].message
    memory = _by(findings, "memory-covers-shm")
    assert memory["head/ray-head"].status == "fail"  # a /dev/shm as large as the memory limit can OOM-kill the pod
    (workload,) = find_workloads(Inventory(read_documents([DATA / "aibrix-rayclusterfleet.yaml"])))
    roles = {c.name: c.launch.role for p in workload.pods for c in p.containers}
    assert roles == {"head/ray-head": "launcher", "small-group/ray-worker": "host"}  # eval "$KUBERAY_GEN_RAY_START_CMD"


def test_kuberay_keeps_a_shm_volume_the_user_mounted():
    text = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: rc}
spec:
  headGroupSpec:
    template:
      spec:
        containers:
        - name: head
          image: vllm/vllm-openai:v0.9.0
          command: [bash, -c, "ray start --head && vllm serve m --distributed-executor-backend ray"]
          resources: {limits: {memory: 64Gi}}
          volumeMounts: [{name: dshm, mountPath: /dev/shm}]
        volumes: [{name: dshm, emptyDir: {medium: Memory, sizeLimit: 20Gi}}]
"""
    (workload,) = _workloads(text)
    assert "shm" not in workload.notes
    assert workload.pods[0].spec["volumes"] == [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "20Gi"}}]


def test_kaito_workspace_is_built_as_kaito_builds_its_pod():
    findings = _findings("kaito-workspace-preset.yaml")
    assert _by(findings, "shm-memory-16gi")["workspace-small-llama"].status == "fail"
    gpu = _by(findings, "gpu-mem-util-range")["workspace-small-llama"]
    assert gpu.status == "fail" and "0.95" in gpu.message and "capped at 0.95" in gpu.message
    assert _by(findings, "startup-probe-budget")["workspace-small-llama"].status == "pass"
    image = _by(findings, "image-digest-pinned")["workspace-small-llama"]
    assert image.status == "n/a" and "KAITO runs its own image" in image.message
    assert _by(findings, "modelcar-digest")[None].message.startswith(
        "weights come from the Hugging Face Hub (meta-llama/Llama-3.2-1B-Instruct)")


def test_kaito_inference_config_configmap_sets_the_engine_flags():
    (workload,) = find_workloads(Inventory(read_documents([DATA / "kaito-workspace-config.yaml"])))
    flags = workload.pods[0].containers[0].flags
    assert flags["gpu_memory_utilization"] == 0.92 and flags["max_model_len"] == 8192
    assert "gpu_util" not in workload.notes  # the ConfigMap chose it, not KAITO


def test_kaito_transformers_runtime_is_not_vllm():
    text = """\
apiVersion: kaito.sh/v1alpha1
kind: Workspace
metadata: {name: ws, annotations: {kaito.sh/runtime: transformers}}
resource: {instanceType: Standard_NC6s_v3}
inference: {preset: {name: falcon-7b}}
"""
    assert _workloads(text) == []


def test_llmaz_playground_joins_its_model_and_the_chart_backend():
    findings = _findings("llmaz-openmodel-playground.yaml")
    assert _by(findings, "shm-memory-16gi")["model-runner"].message.startswith("/dev/shm sizeLimit 2Gi is below 16Gi")
    assert _by(findings, "startup-probe-budget")["model-runner"].status == "fail"
    assert _by(findings, "image-digest-pinned")["model-runner"].status == "n/a"
    (workload,) = find_workloads(Inventory(read_documents([DATA / "llmaz-openmodel-playground.yaml"])))
    (engine,) = workload.pods[0].containers
    assert engine.launch.model == "/workspace/models/models--Qwen--Qwen2-0.5B-Instruct"
    assert workload.gpu and workload.model_uri == "huggingface://Qwen/Qwen2-0.5B-Instruct"


def test_llmaz_backend_runtime_in_the_input_gives_image_config_and_probes():
    (workload,) = find_workloads(Inventory(read_documents([DATA / "llmaz-backendruntime.yaml"])))
    (engine,) = workload.pods[0].containers
    assert engine.image == "public.ecr.aws/example/vllm-cpu-release-repo:v0.8.5"
    assert engine.env["VLLM_CPU_KVCACHE_SPACE"] == "8" and engine.spec["startupProbe"]["failureThreshold"] == 30
    assert engine.launch.model == "/workspace/models/models--Qwen--Qwen3-0.6B"


def test_llmaz_other_backends_are_not_vllm():
    text = """\
apiVersion: inference.llmaz.io/v1alpha1
kind: Playground
metadata: {name: p}
spec: {modelClaim: {modelName: m}, backendRuntimeConfig: {backendName: sglang}}
"""
    assert _workloads(text) == []


def test_openshift_template_objects_are_judged_with_a_placeholder_image_na():
    findings = _findings("openshift-template-servingruntime.yaml")
    assert {f.object for f in findings if f.object != "-"} == {"ServingRuntime/default/vllm-gpu-runtime"}
    digest = _by(findings, "image-digest-pinned")["kserve-container"]
    assert digest.status == "n/a" and "$(vllm-gpu-image), a placeholder" in digest.message
    assert _by(findings, "cache-persistent")["kserve-container"].message.startswith("Hugging Face cache /tmp/hf_home")


def test_template_parameters_are_filled_in():
    text = """\
apiVersion: template.openshift.io/v1
kind: Template
metadata: {name: t}
parameters:
- {name: IMAGE, value: "quay.io/x/vllm:1"}
- {name: GPUS, value: "2"}
- {name: MODEL}
objects:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: d}
  spec:
    replicas: ${{GPUS}}
    template:
      spec:
        containers:
        - {name: v, image: "${IMAGE}", args: ["--model=${MODEL}", "--tensor-parallel-size=${GPUS}"]}
"""
    (doc,) = parse_text(text, "t.yaml")
    assert doc.obj["spec"]["replicas"] == 2
    container = doc.obj["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "quay.io/x/vllm:1" and container["args"] == ["--model=${MODEL}",
                                                                              "--tensor-parallel-size=2"]


def test_dynamo_operator_defaults_are_counted_with_a_note():
    findings = _findings("dynamo-disagg-v1alpha1.yaml")
    probes = _by(findings, "startup-probe-budget")
    assert {c: f.status for c, f in probes.items()} == {"DecodeWorker/main": "pass", "PrefillWorker/main": "pass"}
    assert "default worker probes" in probes["DecodeWorker/main"].message
    shm = _by(findings, "shm-memory-16gi")["DecodeWorker/main"]
    assert shm.status == "fail" and "8Gi" in shm.message and "Dynamo operator" in shm.message


def test_dynamo_v1beta1_components_skip_the_frontend():
    (workload,) = find_workloads(Inventory(read_documents([DATA / "dynamo-agg-v1beta1.yaml"])))
    assert [c.name for p in workload.pods for c in p.containers] == ["Worker/main"]
    assert workload.pods[0].containers[0].launch.entry == "dynamo"


def test_dynamo_user_probes_and_shared_memory_are_kept():
    text = """\
apiVersion: nvidia.com/v1beta1
kind: DynamoGraphDeployment
metadata: {name: g}
spec:
  components:
  - name: W
    type: worker
    sharedMemorySize: "0"
    compilationCache: {pvcName: compile, mountPath: /cache/vllm}
    podTemplate:
      spec:
        containers:
        - name: main
          image: nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.0.0
          command: [python3, -m, dynamo.vllm, --model, m]
          startupProbe: {httpGet: {path: /live, port: 9090}, periodSeconds: 10, failureThreshold: 30}
"""
    (workload,) = _workloads(text)
    (pod,) = workload.pods
    (engine,) = pod.containers
    assert engine.spec["startupProbe"]["failureThreshold"] == 30 and "probes" not in workload.notes
    assert not any(m.get("mountPath") == "/dev/shm" for m in engine.spec["volumeMounts"])
    assert engine.env["VLLM_CACHE_ROOT"] == "/cache/vllm"


UNKNOWN = """\
apiVersion: serving.example.com/v1
kind: InferenceCluster
metadata: {name: ic, namespace: ml}
spec:
  stages:
  - name: prefill
    workload:
      podSpec:
        containers:
        - name: engine
          image: ghcr.io/example/serving:1.0
          command: [python3, -m, vllm.entrypoints.openai.api_server, --model, m, --gpu-memory-utilization, "0.7"]
  - name: decode
    override:
      mainContainer:
        image: vllm/vllm-openai:v0.10.0
        args: [m, --tensor-parallel-size, "2"]
        env: [{name: NCCL_CUMEM_ENABLE, value: "0"}]
  - name: router
    podSpec:
      containers: [{name: router, image: ghcr.io/example/router:1.0}]
status:
  template: {spec: {containers: [{name: old, image: vllm/vllm-openai:v0.1}]}}
"""


def test_unknown_kind_is_judged_on_what_it_declares_with_a_note():
    (workload,) = _workloads(UNKNOWN)
    assert [(p.role, [c.name for c in p.containers]) for p in workload.pods] == [
        ("prefill", ["prefill/engine"]), ("decode", ["decode/mainContainer"])]
    assert workload.pods[1].containers[0].flags["tensor_parallel_size"] == "2"
    findings = check_documents(kubernetes_objects(parse_text(UNKNOWN, "x.yaml")))
    nccl = _by(findings, "nccl-cumem-disabled")
    assert nccl["decode/mainContainer"].status == "pass" and nccl["prefill/engine"].status == "fail"
    assert all("InferenceCluster (serving.example.com) is not an operator coldstart knows" in f.message
               for f in findings if f.status != "n/a")


def test_unknown_kinds_survive_slimming_and_knative_style_templates_are_read(tmp_path: Path):
    path = tmp_path / "x.yaml"
    path.write_text(UNKNOWN)
    assert verify_paths([str(path)]) == check_documents(kubernetes_objects(read_documents([path])), source=str(path))


def test_list_items_of_unknown_kinds_are_found():
    value = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps.example.com/v1", "kind": "Server", "metadata": {"name": "s"},
         "spec": {"container": {"image": "vllm/vllm-openai:v0.9.0", "args": ["m"]}}}]}
    (workload,) = find_workloads(Inventory(as_documents([value], "dump.json")))
    assert workload.ref == "Server/default/s" and workload.notes["*"].startswith("Server (apps.example.com)")


def test_eval_of_a_command_in_a_variable_is_followed():
    launches = find_launches(["bash", "-c", 'eval "$START" && tail -f /dev/null'], {"START": "ray start --block"})
    assert [launch.role for launch in launches] == ["host"]


def test_dynamo_args_given_as_one_shell_line_are_read_as_a_script():
    findings = _findings("dynamo-agg-shell-args-v1alpha1.yaml")
    assert {f.container for f in findings if f.container} == {"DecodeWorker/main"}  # `main` is the frontend
    gpu = _by(findings, "gpu-mem-util-range")["DecodeWorker/main"]
    assert gpu.status == "fail" and "0.85" in gpu.message
    (workload,) = find_workloads(Inventory(read_documents([DATA / "dynamo-agg-shell-args-v1alpha1.yaml"])))
    (engine,) = workload.pods[0].containers
    assert engine.launch.model == "Qwen/Qwen3-0.6B" and engine.flags["enforce_eager"] is True


def test_dynamo_sdk_era_worker_keeps_its_flags_in_a_config_file():
    text = """\
apiVersion: nvidia.com/v1alpha1
kind: DynamoGraphDeployment
metadata: {name: sdk}
spec:
  services:
    Frontend:
      componentType: main
      extraPodSpec:
        mainContainer:
          image: nvcr.io/example/dynamo:0.3.0
          args: ["dynamo serve graphs.agg:Frontend --service-name Frontend -f ./configs/agg.yaml"]
    VllmWorker:
      resources: {limits: {gpu: "1"}}
      extraPodSpec:
        mainContainer:
          image: nvcr.io/example/dynamo:0.3.0
          args: ["dynamo serve graphs.agg:Frontend --service-name VllmWorker -f ./configs/agg.yaml"]
"""
    findings = check_documents(kubernetes_objects(parse_text(text, "x.yaml")))
    gpu = _by(findings, "gpu-mem-util-range")["VllmWorker/main"]
    assert gpu.status == "n/a" and "./configs/agg.yaml inside the image" in gpu.message
    assert _by(findings, "shm-memory-16gi")["VllmWorker/main"].status == "fail"  # the operator's 8Gi default


def test_kaito_multiroleinference_is_one_kaito_pod_per_role():
    findings = _findings("kaito-multiroleinference.yaml")
    shm = _by(findings, "shm-memory-16gi")
    assert set(shm) == {"prefill/small-pd-prefill", "decode/small-pd-decode"}
    assert all(f.status == "fail" and "KAITO mounts" in f.message for f in shm.values())


# After https://github.com/kaito-project/kaito/blob/2dffd1482e5a79b1a63d98140d39bae27beff16e/website/docs/bring-your-own-weights.md
LOCAL_WEIGHTS = """\
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata:
  name: ws-local
  annotations: {kaito.sh/use-local-weights: "true"}
resource: {count: 1, labelSelector: {matchLabels: {apps: local}}}
inference: {preset: {name: Example-Org/Big-Model-FP8}}
"""


def test_kaito_local_weights_are_a_read_only_hostpath_streamed_by_runai():
    (workload,) = _workloads(LOCAL_WEIGHTS)
    (engine,) = workload.pods[0].containers
    path = "/opt/kaito/models/example-org-big-model-fp8"
    assert engine.launch.model == path and engine.flags["load_format"] == "runai_streamer"
    assert {"name": "model-weights-hostpath", "hostPath": {"path": path}} in workload.pods[0].spec["volumes"]
    assert path in workload.notes["weights"]


def test_kaito_workspace_with_its_own_pod_template_is_judged_as_written():
    text = """\
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata: {name: custom}
resource: {instanceType: Standard_NC24ads_A100_v4}
inference:
  template:
    spec:
      containers:
      - name: server
        image: vllm/vllm-openai:v0.10.0
        args: [--model, m, --gpu-memory-utilization, "0.7"]
"""
    (workload,) = _workloads(text)
    (engine,) = workload.pods[0].containers
    assert engine.image == "vllm/vllm-openai:v0.10.0" and engine.flags["gpu_memory_utilization"] == "0.7"


def test_llmaz_skip_model_loader_has_vllm_stream_from_the_model_uri():
    findings = _findings("llmaz-runai-s3.yaml")
    assert _by(findings, "runai-streamer")["model-runner"].status == "pass"
    (workload,) = find_workloads(Inventory(read_documents([DATA / "llmaz-runai-s3.yaml"])))
    (engine,) = workload.pods[0].containers
    assert engine.launch.model == "s3://example-models/Small-Distill-1.5B"
    assert "volumes" not in workload.notes  # no loader, no emptyDir of weights


def test_unknown_kind_whose_controller_supplies_the_image_is_still_judged():
    findings = _findings("llmd-modelservice-unknown.yaml")
    gpu = _by(findings, "gpu-mem-util-range")
    assert {c: f.status for c, f in gpu.items()} == {"decode/vllm": "pass", "prefill/vllm": "fail"}
    assert all("ModelService (llm-d.ai) is not an operator coldstart knows" in f.message for f in gpu.values())
    image = _by(findings, "image-digest-pinned")["decode/vllm"]
    assert image.status == "n/a" and "the ModelService controller supplies the image" in image.message


def test_an_imageless_container_that_is_not_vllm_is_not_an_engine():
    text = """\
apiVersion: example.com/v1
kind: Job2
metadata: {name: j}
spec:
  containers:
  - {name: worker, args: [--epochs, "3"]}
"""
    assert _workloads(text) == []
