"""Weight-load invariants: a digest-pinned modelcar (or, where the profile asks, the Run:ai streamer reading the object
store), the Hub never called at start, the Run:ai streamer with a bounded buffer, and (GKE) the weights on a
read-only Hyperdisk ML claim."""

from __future__ import annotations

from collections.abc import Iterator

from coldstart.kube.images import has_digest
from coldstart.kube.podspec import volume_at
from coldstart.kube.quantity import format_binary
from coldstart.profiles.physics import weights_storage
from coldstart.verify.checks.common import env_note, pinned_form, streamer_bound, unresolved, uses_streamer
from coldstart.verify.findings import Context, Finding, found, invariant
from coldstart.verify.workloads import Workload
from coldstart.vllm.launch import truthy


@invariant("modelcar-digest", "weight_load",
           "weights fetched from a hub or bucket on every cold start, or a modelcar tag that can change underneath")
def check_modelcar(ctx: Context) -> Iterator[Finding]:
    for w in ctx.workloads:
        if w.modelcars:
            for ref in w.modelcars:
                if has_digest(ref.image):
                    yield found("modelcar-digest", "pass", w, ref.container,
                                f"modelcar {ref.image} is pinned by digest")
                else:
                    yield found("modelcar-digest", "fail", w, ref.container,
                                f"modelcar {ref.image} is a tag: pin it as oci://{pinned_form(ref.image)} so nodes "
                                "cache one immutable image")
            continue
        source, what = _weights_source(w)
        if source == "pvc":
            yield found("modelcar-digest", "n/a", w, None, f"weights come from a disk ({what}), not a modelcar")
        elif source == "object_store" and ctx.profile is not None and weights_storage(ctx.profile) == "object_store":
            yield found("modelcar-digest", "n/a", w, None, f"the Run:ai streamer reads the weights from {what}, as "
                        "the profile asks: no modelcar to pin")
        elif source is None:
            yield found("modelcar-digest", "n/a", w, None, "the model source is not in this input")
        elif ctx.profile is None:
            yield found("modelcar-digest", "n/a", w, None, f"weights come from {what}; without --profile a "
                        "modelcar is not required")
        else:
            yield found("modelcar-digest", "fail", w, None,
                        f"weights come from {what} at every cold start; package them as an OCI modelcar "
                        f"pinned by digest (e.g. storageUri: oci://{ctx.profile.model.modelcar})")


OBJECT_STORES = ("s3://", "gs://", "az://")  # what vLLM's Run:ai streamer reads directly


def _weights_source(w: Workload) -> tuple[str | None, str]:
    """('pvc'|'object_store'|'remote'|None, description) of where the engine reads its weights."""
    uri = str(w.model_uri or "")
    if uri.startswith("pvc://"):
        return "pvc", uri
    if "://" in uri:
        return "remote", uri
    for pod in w.pods:
        for c in pod.containers:
            model = c.launch.model or c.flags.get("model")
            if not isinstance(model, str) or not model or unresolved(model):
                continue
            if model.startswith(OBJECT_STORES):
                return "object_store", model
            if model.startswith("/"):
                mount, volume = volume_at(pod.spec, c.spec, model)
                claim = ((volume or {}).get("persistentVolumeClaim") or {}).get("claimName")
                if claim:
                    return "pvc", f"PVC {claim} at {mount}"
                return "remote", f"{model} (not a disk or modelcar in this input)"
            return "remote", f"the Hugging Face Hub ({model})"
    return None, ""


@invariant("hf-offline", "weight_load",
           "Hugging Face libraries call the Hub at start (and stall or fail when it is slow or rate-limited)")
def check_hf_offline(ctx: Context) -> Iterator[Finding]:
    for w, pod, c in ctx.containers():
        missing = [k for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if not truthy(c.env.get(k))]
        if missing:
            yield found("hf-offline", "fail", w, c.name, f"{' and '.join(missing)} not set to 1{env_note(pod)}: "
                        "set HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1 so startup never waits on the Hub")
        else:
            yield found("hf-offline", "pass", w, c.name, "HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE are set")


@invariant("runai-streamer", "weight_load",
           "vLLM's default loader reads safetensors one file at a time, several times slower than the streamer")
def check_streamer(ctx: Context) -> Iterator[Finding]:
    for w, pod, c in ctx.engines(launchers_only=True):
        fmt = c.flags.get("load_format")
        if "flags" in pod.na and fmt is None:
            yield found("runai-streamer", "n/a", w, c.name, pod.na["flags"])
        elif unresolved(fmt):
            yield found("runai-streamer", "n/a", w, c.name, f"--load-format {fmt} cannot be resolved from this input")
        elif uses_streamer(c):
            yield found("runai-streamer", "pass", w, c.name, f"load format {fmt}")
        else:
            yield found("runai-streamer", "fail", w, c.name, f"load format {fmt or 'auto (default)'}: set "
                        "--load-format=runai_streamer to stream weights concurrently into GPU memory")


@invariant("streamer-memory-bounded", "weight_load",
           "an unbounded Run:ai streamer buffer grows with the model and OOM-kills the pod at its memory limit")
def check_streamer_bound(ctx: Context) -> Iterator[Finding]:
    for w, pod, c in ctx.engines(launchers_only=True):
        if "flags" in pod.na and not uses_streamer(c):
            yield found("streamer-memory-bounded", "n/a", w, c.name, pod.na["flags"])
            continue
        if not uses_streamer(c):
            yield found("streamer-memory-bounded", "n/a", w, c.name, "the Run:ai streamer is not used")
            continue
        bound, where = streamer_bound(c)
        if bound is None or bound < 0:
            yield found("streamer-memory-bounded", "fail", w, c.name,
                        f"{where}{' (unlimited)' if bound is not None else ''}: set RUNAI_STREAMER_MEMORY_LIMIT to a "
                        "byte bound (e.g. 4Gi = 4294967296) and count it in the memory limit")
        else:
            yield found("streamer-memory-bounded", "pass", w, c.name, f"{where} ({format_binary(bound)})"
                        if bound else f"{where} (minimal buffer)")


@invariant("hyperdisk-ml", "weight_load",
           "weights read from a network disk at a fraction of Hyperdisk ML's read throughput", "gke:hyperdisk_ml")
def check_hyperdisk(ctx: Context) -> Iterator[Finding]:
    classes = {str((d.obj.get("metadata") or {}).get("name")) for d in ctx.inv.of_kind("StorageClass")
               if d.obj.get("provisioner") == "pd.csi.storage.gke.io"
               and str((d.obj.get("parameters") or {}).get("type", "")).lower() == "hyperdisk-ml"}
    claims = {str((d.obj.get("metadata") or {}).get("name")) for d in ctx.inv.of_kind("PersistentVolumeClaim")
              if (d.obj.get("spec") or {}).get("storageClassName") in classes
              and "ReadOnlyMany" in ((d.obj.get("spec") or {}).get("accessModes") or [])}
    for w in ctx.workloads:
        if not classes:
            yield found("hyperdisk-ml", "fail", w, None, "no StorageClass with provisioner pd.csi.storage.gke.io "
                        "and parameters.type: hyperdisk-ml in this input; add one for the weights disk")
        elif not claims:
            yield found("hyperdisk-ml", "fail", w, None, f"no ReadOnlyMany PVC of class {', '.join(sorted(classes))}"
                        "; create one from the hydrated weights snapshot")
        else:
            used, writable = _claims_used(w)
            hit = sorted(claims & used)
            if hit:
                yield found("hyperdisk-ml", "pass", w, None, f"weights on Hyperdisk ML PVC {hit[0]} (read-only)")
            elif claims & writable:
                yield found("hyperdisk-ml", "fail", w, None, f"PVC {sorted(claims & writable)[0]} is mounted "
                            "read-write; mount it readOnly: true (ReadOnlyMany attaches read-only to many nodes)")
            else:
                yield found("hyperdisk-ml", "fail", w, None, f"the engine pods do not use the Hyperdisk ML PVC "
                            f"{sorted(claims)[0]}; set storageUri: pvc://{sorted(claims)[0]}/... or mount it "
                            "read-only")


def _claims_used(w: Workload) -> tuple[set[str], set[str]]:
    """(claims read-only in the engine pods or via pvc:// storage, claims mounted writable)."""
    ro: set[str] = set()
    rw: set[str] = set()
    uri = str(w.model_uri or "")
    if uri.startswith("pvc://"):
        ro.add(uri[len("pvc://"):].split("/", 1)[0])
    for pod in w.pods:
        volumes = {v.get("name"): v for v in pod.spec.get("volumes") or [] if isinstance(v, dict)}
        for c in pod.containers:
            for m in c.spec.get("volumeMounts") or []:
                pvc = (volumes.get(m.get("name")) or {}).get("persistentVolumeClaim") if isinstance(m, dict) else None
                if isinstance(pvc, dict) and pvc.get("claimName"):
                    (ro if m.get("readOnly") or pvc.get("readOnly") else rw).add(str(pvc["claimName"]))
    return ro, rw - ro
