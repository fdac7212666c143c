"""kubectl cases, part two: changing things (scale, rollouts, wait, label/annotate/patch, deletion, namespaces,
generators), controllers (Jobs, CronJobs, Services), auth and custom resources."""

from __future__ import annotations

import json

from tests.embedded.kubectl_cases import Kubectl, Verdict, case, configmap, deployment, verdict


def _ready(k: Kubectl, name: str, replicas: int = 1) -> bool:
    return k.until(lambda: k.json("deploy", name).get("status", {}).get("readyReplicas") == replicas)


@case("scale", "kubectl scale deploy --replicas=3", "3 pods, readyReplicas 3")
def scale(k: Kubectl) -> Verdict:
    k.apply(deployment("web"))
    r = k("scale", "deploy", "web", "--replicas=3")
    return verdict(r.ok and _ready(k, "web", 3))


@case("rollout-status", "kubectl rollout status deploy", "waits, then 'successfully rolled out'")
def rollout_status(k: Kubectl) -> Verdict:
    k.apply(deployment("web", 2))
    r = k("rollout", "status", "deploy/web", "--timeout=20s")
    return verdict(r.ok and "successfully rolled out" in r.out, r.err[:100])


@case("rollout-undo", "set image twice, rollout history, rollout undo", "undo returns to the previous revision's "
      "template (revision 2's image), history lists revisions")
def rollout_undo(k: Kubectl) -> Verdict:
    k.apply(deployment("web", image="nginx:1"))
    _ready(k, "web")
    k("set", "image", "deploy/web", "web=nginx:2")
    k("rollout", "status", "deploy/web", "--timeout=20s")
    k("set", "image", "deploy/web", "web=nginx:3")
    k("rollout", "status", "deploy/web", "--timeout=20s")
    history, undo = k("rollout", "history", "deploy/web"), k("rollout", "undo", "deploy/web")
    image = k("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}").out
    return verdict(undo.ok and image == "nginx:2" and "3" in history.out, f"image after undo: {image}")


@case("rollout-pause", "rollout pause, set image, rollout resume", "a paused Deployment makes no new ReplicaSet until "
      "resumed")
def rollout_pause(k: Kubectl) -> Verdict:
    k.apply(deployment("web"))
    _ready(k, "web")
    k("rollout", "pause", "deploy/web")
    k("set", "image", "deploy/web", "web=nginx:9")
    import time
    time.sleep(2)
    paused_sets = len(k.json("rs").get("items", []))
    k("rollout", "resume", "deploy/web")
    resumed = k.until(lambda: len(k.json("rs").get("items", [])) == 2)
    return verdict(paused_sets == 1 and resumed, f"{paused_sets} ReplicaSets while paused")


@case("wait", "kubectl wait --for=condition=Available, --for=delete, --for=jsonpath",
      "returns once the condition holds (or the object is gone)")
def wait(k: Kubectl) -> Verdict:
    k.apply(deployment("web"))
    available = k("wait", "deploy/web", "--for=condition=Available", "--timeout=20s")
    jp = k("wait", "deploy/web", "--for=jsonpath={.status.readyReplicas}=1", "--timeout=20s")
    k.apply(configmap("gone"))
    k("delete", "cm", "gone", "--wait=false")
    deleted = k("wait", "cm/gone", "--for=delete", "--timeout=10s")
    return verdict(available.ok and jp.ok and deleted.ok, available.err[:80] + jp.err[:80])


@case("label-annotate", "kubectl label / annotate, --overwrite, removal with key-", "labels and annotations "
      "changed; an existing key without --overwrite is refused")
def label_annotate(k: Kubectl) -> Verdict:
    k.apply(configmap("l"))
    steps = [k("label", "cm", "l", "a=1").ok, not k("label", "cm", "l", "a=2").ok,
             k("label", "cm", "l", "a=2", "--overwrite").ok, k("annotate", "cm", "l", "note=hi").ok,
             k("label", "cm", "l", "a-").ok]
    meta = k.json("cm", "l").get("metadata", {})
    return verdict(all(steps) and "a" not in (meta.get("labels") or {}) and meta.get("annotations", {}).get("note")
                   == "hi", str(steps))


@case("patch", "kubectl patch --type strategic / merge / json", "each patch type applied as the real server does "
      "(strategic merges containers by name)")
def patch(k: Kubectl) -> Verdict:
    k.apply(deployment("p"))
    sm = k("patch", "deploy", "p", "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"x:2"}]}}}}')
    mp = k("patch", "deploy", "p", "--type=merge", "-p", '{"metadata":{"labels":{"m":"1"}}}')
    jp = k("patch", "deploy", "p", "--type=json", "-p", '[{"op":"replace","path":"/spec/replicas","value":2}]')
    d = k.json("deploy", "p")
    containers = d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    ok = (len(containers) == 1 and containers[0].get("image") == "x:2" and "command" in containers[0]
          and d["metadata"]["labels"].get("m") == "1" and d["spec"]["replicas"] == 2)
    return verdict(sm.ok and mp.ok and jp.ok and ok)


def _owned_pods(k: Kubectl, name: str) -> int:
    return len(k.json("pods", "-l", f"app={name}").get("items", []))


@case("delete-background", "kubectl delete deploy (default cascade=background)", "the Deployment goes at once; "
      "its ReplicaSets and Pods follow (garbage collector)")
def delete_background(k: Kubectl) -> Verdict:
    k.apply(deployment("bg", 2))
    _ready(k, "bg", 2)
    r = k("delete", "deploy", "bg")
    return verdict(r.ok and k.until(lambda: _owned_pods(k, "bg") == 0 and not k.json("rs").get("items")))


@case("delete-orphan", "kubectl delete deploy --cascade=orphan", "the Deployment goes; its ReplicaSet and Pods stay, "
      "with the ownerReference removed")
def delete_orphan(k: Kubectl) -> Verdict:
    k.apply(deployment("orph", 2))
    _ready(k, "orph", 2)
    r = k("delete", "deploy", "orph", "--cascade=orphan")
    import time
    time.sleep(1.5)
    sets = k.json("rs").get("items", [])
    return verdict(r.ok and len(sets) == 1 and not sets[0]["metadata"].get("ownerReferences")
                   and _owned_pods(k, "orph") == 2, f"{len(sets)} ReplicaSets, {_owned_pods(k, 'orph')} pods")


@case("delete-foreground", "kubectl delete deploy --cascade=foreground", "the Deployment gets deletionTimestamp and "
      "the foregroundDeletion finalizer, stays until its dependents are gone, then goes")
def delete_foreground(k: Kubectl) -> Verdict:
    held = deployment("fg", 2)
    held["metadata"]["finalizers"] = ["example.com/hold"]  # keeps it visible once its dependents are gone
    k.apply(held)
    _ready(k, "fg", 2)
    r = k("delete", "deploy", "fg", "--cascade=foreground", "--wait=false", "-v=8")  # -v=8 logs the answer
    deployment_json = '\\"kind\\":\\"Deployment'
    answer = next((line for line in r.err.splitlines() if "Response Body" in line and deployment_json in line), "")
    seen = [f for f in ("foregroundDeletion", "example.com/hold") if f in answer]
    emptied = k.until(lambda: _owned_pods(k, "fg") == 0 and not k.json("rs").get("items"))
    k("patch", "deploy", "fg", "--type=json", "-p", '[{"op":"remove","path":"/metadata/finalizers/0"}]')
    gone = k.until(lambda: not k.exists("deploy", "fg"))
    return verdict(r.ok and "foregroundDeletion" in seen and emptied and gone, f"finalizers seen: {seen}")


@case("namespace-lifecycle", "create ns, fill it, delete ns", "new namespace has the default ServiceAccount and "
      "kube-root-ca.crt; deletion: Terminating, then its contents and the namespace are gone")
def namespace_lifecycle(k: Kubectl) -> Verdict:
    ns = f"{k.namespace}-x"
    k("create", "namespace", ns, namespaced=False)
    inner = Kubectl(k.binary, k.kubeconfig, ns)
    defaults = inner.until(lambda: inner.exists("sa", "default") and inner.exists("cm", "kube-root-ca.crt"), 5)
    inner.apply(configmap("inside"))
    k("delete", "namespace", ns, "--wait=false", namespaced=False)
    phase = k.json("namespace", ns).get("status", {}).get("phase")
    gone = k.until(lambda: not k.exists("namespace", ns, namespaced=False) if False else
                   not k("get", "namespace", ns, namespaced=False).ok)
    leftover = inner("get", "cm", "inside").ok
    return verdict(defaults and gone and not leftover and phase in ("Terminating", None),
                   f"defaults {defaults}, phase {phase}, gone {gone}, contents left {leftover}")


@case("create-generators", "kubectl create deployment/configmap/secret/service/job/cronjob/sa/quota-less kinds",
      "each object created (kubectl sends protobuf for built-in kinds)")
def create_generators(k: Kubectl) -> Verdict:
    results = {"deployment": k("create", "deployment", "g", "--image=nginx"),
               "configmap": k("create", "configmap", "g", "--from-literal=a=b"),
               "secret": k("create", "secret", "generic", "g", "--from-literal=a=b"),
               "service": k("create", "service", "clusterip", "g", "--tcp=80:80"),
               "job": k("create", "job", "g", "--image=busybox", "--", "sh", "-c", "true"),
               "cronjob": k("create", "cronjob", "g", "--image=busybox", "--schedule=*/1 * * * *"),
               "serviceaccount": k("create", "serviceaccount", "g"),
               "pod": k("run", "g", "--image=nginx")}
    failed = [kind for kind, r in results.items() if not r.ok]
    return verdict(not failed, f"failed: {', '.join(failed)}" if failed else "",
                   partial=len(failed) < len(results))


@case("job", "a Job that exits 0", "pods run to completion, the Job gets Complete=True and succeeded: 1")
def job(k: Kubectl) -> Verdict:
    k("create", "job", "j", "--image=busybox", "--", "sh", "-c", "true")
    done = k("wait", "job/j", "--for=condition=Complete", "--timeout=20s")
    return verdict(done.ok, done.err[:100])


@case("cronjob", "a CronJob every minute", "a Job named <cronjob>-<scheduled minute> appears each minute")
def cronjob(k: Kubectl) -> Verdict:
    k("create", "cronjob", "cj", "--image=busybox", "--schedule=*/1 * * * *", "--", "sh", "-c", "true")
    made = k.until(lambda: bool(k.json("jobs").get("items")), 30)
    return verdict(made)


@case("service-endpoints", "a Service over ready pods", "Endpoints and an EndpointSlice list the ready pods' IPs")
def service_endpoints(k: Kubectl) -> Verdict:
    k.apply(deployment("web", 2))
    k("expose", "deploy", "web", "--port=80")
    found = k.until(lambda: len(k.json("endpoints", "web").get("subsets", [{}])[0].get("addresses", [])) == 2)
    slices = k("get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "name")
    return verdict(found and bool(slices.out.strip()), slices.err[:100], partial=found)


@case("auth-can-i", "kubectl auth can-i create pods / --list", "yes (SelfSubjectAccessReview; the embedded server "
      "allows everything)")
def auth_can_i(k: Kubectl) -> Verdict:
    r = k("auth", "can-i", "create", "pods")
    return verdict(r.ok and r.out.strip() == "yes", r.err[:100])


@case("crd", "apply a CRD, then an object of its kind; get it by plural and short name",
      "the kind is served once its CRD is Established; before, 'no matches for kind'")
def crd(k: Kubectl) -> Verdict:
    crd_doc = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": f"widgets{k.namespace.replace('-', '')}.example.com"},
               "spec": {"group": "example.com", "scope": "Namespaced",
                        "names": {"plural": f"widgets{k.namespace.replace('-', '')}", "kind": "Widget",
                                  "singular": "widget", "shortNames": ["wdg"]},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {"type": "object",
                                                                     "x-kubernetes-preserve-unknown-fields": True}}}]}}
    before = k.apply({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})
    created = k.apply(crd_doc)
    k("wait", "crd", crd_doc["metadata"]["name"], "--for=condition=Established", "--timeout=10s", namespaced=False)
    after = k.apply({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1}})
    listed = k("get", crd_doc["spec"]["names"]["plural"], "-o", "name")
    return verdict(not before.ok and created.ok and after.ok and "w" in listed.out, after.err[:100])


@case("pod-phase-ready", "a pod's Ready condition against its phase", "Ready=True only once the phase is Running")
def pod_phase_ready(k: Kubectl) -> Verdict:
    k("run", "pr", "--image=nginx")
    seen: list[tuple] = []

    def sample() -> bool:
        pod = k.json("pod", "pr")
        status = pod.get("status", {})
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
        seen.append((status.get("phase"), ready))
        return status.get("phase") == "Running" and ready

    k.until(sample)
    bad = [s for s in seen if s[1] and s[0] != "Running"]
    return verdict(bool(seen) and seen[-1] == ("Running", True) and not bad, json.dumps(bad[:2]))


@case("exec-portforward", "kubectl exec / port-forward", "a stream to the container (SPDY/WebSocket upgrade)")
def exec_portforward(k: Kubectl) -> Verdict:
    k("run", "ex", "--image=nginx")
    r = k("exec", "ex", "--", "true", timeout=10)
    return verdict(r.ok, "the embedded cluster runs no processes: streams are not served")


@case("api-discovery", "kubectl version, api-resources, api-versions", "the server's version, every served "
      "resource with short names, every group/version")
def api_discovery(k: Kubectl) -> Verdict:
    version = k("version", "-o", "json", namespaced=False)
    resources = k("api-resources", namespaced=False)
    versions = k("api-versions", namespaced=False)
    return verdict(version.ok and "serverVersion" in version.out and "deployments" in resources.out
                   and "apps/v1" in versions.out, version.err[:100] + resources.err[:100])


@case("get-all", "kubectl get all", "pods, services, deployments, replicasets, jobs... (category all)")
def get_all(k: Kubectl) -> Verdict:
    k.apply(deployment("web"))
    out = k("get", "all").out
    return verdict("deployment.apps/web" in out and "replicaset.apps/web-" in out and "pod/web-" in out, out[-100:])


@case("replace", "kubectl replace -f, replace --force", "the object replaced (resourceVersion checked when given); "
      "--force deletes and recreates it")
def replace(k: Kubectl) -> Verdict:
    k.apply(configmap("r", a="1"))
    plain = k("replace", "-f", "-", stdin=json.dumps(configmap("r", a="2")))
    forced = k("replace", "--force", "-f", "-", stdin=json.dumps(configmap("r", a="3")))
    value = k.json("cm", "r").get("data", {}).get("a")
    return verdict(plain.ok and forced.ok and value == "3", plain.err[:80] + forced.err[:80])


@case("edit", "kubectl edit cm (an editor that changes a value)", "the change is sent as a patch; 'edited'")
def edit(k: Kubectl) -> Verdict:
    k.apply(configmap("e", a="1"))
    r = k("edit", "cm", "e", env={"KUBE_EDITOR": """sed -i -e 's/^  a: .*/  a: "2"/'"""})
    value = k.json("cm", "e").get("data", {}).get("a")
    return verdict(r.ok and value == "2", (r.err or r.out)[:100])


@case("drain", "kubectl cordon, drain --ignore-daemonsets, uncordon", "the node unschedulable, its pods evicted "
      "(Eviction API) and recreated elsewhere or Pending", serial=True)
def drain(k: Kubectl) -> Verdict:
    k("run", "drained", "--image=nginx")
    k.until(lambda: k.json("pod", "drained").get("spec", {}).get("nodeName") == "system-0")
    r = k("drain", "system-0", "--ignore-daemonsets", "--force", "--timeout=20s", "--pod-selector=run=drained",
          namespaced=False)
    k("uncordon", "system-0", namespaced=False)
    return verdict(r.ok and not k.exists("pod", "drained"), r.err[:120])
