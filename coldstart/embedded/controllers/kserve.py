"""A KServe controller in raw deployment mode: InferenceService + ServingRuntime -> `<isvc>-predictor`
Deployment and Service, and the InferenceService's status.

The pod template is what KServe would run: the runtime and the predictor merged by `coldstart.vllm.kserve`
(the same merge the checker reads InferenceServices with), and the model wired in from its
storageUri: `oci://` as a KServe modelcar (a `modelcar` sidecar sharing the pod's process namespace, a
`modelcar-init` container that pre-fetches the image, /mnt/models reached through /proc/<pid>/root),
`pvc://claim/path` mounted read-only at /mnt/models, anything else downloaded by a `storage-initializer`
init container into an emptyDir. (Real KServe's pod webhook injects the storage containers when the pod is
created; here they are already in the Deployment's template, which yields the same pods.)
"""

from __future__ import annotations

from typing import Any

from coldstart.embedded.apiserver.defaults import apply_defaults
from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.objects import Reconciler, condition, owner_ref, parse_time, set_condition
from coldstart.embedded.store.store import Change, clone
from coldstart.vllm.kserve import CONTAINER, predictor_pod

ISVC = "serving.kserve.io/InferenceService"
RUNTIME = "serving.kserve.io/ServingRuntime"
CLUSTER_RUNTIME = "serving.kserve.io/ClusterServingRuntime"
MODEL_DIR = "/mnt/models"
STORAGE_VOLUME = "kserve-provision-location"
SOURCE_URI = "internal.serving.kserve.io/storage-initializer-sourceuri"
STORAGE_INITIALIZER = "kserve/storage-initializer:v0.20.0"
INGRESS_DOMAIN = "example.com"
def wire_storage(spec: dict, uri: str) -> None:
    """Make the model at `uri` appear at /mnt/models in the kserve-container, the way KServe does."""
    main = next((c for c in spec["containers"] if c.get("name") == CONTAINER), None)
    if main is None:
        return
    limits = {"cpu": "10m", "memory": "15Mi"}
    if uri.startswith("oci://"):
        image = uri.removeprefix("oci://")
        main.setdefault("env", [])
        main["env"] = [e for e in main["env"] if e.get("name") != "MODEL_INIT_MODE"]
        main["env"].append({"name": "MODEL_INIT_MODE", "value": "async"})
        main.setdefault("volumeMounts", []).append({"name": STORAGE_VOLUME, "mountPath": "/mnt"})
        spec.setdefault("volumes", []).append({"name": STORAGE_VOLUME, "emptyDir": {}})
        spec["containers"].append({
            "name": "modelcar", "image": image,
            "args": ["sh", "-c", f"ln -sf /proc/$$$$/root/models {MODEL_DIR} && sleep infinity"],
            "volumeMounts": [{"name": STORAGE_VOLUME, "mountPath": "/mnt"}],
            "resources": {"limits": dict(limits), "requests": dict(limits)},
            "terminationMessagePolicy": "FallbackToLogsOnError"})
        spec.setdefault("initContainers", []).append({
            "name": "modelcar-init", "image": image,
            "args": ["sh", "-c", f"echo 'Pre-fetching modelcar {image}: ' && [ -d /models ] && "
                     "[ \"$$(ls -A /models)\" ] && echo 'OK ... Prefetched and valid (/models exists)' || "
                     "(echo 'NOK ... Prefetched but modelcar is invalid (/models does not exist or is empty)' "
                     "&& exit 1)"],
            "resources": {"limits": dict(limits), "requests": dict(limits)},
            "terminationMessagePolicy": "FallbackToLogsOnError"})
        spec["shareProcessNamespace"] = True
    elif uri.startswith("pvc://"):
        claim, _, path = uri.removeprefix("pvc://").partition("/")
        spec.setdefault("volumes", []).append({"name": "kserve-pvc-source",
                                               "persistentVolumeClaim": {"claimName": claim}})
        mount = {"name": "kserve-pvc-source", "mountPath": MODEL_DIR, "readOnly": True}
        if path:
            mount["subPath"] = path
        main.setdefault("volumeMounts", []).append(mount)
    else:
        spec.setdefault("volumes", []).append({"name": STORAGE_VOLUME, "emptyDir": {}})
        spec.setdefault("initContainers", []).append({
            "name": "storage-initializer", "image": STORAGE_INITIALIZER, "args": [uri, MODEL_DIR],
            "env": [{"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "1"},
                    {"name": "HF_XET_HIGH_PERFORMANCE", "value": "1"},
                    {"name": "HF_XET_NUM_CONCURRENT_RANGE_GETS", "value": "8"}],
            "volumeMounts": [{"name": STORAGE_VOLUME, "mountPath": MODEL_DIR}],
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "100Mi"}},
            "terminationMessagePolicy": "FallbackToLogsOnError"})
        main.setdefault("volumeMounts", []).append({"name": STORAGE_VOLUME, "mountPath": MODEL_DIR,
                                                    "readOnly": True})


class KServeController(Reconciler):
    """Reconciles InferenceServices into predictor Deployments and Services and reports their readiness."""

    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("v1beta1Controllers")

    def on_change(self, change: Change) -> None:
        if change.key == ISVC:
            self.track(change)
        elif change.key == "apps/Deployment":
            self.enqueue_owner(change)
        elif change.key in (RUNTIME, CLUSTER_RUNTIME):
            for namespace, name in sorted(self.owners.values()):
                if change.key == CLUSTER_RUNTIME or namespace == change.namespace:
                    self.enqueue(namespace, name)

    # -- runtime ---------------------------------------------------------------------------------------
    def _runtime(self, isvc: dict) -> tuple[dict | None, str, bool, tuple[str, str] | None]:
        """(runtime spec, name, is cluster runtime, failure (reason, message))."""
        namespace = isvc["metadata"]["namespace"]
        predictor = isvc["spec"].get("predictor") or {}
        model = predictor.get("model") or {}
        if not model and predictor.get("containers"):
            return {}, "", False, None  # a custom predictor: its own containers, no runtime
        wanted = model.get("runtime")
        if wanted:
            found = self.store.get(RUNTIME, namespace, wanted)
            cluster = found is None
            found = found or self.store.get(CLUSTER_RUNTIME, "", wanted)
            if found is None:
                return None, wanted, False, ("RuntimeNotRecognized", "Waiting for runtime to become available")
            if found["spec"].get("disabled"):
                return None, wanted, cluster, ("RuntimeDisabled", "Specified runtime is disabled")
            return found["spec"], wanted, cluster, None
        fmt = ((model.get("modelFormat") or {}).get("name") or "").lower()
        candidates = [(0, r, False) for r in self.store.list(RUNTIME, namespace)[0]]
        candidates += [(1, r, True) for r in self.store.list(CLUSTER_RUNTIME)[0]]
        for _, runtime, cluster in sorted(candidates, key=lambda c: (c[0], c[1]["metadata"]["name"])):
            spec = runtime.get("spec") or {}
            if spec.get("disabled"):
                continue
            if any(f.get("autoSelect") and (f.get("name") or "").lower() == fmt
                   for f in spec.get("supportedModelFormats") or []):
                return spec, runtime["metadata"]["name"], cluster, None
        return None, "", False, ("NoSupportingRuntime", "No runtime found to support specified framework/version")

    # -- desired objects -------------------------------------------------------------------------------
    def _pod_spec(self, isvc: dict, runtime: dict) -> dict:
        predictor = isvc["spec"].get("predictor") or {}
        model = predictor.get("model") or {}
        spec = predictor_pod(runtime, predictor, isvc["metadata"])
        if not any(c.get("name") == CONTAINER for c in spec["containers"]) and spec["containers"]:
            spec["containers"][0]["name"] = spec["containers"][0].get("name") or CONTAINER
        uri = model.get("storageUri") or next(
            (e.get("value") for c in spec["containers"] if c.get("name") == CONTAINER
             for e in c.get("env") or [] if e.get("name") == "STORAGE_URI"), None)
        if uri:
            wire_storage(spec, uri)
        return spec

    def _labels(self, isvc: dict) -> dict[str, str]:
        name = isvc["metadata"]["name"]
        predictor = isvc["spec"].get("predictor") or {}
        return {**(isvc["metadata"].get("labels") or {}), **(predictor.get("labels") or {}),
                "app": f"isvc.{name}-predictor", "component": "predictor",
                "serving.kserve.io/inferenceservice": name}

    def _deployment(self, isvc: dict, runtime: dict) -> dict:
        meta, predictor = isvc["metadata"], isvc["spec"].get("predictor") or {}
        labels = self._labels(isvc)
        annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                       if not k.startswith("kubectl.kubernetes.io/")}
        annotations.update(predictor.get("annotations") or {})
        pod_annotations = {**(runtime.get("annotations") or {}), **annotations}
        spec = self._pod_spec(isvc, runtime)
        uri = (predictor.get("model") or {}).get("storageUri")
        if uri:
            pod_annotations[SOURCE_URI] = uri
        replicas = predictor.get("minReplicas")
        deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": f"{meta['name']}-predictor", "namespace": meta["namespace"],
                               "labels": labels, "annotations": annotations, "ownerReferences": [owner_ref(isvc)]},
                  "spec": {"replicas": 1 if replicas is None else int(replicas),
                           "selector": {"matchLabels": {"app": labels["app"]}},
                           "strategy": clone(predictor.get("deploymentStrategy")
                                             or {"type": "RollingUpdate",
                                                 "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                           "template": {"metadata": {"labels": {**(runtime.get("labels") or {}), **labels},
                                                     "annotations": pod_annotations},
                                        "spec": spec}}}
        apply_defaults("apps/Deployment", deploy)
        return deploy

    def _service(self, isvc: dict, deploy: dict) -> dict:
        main: dict[str, Any] = next((c for c in deploy["spec"]["template"]["spec"]["containers"]
                                     if c.get("name") == CONTAINER), {})
        port = next((p.get("containerPort") for p in main.get("ports") or []), 8080)
        name = f"{isvc['metadata']['name']}-predictor"
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": isvc["metadata"]["namespace"], "labels": self._labels(isvc),
                             "ownerReferences": [owner_ref(isvc)]},
                "spec": {"type": "ClusterIP", "selector": {"app": f"isvc.{name}"},
                         "ports": [{"name": name, "protocol": "TCP", "port": 80, "targetPort": port}]}}

    # -- reconcile -------------------------------------------------------------------------------------
    def reconcile(self, namespace: str, name: str) -> None:
        isvc = self.store.get(ISVC, namespace, name)
        if isvc is None or isvc["metadata"].get("deletionTimestamp"):
            return
        runtime, runtime_name, cluster, failure = self._runtime(isvc)
        if failure is not None:
            self.events.event(isvc, "Warning", "InternalError", f"fails to reconcile predictor: {failure[1]}")
            self._status(isvc, None, runtime_name, cluster, failure)
            return
        assert runtime is not None  # _runtime gives a spec whenever it reports no failure
        desired = self._deployment(isvc, runtime)
        current = self.store.get("apps/Deployment", namespace, desired["metadata"]["name"])
        if current is None:
            current = self.store.create(desired)
        else:
            labels = {**(current["metadata"].get("labels") or {}), **desired["metadata"]["labels"]}
            annotations = {**(current["metadata"].get("annotations") or {}), **desired["metadata"]["annotations"]}
            if (current["spec"] != desired["spec"] or current["metadata"].get("labels") != labels
                    or current["metadata"].get("annotations") != annotations):
                update = clone(current)  # keep what others own (the deployment controller's revision annotation)
                update["spec"] = desired["spec"]
                update["metadata"]["labels"], update["metadata"]["annotations"] = labels, annotations
                current = self.store.replace(update)
        if self.store.get("/Service", namespace, f"{name}-predictor") is None:
            self.store.create(self._service(isvc, current))
        self._status(isvc, current, runtime_name, cluster, None)

    def _status(self, isvc: dict, deploy: dict | None, runtime: str, cluster: bool,
                failure: tuple[str, str] | None) -> None:
        now, meta = self.ctx.now(), isvc["metadata"]
        prev = isvc.get("status") or {}
        conditions = clone(prev.get("conditions") or [])
        available = condition(deploy, "Available") if deploy else None
        if available is None:
            for kind in ("PredictorReady", "IngressReady", "Ready"):
                if not any(c["type"] == kind for c in conditions):
                    set_condition(conditions, kind, "Unknown", None, None, now)
        else:
            since = parse_time(available.get("lastTransitionTime")) or now
            set_condition(conditions, "PredictorReady", available["status"], available.get("reason"),
                          available.get("message"), since)
            if available["status"] == "True":
                set_condition(conditions, "IngressReady", "True", None, None, now)
            else:
                set_condition(conditions, "IngressReady", "False", "Predictor ingress not created", None, now)
            blocking = next((c for c in conditions if c["type"] in ("PredictorReady", "IngressReady")
                             and c["status"] != "True"), None)
            if blocking is None:
                set_condition(conditions, "Ready", "True", None, None, now)
            else:
                set_condition(conditions, "Ready", blocking["status"], blocking.get("reason"),
                              blocking.get("message"), now)
        status: dict[str, Any] = {"conditions": sorted(conditions, key=lambda c: c["type"]),
                                  "deploymentMode": "RawDeployment",
                                  "observedGeneration": meta.get("generation", 1)}
        if runtime:
            status["clusterServingRuntimeName" if cluster else "servingRuntimeName"] = runtime
        ready = next(c for c in conditions if c["type"] == "Ready")["status"] == "True"
        pods = int(((deploy or {}).get("status") or {}).get("readyReplicas", 0))
        if failure is not None:
            status["modelStatus"] = {"transitionStatus": "InvalidSpec",
                                     "states": {"activeModelState": "", "targetModelState": "FailedToLoad"},
                                     "lastFailureInfo": {"reason": failure[0], "message": failure[1]}}
        else:
            status["modelStatus"] = {"transitionStatus": "UpToDate" if ready else "InProgress",
                                     "states": {"activeModelState": "Loaded" if pods else "Pending",
                                                "targetModelState": "Loaded" if ready else "Pending"},
                                     "copies": {"failedCopies": 0, "totalCopies": pods}}
        if deploy is not None:
            revision = (deploy["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision")
            component: dict[str, Any] = {"latestCreatedRevision": revision} if revision else {}
            if ready:
                host = f"{meta['name']}-{meta['namespace']}.{INGRESS_DOMAIN}"
                component["url"] = f"http://{meta['name']}-predictor-{meta['namespace']}.{INGRESS_DOMAIN}"
                status["url"] = f"http://{host}"
                status["address"] = {"url": f"http://{meta['name']}-predictor.{meta['namespace']}.svc.cluster.local"}
            status["components"] = {"predictor": component}

        def edit(obj: dict) -> bool:
            if obj.get("status") == status:
                return False
            obj["status"] = status
            return True

        self.store.mutate(ISVC, meta["namespace"], meta["name"], edit, fresh=())
