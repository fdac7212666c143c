"""kubectl cases, part one: dry runs, validation, apply and diff, reading (tables, output formats, watch, explain,
describe, logs, events)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import yaml

from tests.embedded.kubectl_cases import Kubectl, Verdict, case, configmap, deployment, verdict

# -- dry runs, both ways, every verb ------------------------------------------------------------------------


@case("dry-run-delete", "delete --dry-run=server and =client", "nothing is deleted; kubectl prints "
      "'configmap \"x\" deleted (server dry run)'")
def dry_run_delete(k: Kubectl) -> Verdict:
    k.apply(configmap("keep"))
    server, client = k("delete", "cm", "keep", "--dry-run=server"), k("delete", "cm", "keep", "--dry-run=client")
    return verdict(server.ok and client.ok and "server dry run" in server.out and k.exists("cm", "keep"))


@case("dry-run-create", "create/apply/run --dry-run=server and =client", "nothing is created; the server "
      "defaults and validates the object it returns")
def dry_run_create(k: Kubectl) -> Verdict:
    server = k("apply", "-f", "-", "--dry-run=server", "-o", "yaml", stdin=yaml.safe_dump(deployment("dry")))
    client = k("create", "deployment", "dry2", "--image=nginx", "--dry-run=client", "-o", "yaml")
    run = k("run", "dry3", "--image=nginx", "--dry-run=server")
    defaulted = "progressDeadlineSeconds" in server.out
    return verdict(server.ok and client.ok and run.ok and defaulted and not k.exists("deploy", "dry")
                   and not k.exists("pod", "dry3"))


@case("dry-run-update", "patch/label/annotate/scale --dry-run=server", "the object is unchanged")
def dry_run_update(k: Kubectl) -> Verdict:
    k.apply(deployment("upd"))
    results = [k("patch", "deploy", "upd", "-p", '{"spec":{"replicas":3}}', "--dry-run=server"),
               k("label", "deploy", "upd", "x=y", "--dry-run=server"),
               k("annotate", "deploy", "upd", "x=y", "--dry-run=server"),
               k("scale", "deploy", "upd", "--replicas=4", "--dry-run=server")]
    live = k.json("deploy", "upd")
    unchanged = live.get("spec", {}).get("replicas") == 1 and "x" not in live.get("metadata", {}).get("labels", {})
    return verdict(all(r.ok for r in results) and unchanged, "; ".join(r.err.strip() for r in results if not r.ok))


# -- validation -------------------------------------------------------------------------------------------


def _bogus() -> dict:
    doc = deployment("bogus")
    doc["spec"]["bogusField"] = 1
    return doc


@case("validate-strict", "apply with spec.bogusField (default --validate=strict)",
      '400 BadRequest: strict decoding error: unknown field "spec.bogusField"; nothing stored')
def validate_strict(k: Kubectl) -> Verdict:
    r = k.apply(_bogus())
    return verdict(not r.ok and 'unknown field "spec.bogusField"' in r.err and not k.exists("deploy", "bogus"),
                   r.err.strip()[:120])


@case("validate-warn", "apply --validate=warn with an unknown field",
      'stored without the field; a Warning header: unknown field "spec.bogusField"')
def validate_warn(k: Kubectl) -> Verdict:
    r = k.apply(_bogus(), "--validate=warn")
    stored = k.json("deploy", "bogus")
    return verdict(r.ok and "bogusField" in r.err and "bogusField" not in json.dumps(stored.get("spec", {})),
                   r.err.strip()[:120])


@case("validate-ignore", "apply --validate=false with an unknown field", "stored without the field, no warning")
def validate_ignore(k: Kubectl) -> Verdict:
    r = k.apply(_bogus(), "--validate=false")
    stored = k.json("deploy", "bogus")
    return verdict(r.ok and "bogusField" not in json.dumps(stored.get("spec", {})) and "unknown" not in r.err)


@case("validate-type", 'containerPort: "eighty"', "400 BadRequest (a type error, whatever --validate says)")
def validate_type(k: Kubectl) -> Verdict:
    doc = deployment("typed")
    doc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eighty"
    strict, loose = k.apply(doc), k.apply(doc, "--validate=false")
    return verdict(not strict.ok and not loose.ok and not k.exists("deploy", "typed"), loose.err.strip()[:120])


# -- apply, diff ------------------------------------------------------------------------------------------


@case("apply-client", "kubectl apply twice (client-side)", "created, then unchanged; the last-applied annotation")
def apply_client(k: Kubectl) -> Verdict:
    first, second = k.apply(deployment("web")), k.apply(deployment("web"))
    annotated = "last-applied-configuration" in json.dumps(k.json("deploy", "web"))
    return verdict(first.ok and "created" in first.out and "unchanged" in second.out and annotated,
                   first.err.strip()[:120])


@case("apply-server", "kubectl apply --server-side, a conflict, --force-conflicts",
      "serverside-applied; another manager's change conflicts (409) unless forced; keyed list items owned "
      "per element")
def apply_server(k: Kubectl) -> Verdict:
    doc = deployment("ssa")
    first = k.apply(doc, "--server-side")
    other = k.apply(doc, "--server-side", "--field-manager=other")
    doc["spec"]["replicas"] = 2
    conflict = k.apply(doc, "--server-side", "--field-manager=other")
    forced = k.apply(doc, "--server-side", "--field-manager=other", "--force-conflicts")
    fields = json.dumps(k.json("deploy", "ssa", "--show-managed-fields").get("metadata", {}).get("managedFields", []))
    keyed = 'k:{\\"name\\":\\"web\\"}' in fields  # both managers own container "web" by its key
    ok = first.ok and other.ok and not conflict.ok and "conflict" in conflict.err.lower() and forced.ok
    return verdict(ok and keyed, "containers owned as a whole list" if ok and not keyed else conflict.err[:100],
                   partial=ok)


@case("diff", "kubectl diff -f (changed and unchanged)", "exit 1 with a unified diff when the live object differs, "
      "exit 0 when not")
def diff(k: Kubectl) -> Verdict:
    k.apply(deployment("d"))
    same = k("diff", "-f", "-", stdin=yaml.safe_dump(deployment("d")))
    changed = k("diff", "-f", "-", stdin=yaml.safe_dump(deployment("d", replicas=3)))
    return verdict(same.rc == 0 and changed.rc == 1 and "+  replicas: 3" in changed.out, same.err[:120])


# -- reading ----------------------------------------------------------------------------------------------


def _running(k: Kubectl, name: str = "web", replicas: int = 1) -> bool:
    k.apply(deployment(name, replicas))
    return k.until(lambda: "Running" in k("get", "pods", "-l", f"app={name}").out)


@case("get-table", "kubectl get pods / deploy / nodes / svc", "server-side Tables: NAME READY STATUS RESTARTS AGE "
      "for pods, READY UP-TO-DATE AVAILABLE for deployments, STATUS ROLES VERSION for nodes")
def get_table(k: Kubectl) -> Verdict:
    _running(k)
    pods, deploys = k("get", "pods"), k("get", "deploy")
    nodes = k("get", "nodes", namespaced=False)
    heads = [r.out.splitlines()[0].split() if r.out else [] for r in (pods, deploys, nodes)]
    return verdict(heads[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
                   and heads[1] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
                   and heads[2] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], " | ".join(map(" ".join, heads)))


@case("get-age", "AGE of a fresh object", "a duration (5s, 3m), never <invalid>")
def get_age(k: Kubectl) -> Verdict:
    k.apply(configmap("aged"))
    out = k("get", "cm", "aged").out
    return verdict(bool(out) and "<invalid>" not in out and re.search(r"\d+[smhd]", out) is not None, out[-40:])


@case("get-wide", "kubectl get pods -o wide", "adds IP, NODE, NOMINATED NODE, READINESS GATES")
def get_wide(k: Kubectl) -> Verdict:
    _running(k)
    out = k("get", "pods", "-o", "wide").out
    return verdict("NODE" in out and "IP" in out and "system-0" in out, out.splitlines()[0] if out else "")


@case("get-yaml-jsonpath", "get -o yaml / -o jsonpath / -o custom-columns", "the object; jsonpath and columns "
      "computed client-side from it")
def get_formats(k: Kubectl) -> Verdict:
    k.apply(configmap("fmt", a="1"))
    y = k("get", "cm", "fmt", "-o", "yaml")
    jp = k("get", "cm", "fmt", "-o", "jsonpath={.data.a}")
    cc = k("get", "cm", "-o", "custom-columns=N:.metadata.name")
    return verdict(y.ok and "kind: ConfigMap" in y.out and jp.out == "1" and "fmt" in cc.out)


@case("get-watch", "kubectl get cm -w while one is created", "the table, then a row per change")
def get_watch(k: Kubectl) -> Verdict:
    k.apply(configmap("before"))
    argv = [k.binary, "get", "cm", "-w", "-n", k.namespace, "--request-timeout=20s"]
    env = {**os.environ, "KUBECONFIG": k.kubeconfig, "KUBECACHEDIR": os.path.join(os.path.dirname(k.kubeconfig),
                                                                                  "cache")}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as watch:
        first = watch.stdout.readline() if watch.stdout else ""  # the header: the list is done, the watch open
        k.apply(configmap("seen"))
        time.sleep(2.0)
        watch.terminate()
        out, _ = watch.communicate(timeout=10)
    return verdict("DATA" in first and "seen" in out, (first + out)[-80:])


@case("get-selectors", "get -l, --field-selector, --chunk-size paging", "filtered lists; paging with continue "
      "tokens gives every item once")
def get_selectors(k: Kubectl) -> Verdict:
    for n in range(7):
        k.apply({**configmap(f"c{n}"), "metadata": {"name": f"c{n}", "labels": {"tier": "a" if n % 2 else "b"}}})
    labelled = k("get", "cm", "-l", "tier=a", "-o", "name").out.split()
    fields = k("get", "cm", "--field-selector", "metadata.name=c3", "-o", "name").out.split()
    paged = k("get", "cm", "--chunk-size=2", "-o", "name").out.split()
    return verdict(len(labelled) == 3 and fields == ["configmap/c3"] and len([p for p in paged if "/c" in p]) == 7)


@case("get-field-node", "get nodes --field-selector spec.unschedulable=false / =true after cordon",
      "the schedulable nodes; after kubectl cordon the cordoned one", serial=True)
def get_field_node(k: Kubectl) -> Verdict:
    schedulable = k("get", "nodes", "--field-selector", "spec.unschedulable=false", "-o", "name", namespaced=False)
    k("cordon", "system-0", namespaced=False)
    cordoned = k("get", "nodes", "--field-selector", "spec.unschedulable=true", "-o", "name", namespaced=False)
    k("uncordon", "system-0", namespaced=False)
    return verdict("node/system-0" in schedulable.out and "node/system-0" in cordoned.out,
                   schedulable.err[:80] + cordoned.err[:80])


@case("explain", "kubectl explain pod.spec.containers.ports", "the field's description and type from OpenAPI v3")
def explain(k: Kubectl) -> Verdict:
    r = k("explain", "pod.spec.containers.ports", namespaced=False)
    return verdict(r.ok and "containerPort" in r.out, r.err.strip()[:120])


@case("describe-pod", "kubectl describe pod", "Status, IP, Node, Containers, Conditions and Events")
def describe_pod(k: Kubectl) -> Verdict:
    _running(k)
    out = k("describe", "pod", "-l", "app=web").out
    return verdict(all(w in out for w in ("Status:", "Running", "Node:", "Conditions:", "Events:", "Scheduled")))


@case("describe-node", "kubectl describe node", "Capacity, Allocatable, Non-terminated Pods, Allocated resources")
def describe_node(k: Kubectl) -> Verdict:
    out = k("describe", "node", "system-0", namespaced=False).out
    return verdict(all(w in out for w in ("Capacity:", "Allocatable:", "Non-terminated Pods:")), out[-100:])


@case("describe-deploy", "kubectl describe deployment", "Replicas, StrategyType, Conditions, NewReplicaSet, Events")
def describe_deploy(k: Kubectl) -> Verdict:
    _running(k)
    out = k("describe", "deploy", "web").out
    return verdict(all(w in out for w in ("Replicas:", "StrategyType:", "NewReplicaSet:", "ScalingReplicaSet")))


@case("logs", "kubectl logs deploy/web, --tail, --timestamps, --since, -c, --previous",
      "the container's output; flags handled by the kubelet; --previous refused when nothing restarted")
def logs(k: Kubectl) -> Verdict:
    _running(k)
    k.until(lambda: "serving" in k("logs", "deploy/web").out, 10)
    plain, tail = k("logs", "deploy/web"), k("logs", "deploy/web", "--tail=1", "--timestamps")
    since, previous = k("logs", "deploy/web", "--since=1h", "-c", "web"), k("logs", "deploy/web", "--previous")
    ok = "serving" in plain.out and re.match(r"\d{4}-\d\d-\d\dT", tail.out) and since.ok and not previous.ok
    return verdict(bool(ok), plain.err[:100])


@case("events", "kubectl events / get events --sort-by", "the namespace's events, oldest first")
def events(k: Kubectl) -> Verdict:
    _running(k)
    ev, legacy = k("events"), k("get", "events", "--sort-by=.lastTimestamp")
    return verdict(ev.ok and "Scheduled" in ev.out and "Pulled" in legacy.out, ev.err[:100])
