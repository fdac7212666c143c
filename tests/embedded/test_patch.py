"""Pure patch and field-ownership logic behind the embedded API server's PATCH and server-side apply."""

from __future__ import annotations

import pytest

from coldstart.embedded.apiserver import managed
from coldstart.kube.patch import MalformedPatch, PatchError, json_patch, merge_patch, strategic_merge


def test_merge_patch_rfc7386_examples():
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch({"a": {"bb": {"ccc": None}}}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_strategic_merge_keys_directives_and_sets():
    live = {"spec": {"containers": [{"name": "vllm", "image": "v1",
                                     "ports": [{"containerPort": 8000, "name": "http"}],
                                     "volumeMounts": [{"name": "cache", "mountPath": "/a"}]}],
                     "tolerations": [{"key": "gpu"}]},
            "metadata": {"finalizers": ["a"]}}
    patch = {"spec": {"containers": [{"name": "vllm", "ports": [{"containerPort": 9000}],
                                      "volumeMounts": [{"name": "cache", "mountPath": "/b"}]}],
                      "tolerations": [{"key": "spot"}]},
             "metadata": {"finalizers": ["b", "a"]}}
    out = strategic_merge(live, patch)
    c = out["spec"]["containers"][0]
    assert c["image"] == "v1" and [p["containerPort"] for p in c["ports"]] == [8000, 9000]
    assert [m["mountPath"] for m in c["volumeMounts"]] == ["/a", "/b"]  # merge key is mountPath, not name
    assert out["spec"]["tolerations"] == [{"key": "spot"}]  # no merge key declared: replaced
    assert out["metadata"]["finalizers"] == ["a", "b"]
    replaced = strategic_merge({"spec": {"a": 1, "b": 2}}, {"spec": {"$patch": "replace", "c": 3}})
    assert replaced == {"spec": {"c": 3}}
    retained = strategic_merge({"s": {"type": "Recreate", "rollingUpdate": {"x": 1}}},
                               {"s": {"$retainKeys": ["type"], "type": "RollingUpdate"}})
    assert retained == {"s": {"type": "RollingUpdate"}}
    pruned = strategic_merge({"metadata": {"finalizers": ["a", "b"]}},
                             {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert pruned == {"metadata": {"finalizers": ["b"]}}
    with pytest.raises(MalformedPatch):
        strategic_merge({"spec": {"containers": []}}, {"spec": {"containers": [{"image": "x"}]}})


def test_json_patch_operations_and_errors():
    doc = {"metadata": {"annotations": {"a/b": "1"}}, "list": [1, 2, 3]}
    out = json_patch(doc, [{"op": "replace", "path": "/metadata/annotations/a~1b", "value": "2"},
                           {"op": "add", "path": "/list/-", "value": 4},
                           {"op": "remove", "path": "/list/0"},
                           {"op": "move", "from": "/list/0", "path": "/first"},
                           {"op": "copy", "from": "/first", "path": "/second"},
                           {"op": "test", "path": "/second", "value": 2}])
    assert out == {"metadata": {"annotations": {"a/b": "2"}}, "list": [3, 4], "first": 2, "second": 2}
    with pytest.raises(PatchError):
        json_patch({"a": 1}, [{"op": "replace", "path": "/missing", "value": 1}])
    with pytest.raises(MalformedPatch):
        json_patch({"a": 1}, {"op": "add"})


def test_fields_v1_round_trip_and_update_ownership():
    paths = {("metadata", "labels", "app"), ("spec", "replicas"), ("spec", "template", "spec", "containers")}
    doc = managed.to_fields_v1(paths)
    assert doc["f:spec"]["f:template"]["f:spec"]["f:containers"] == {}
    assert managed.from_fields_v1(doc) == paths
    old = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 1}}
    new = {**old, "spec": {"replicas": 1}}
    managed.record_update(None, new, "creator", None, True, "apps/v1", "t0")
    scaled = {**new, "spec": {"replicas": 3}, "metadata": dict(new["metadata"])}
    managed.record_update(new, scaled, "hpa", None, True, "apps/v1", "t1")
    owners = {e["manager"]: managed.from_fields_v1(e["fieldsV1"]) for e in scaled["metadata"]["managedFields"]}
    assert owners == {"hpa": {("spec", "replicas")}}  # the creator lost its only field and its entry


def _deployment(*containers: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": {"containers": list(containers)}}}}


def _ssa(live: dict | None, config: dict, manager: str, force: bool = False) -> dict:
    result = managed.apply(live, config, manager, None, True)
    managed.record_apply(live, result, config, manager, None, True, force, "apps/v1", "t")
    return result


def test_keyed_list_items_are_owned_per_element_by_their_merge_key():
    """Containers are `x-kubernetes-list-type: map` keyed by name in the Kubernetes schema: two managers may each
    own one container (kube-apiserver agrees, tests/live/test_conformance.py `ssa-containers`); changing the other
    manager's container is a conflict naming it with the item's key."""
    one = _ssa(None, _deployment({"name": "one", "image": "a:1", "ports": [{"containerPort": 80}]}), "a")
    both = _ssa(one, _deployment({"name": "two", "image": "b:1"}), "b")
    assert [c["name"] for c in both["spec"]["template"]["spec"]["containers"]] == ["one", "two"]
    owned = {e["manager"]: e["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
             for e in both["metadata"]["managedFields"]}
    assert set(owned["b"]) == {'k:{"name":"two"}'} and set(owned["a"]) == {'k:{"name":"one"}'}
    with pytest.raises(managed.ApplyConflict) as clash:
        _ssa(both, _deployment({"name": "one", "image": "a:2"}), "b")
    assert str(clash.value) == ('Apply failed with 1 conflict: conflict with "a": '
                                '.spec.template.spec.containers[name="one"].image')
    # "a" stops applying its container: it goes, "b"'s stays
    left = _ssa(both, {**_deployment(), "spec": {"replicas": 1}}, "a")
    assert [c["name"] for c in left["spec"]["template"]["spec"]["containers"]] == ["two"]
