"""The embedded store: resourceVersions, selectors and the change log watches resume from."""

from __future__ import annotations

import pytest

from coldstart.embedded.store.store import AlreadyExists, Conflict, Expired, Store, parse_label_selector


def _pod(name, ns="default", **labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {}}


def test_create_get_replace_delete_bump_resource_version():
    store = Store(now=lambda: 1_700_000_000.0)
    created = store.create(_pod("a"))
    assert created["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    rv1 = int(created["metadata"]["resourceVersion"])
    with pytest.raises(AlreadyExists):
        store.create(_pod("a"))
    updated = store.mutate("/Pod", "default", "a", lambda o: o["spec"].update(nodeName="n1"))
    assert int(updated["metadata"]["resourceVersion"]) > rv1
    assert updated["metadata"]["generation"] == 2
    with pytest.raises(Conflict):
        stale = dict(updated, metadata=dict(updated["metadata"]))
        store.replace(stale, expect_rv=str(rv1))
    gone = store.delete("/Pod", "default", "a")
    assert store.get("/Pod", "default", "a") is None
    kinds = [c.type for c in store.changes(0, "/Pod")]
    assert kinds == ["ADDED", "MODIFIED", "DELETED"]
    assert store.changes(int(gone["metadata"]["resourceVersion"]), "/Pod") == []


def test_list_filters_by_namespace_labels_and_fields():
    store = Store()
    store.create(_pod("a", app="vllm", tier="gpu"))
    store.create(_pod("b", app="buffer"))
    store.create(_pod("c", ns="other", app="vllm"))
    store.mutate("/Pod", "default", "a", lambda o: o["spec"].update(nodeName="n1"))
    names = lambda items: sorted(o["metadata"]["name"] for o in items)  # noqa: E731
    assert names(store.list("/Pod", "default")[0]) == ["a", "b"]
    assert names(store.list("/Pod", None, "app=vllm")[0]) == ["a", "c"]
    assert names(store.list("/Pod", None, "app in (vllm, buffer),!tier")[0]) == ["b", "c"]
    assert names(store.list("/Pod", "default", field_selector="spec.nodeName=n1")[0]) == ["a"]
    assert names(store.list("/Pod", None, field_selector="metadata.namespace!=default")[0]) == ["c"]


def test_label_selector_forms():
    sel = parse_label_selector("a=1,b!=2,c,!d,e notin (x)")
    assert sel({"a": "1", "c": "", "e": "y"})
    assert not sel({"a": "1", "b": "2", "c": ""})
    assert not sel({"a": "1", "c": "", "d": "z"})


def test_history_window_expires_old_versions():
    store = Store(history=10)
    for i in range(40):
        store.create(_pod(f"p{i}"))
    latest = store.resource_version
    assert len(store.changes(latest - 5, "/Pod")) == 5
    with pytest.raises(Expired):
        store.changes(2, "/Pod")
