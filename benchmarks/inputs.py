"""Benchmark: time and peak memory of the real CLI on large inputs (prints figures; not a test).

Generates, in a temporary folder, what a big cluster hands over and runs the command on it in a fresh process:

- a 500 MB vLLM log (`kubectl logs --timestamps`: the startup lines of a real V1 engine, then routine request
  lines for hours) through `coldstart timeline --log`; aim: under 300 MB peak RSS;
- a 200 MB manifest set (Helm-style multi-document files; by bytes 40% CRD-sized documents, 30% Deployments with
  their Services, one in seven running vLLM, 30% dashboard ConfigMaps) through `coldstart verify`; aim: under
  1 GB peak RSS and 2 minutes;
- a 100,000-event `kubectl get events -o json` dump with its pods through `coldstart timeline --events --pods`.

Peak RSS is the child's own (os.wait4's rusage, the per-child form of getrusage(RUSAGE_CHILDREN).ru_maxrss).

    .venv/bin/python benchmarks/inputs.py [--scale 1.0] [--keep DIR]

--scale 0.05 makes every input 20 times smaller for a quick run.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timeline import generate  # noqa: E402  (the 1,000-replica scale-out, reused)

MB = 10**6
T0 = datetime(2025, 6, 2, 10, 0, 0, tzinfo=UTC)
IMAGE = "registry.local:5000/vllm/vllm-openai@sha256:" + "9f" * 32


def _stamp(seconds: float) -> tuple[str, str]:
    when = T0 + timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), when.strftime("%m-%d %H:%M:%S")


def write_log(path: Path, size: int) -> None:
    """A vLLM V1 startup (streamer, compile, graphs, ready), then request and metrics lines until `size` bytes."""
    def line(t: float, proc: str, where: str, message: str) -> str:
        runtime, wall = _stamp(t)
        return f"{runtime} {proc} INFO {wall} [{where}] {message}\n"

    head = [
        line(0.0, "(APIServer pid=1)", "api_server.py:1805", "vLLM API server version 0.10.1"),
        line(0.1, "(APIServer pid=1)", "utils.py:326", "non-default args: {'model': '/mnt/models', "
             "'load_format': 'runai_streamer', 'tensor_parallel_size': 1, 'gpu_memory_utilization': 0.7}"),
        line(2.0, "(EngineCore_DP0 pid=271)", "core.py:74", "Initializing a V1 LLM engine (v0.10.1) with config: "
             "model='/mnt/models', load_format=runai_streamer, tensor_parallel_size=1, enforce_eager=False, "
             "device_config=cuda"),
        line(14.0, "(EngineCore_DP0 pid=271)", "runai_streamer.py:88", "[RunAI Streamer] Overall time to stream "
             "14.2 GiB of all files to cpu: 11.71s, 1241.8 MiB/s"),
        line(14.3, "(EngineCore_DP0 pid=271)", "default_loader.py:262", "Loading weights took 12.01 seconds"),
        line(15.0, "(EngineCore_DP0 pid=271)", "gpu_model_runner.py:1892", "Model loading took 14.25 GiB and "
             "12.804557 seconds"),
        line(22.5, "(EngineCore_DP0 pid=271)", "backends.py:530", "Dynamo bytecode transform time: 7.51 s"),
        line(41.0, "(EngineCore_DP0 pid=271)", "monitor.py:34", "torch.compile takes 26.02 s in total"),
        line(42.0, "(EngineCore_DP0 pid=271)", "gpu_worker.py:276", "Available KV cache memory: 26.91 GiB"),
        line(55.0, "(EngineCore_DP0 pid=271)", "gpu_model_runner.py:2567", "Graph capturing finished in 13 secs, "
             "took 0.45 GiB"),
        line(55.2, "(EngineCore_DP0 pid=271)", "core.py:214", "init engine (profile, create kv cache, warmup model) "
             "took 40.31 seconds"),
        line(58.0, "(APIServer pid=1)", "api_server.py:1847", "Starting vLLM API server 0 on http://0.0.0.0:8000"),
        f"{_stamp(59.0)[0]} (APIServer pid=1) INFO:     Application startup complete.\n",
    ]
    rng = random.Random(11)
    with path.open("w", encoding="utf-8") as out:
        written = sum(out.write(h) for h in head)
        t = 60.0
        block: list[str] = []
        while written < size:
            block.clear()
            for _ in range(2000):
                t += 0.05
                if rng.random() < 0.1:
                    block.append(line(t, "(APIServer pid=1)", "loggers.py:123", "Engine 000: Avg prompt throughput: "
                                      f"{rng.uniform(100, 900):.1f} tokens/s, Avg generation throughput: "
                                      f"{rng.uniform(50, 400):.1f} tokens/s, Running: {rng.randint(1, 64)} reqs, "
                                      "Waiting: 0 reqs, GPU KV cache usage: 3.1%, Prefix cache hit rate: 41.0%"))
                else:
                    runtime, _ = _stamp(t)
                    peer = f"10.8.{rng.randint(0, 255)}.{rng.randint(2, 254)}:{rng.randint(30000, 60000)}"
                    block.append(f"{runtime} (APIServer pid=1) INFO:     {peer} - \"POST /v1/chat/completions "
                                 "HTTP/1.1\" 200 OK\n")
            written += out.write("".join(block))


def _deployment(i: int, engine: bool) -> str:
    name = f"vllm-{i}" if engine else f"svc-{i}"
    container = (f"""      - name: vllm
        image: {IMAGE}
        imagePullPolicy: IfNotPresent
        args: ["--model", "/mnt/models", "--gpu-memory-utilization", "0.7", "--load-format", "runai_streamer"]
        env:
        - {{name: HF_HUB_OFFLINE, value: "1"}}
        - {{name: NCCL_CUMEM_ENABLE, value: "0"}}
        envFrom: [{{configMapRef: {{name: {name}-env}}}}]
        resources:
          limits: {{nvidia.com/gpu: 1, memory: 64Gi}}
          requests: {{cpu: "8", memory: 64Gi}}
        startupProbe: {{httpGet: {{path: /health, port: 8000}}, periodSeconds: 10, failureThreshold: 90}}
        volumeMounts: [{{name: dshm, mountPath: /dev/shm}}, {{name: models, mountPath: /mnt/models}}]
      volumes:
      - {{name: dshm, emptyDir: {{medium: Memory, sizeLimit: 16Gi}}}}
      - {{name: models, persistentVolumeClaim: {{claimName: models}}}}""" if engine else f"""      - name: app
        image: registry.local:5000/team/app-{i % 50}@sha256:{'ab' * 32}
        ports: [{{containerPort: 8080}}]
        env: [{{name: LOG_LEVEL, value: info}}, {{name: REGION, value: us-central1}}]
        resources: {{requests: {{cpu: 250m, memory: 256Mi}}, limits: {{memory: 512Mi}}}}
        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}, periodSeconds: 5}}""")
    labels = "\n".join(f"    team.example.com/label-{k}: value-{k}" for k in range(8))
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: llm
  labels:
    app.kubernetes.io/name: {name}
{labels}
spec:
  replicas: 2
  selector: {{matchLabels: {{app.kubernetes.io/name: {name}}}}}
  template:
    metadata: {{labels: {{app.kubernetes.io/name: {name}}}}}
    spec:
      priorityClassName: {"vllm-serving" if engine else "default"}
      nodeSelector: {{cloud.google.com/gke-accelerator: nvidia-l4}}
      containers:
{container}
"""


def _service(i: int) -> str:
    return f"""apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: llm, labels: {{app.kubernetes.io/name: svc-{i}}}}}
spec:
  selector: {{app.kubernetes.io/name: svc-{i}}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
"""


def _configmap(i: int, rng: random.Random, size: int) -> str:
    panel = json.dumps({"type": "timeseries", "title": "p99 latency",
                        "targets": [{"expr": "histogram_quantile(0.99, rate(vllm:e2e_request_latency_seconds_bucket"
                                             "[5m]))"}]})
    body = ",".join(panel for _ in range(max(1, size // len(panel))))
    return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: dashboard-{i}, namespace: monitoring}}
data:
  dashboard.json: '{{"panels": [{body}], "seed": {rng.randint(0, 10**9)}}}'
"""


def _crd(i: int, size: int) -> str:
    """A CustomResourceDefinition the size of KServe's (an openAPIV3Schema of nested properties)."""
    prop = ("            field{n}:\n              type: object\n              description: >-\n"
            "                A field of the schema, with the kind of prose real CRDs carry in every description.\n"
            "              properties:\n                name: {{type: string}}\n"
            "                value: {{type: string}}\n")
    props = "".join(prop.format(n=n) for n in range(max(1, size // len(prop))))
    return f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: things{i}.example.com}}
spec:
  group: example.com
  names: {{kind: Thing{i}, plural: things{i}}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
{props}"""


def write_manifests(folder: Path, size: int) -> int:
    """Helm-style files of about 4 MB; by bytes 40% CRDs, 30% Deployments with their Services (one in seven runs
    vLLM), 30% ConfigMaps (dashboards of 2 KB to 200 KB): each next object is of the kind furthest below its share."""
    rng = random.Random(5)
    folder.mkdir(parents=True, exist_ok=True)
    shares = {"crd": 0.4, "deployment": 0.3, "configmap": 0.3}
    made = dict.fromkeys(shares, 1)
    written, n, i = 0, 0, 0
    while written < size:
        docs: list[str] = []
        file_bytes = 0
        while file_bytes < 4 * MB:
            i += 1
            total = sum(made.values())
            kind = min(shares, key=lambda k: made[k] / total - shares[k])
            if kind == "crd":
                doc = _crd(i, rng.randint(200_000, 2_000_000))
            elif kind == "deployment":
                doc = _deployment(i, engine=i % 7 == 0) + "---\n" + _service(i)
            else:
                doc = _configmap(i, rng, rng.randint(2_000, 200_000))
            made[kind] += len(doc)
            docs.append(f"# Source: chart/templates/object-{i}.yaml\n{doc}")
            file_bytes += len(doc)
        text = "---\n" + "---\n".join(docs)
        (folder / f"release-{n:03d}.yaml").write_text(text)
        written += len(text)
        n += 1
    return written


# A small launcher runs each command: a child's peak RSS counts what it inherited at fork, so the CLI must not be
# forked from this process once it holds generated inputs; the launcher stays at a few MB.
_LAUNCHER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run([sys.executable, "-m", "coldstart.cli", *sys.argv[1:]], stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_kb": usage.ru_maxrss,
                  "code": done.returncode, "err": done.stderr.decode()[-300:]}))
"""


def run(label: str, args: list[str]) -> None:
    """Run the CLI in a fresh process; print wall and CPU time, peak RSS (getrusage(RUSAGE_CHILDREN).ru_maxrss of
    the launcher, i.e. the CLI process's own) and the exit code. On a busy machine the CPU time is the figure to
    compare."""
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, *args], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    err = result["err"].strip()
    print(f"{label:<44} {result['wall']:7.1f} s wall {result['cpu']:7.1f} s CPU {result['peak_kb'] / 1024:6.0f} MB "
          f"peak RSS  exit {result['code']}"
          + (f"  ({err.splitlines()[-1][:100]})" if err and result["code"] not in (0, 1) else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="input sizes relative to the full run")
    parser.add_argument("--keep", help="generate into this folder and keep it (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coldstart-bench-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        log = root / "vllm-0.log"
        start = time.perf_counter()
        write_log(log, int(500 * MB * args.scale))
        manifests = root / "manifests"
        total = write_manifests(manifests, int(200 * MB * args.scale))
        events_json, pods_json, _ = generate(max(10, int(1000 * args.scale)))
        (root / "events.json").write_text(events_json)
        (root / "pods.json").write_text(pods_json)
        print(f"generated in {time.perf_counter() - start:.0f} s: log {log.stat().st_size / MB:.0f} MB, manifests "
              f"{total / MB:.0f} MB in {len(list(manifests.iterdir()))} files, events "
              f"{len(events_json) / MB:.0f} MB", flush=True)
        run(f"timeline --log ({log.stat().st_size / MB:.0f} MB vLLM log)", ["timeline", "--log", str(log),
                                                                            "--format", "json"])
        run(f"verify ({total / MB:.0f} MB of manifests)", ["verify", str(manifests), "--format", "json"])
        run(f"timeline --events --pods ({len(events_json) / MB:.0f} MB events)",
            ["timeline", "--events", str(root / "events.json"), "--pods", str(root / "pods.json"), "--format", "json"])


if __name__ == "__main__":
    main()
