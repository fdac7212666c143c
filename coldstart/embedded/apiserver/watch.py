"""Watch streams with the watch cache's semantics, over the store's change log.

- `resourceVersion` unset, "" or "0": synthetic ADDED for every current object, then changes; any other
  version: the changes after it, in order. `sendInitialEvents=true` also sends the current objects first and
  ends them with a BOOKMARK annotated `k8s.io/initial-events-end`.
- A version older than the retained history: HTTP 200, one ERROR event carrying a 410 Expired Status, then
  the end of the stream (the python client's `Watch` turns it into `ApiException(status=410)`).
- Label/field selectors filter events; an object that stops matching is sent as DELETED and one that starts
  matching as ADDED, like the cacher. Resuming from a version, what matched then is rebuilt from the change
  log (`Store.list_at`); only when the log no longer holds an object's earlier state is its first event
  passed through as recorded if it matches and dropped if it does not (no DELETED for it).
- `allowWatchBookmarks=true`: a BOOKMARK (metadata.resourceVersion only) every `bookmark_interval` seconds
  of cluster time and just before a timeout ends the stream.
- `timeoutSeconds` (or the server's default, chosen in [t, 2t) like kube-apiserver's min-request-timeout)
  counts CLUSTER time, `store.now()`, checked every ~50 ms of wall time; the stream also ends when the
  server stops. The generator yields b"" while idle so the HTTP layer can notice a client that went away.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator

from coldstart.embedded.apiserver.calls import check_field_selector
from coldstart.embedded.apiserver.errors import bad_request
from coldstart.embedded.store.resources import Resource
from coldstart.embedded.store.store import (
    BadSelector,
    Expired,
    Store,
    StoreError,
    parse_field_selector,
    parse_label_selector,
)

WAIT_SLICE = 0.05
CHUNK_BYTES = 32 * 1024


def _event(kind: str, obj: dict) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + json.dumps(obj, separators=(",", ":")).encode() + b"}\n"


def _batches(events: list[bytes]) -> Iterator[bytes]:
    """Events joined into chunks of about CHUNK_BYTES: few writes, yet small chunks, because the python
    client's line splitter copies its whole buffer for every line (one 15 MB chunk would take minutes)."""
    batch: list[bytes] = []
    size = 0
    for event in events:
        batch.append(event)
        size += len(event)
        if size >= CHUNK_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def expired_event(message: str) -> bytes:
    return _event("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": "Expired", "code": 410})


class WatchRequest:
    """A validated watch: build it (400s raise here, before any byte is sent), then iterate `stream()`."""

    def __init__(self, store: Store, resource: Resource, namespace: str | None, query: dict[str, str],
                 name: str | None, stopping: threading.Event, bookmark_interval: float,
                 default_timeout: float | None):
        self.store, self.resource, self.namespace, self.stopping = store, resource, namespace, stopping
        fields = query.get("fieldSelector") or ""
        if name:
            fields = ",".join(filter(None, [fields, f"metadata.name={name}"]))
        check_field_selector(resource, fields)
        try:
            labels_ok = parse_label_selector(query.get("labelSelector"))
            fields_ok = parse_field_selector(fields)
        except (StoreError, BadSelector) as exc:
            raise bad_request(str(exc)) from exc
        self.filtered = bool(query.get("labelSelector") or fields)
        self.label_selector, self.field_selector = query.get("labelSelector"), fields or None
        self.matches: Callable[[dict], bool] = lambda o: labels_ok(o["metadata"].get("labels") or {}) and fields_ok(o)
        rv = query.get("resourceVersion") or ""
        if rv not in ("", "0") and not rv.isdigit():
            raise bad_request(f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer')
        self.rv = rv
        self.initial = query.get("sendInitialEvents", "").lower() == "true"
        self.bookmarks = query.get("allowWatchBookmarks", "").lower() in ("true", "1")
        self.bookmark_interval = bookmark_interval
        self.render: Callable[[dict], dict] | None = None  # an object as the client asked for it (a Table row)
        try:
            self.timeout: float | None = float(int(query.get("timeoutSeconds") or 0))
        except ValueError as exc:
            raise bad_request(f'timeoutSeconds: Invalid value: "{query["timeoutSeconds"]}"') from exc
        if not self.timeout:  # unset or 0: the server's own limit
            self.timeout = default_timeout * (1 + random.random()) if default_timeout else None

    def _event(self, kind: str, obj: dict) -> bytes:
        return _event(kind, self.render(obj) if self.render is not None else obj)

    def _bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        meta: dict = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return _event("BOOKMARK", {"kind": self.resource.kind, "apiVersion": self.resource.api_version,
                                   "metadata": meta})

    def stream(self) -> Iterator[bytes]:
        store, key, ns = self.store, self.resource.key, self.namespace
        started = store.now()
        visible: dict[tuple[str, str], dict] = {}  # what the client has seen matching, by object
        known: set[tuple[str, str]] | None = None  # None: every object's state is known
        if self.rv in ("", "0") or self.initial:
            items, last = store.list(key, ns, self.label_selector, self.field_selector)
            yield from _batches([self._event("ADDED", o) for o in items])
            visible = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in items}
            if self.initial and self.bookmarks:
                yield self._bookmark(last, initial_end=True)
        else:
            last = int(self.rv)
            try:
                store.changes(last, key)
            except Expired as exc:
                yield expired_event(str(exc))
                return
            if self.filtered:
                try:  # what matched at that version
                    fixed, known = store.list_at(key, last, ns), None
                except Expired:  # an earlier state no longer in the log: only the objects unchanged since
                    current, _ = store.list(key, ns)
                    fixed = [o for o in current if int(o["metadata"]["resourceVersion"]) <= last]
                    known = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in fixed}
                visible = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in fixed
                           if self.matches(o)}
        next_bookmark = started + self.bookmark_interval
        while not self.stopping.is_set():
            head = store.resource_version
            try:
                changes = store.changes(last, key)
            except Expired as exc:
                yield expired_event(str(exc))
                return
            out = []
            for change in changes:
                last = change.rv
                if ns is not None and change.namespace != ns:
                    continue
                kind: str | None = change.type
                obj = change.obj
                if self.filtered:
                    kind, obj = self._classify(change.type, change.namespace, change.obj, change.rv, visible, known)
                if kind:
                    out.append(self._event(kind, obj))
            last = max(last, head)
            yield from _batches(out)
            now = store.now()
            if self.timeout is not None and now - started >= self.timeout:
                if self.bookmarks:
                    yield self._bookmark(last)
                return
            if self.bookmarks and now >= next_bookmark:
                next_bookmark = now + self.bookmark_interval
                yield self._bookmark(last)
            if not out:
                yield b""
                store.wait(last, WAIT_SLICE)

    def _classify(self, kind: str, namespace: str, obj: dict, rv: int, visible: dict,
                  known: set | None) -> tuple[str | None, dict]:
        """The event a filtered watch sends for a change (None: nothing), and its object: an object that stops
        matching goes out as DELETED showing its last matching state at the change's resourceVersion (the
        cacher's PrevObject)."""
        ident = (namespace, obj["metadata"]["name"])
        matches = self.matches(obj)
        if known is not None and ident not in known and kind != "ADDED":
            known.add(ident)  # state before the resume version unknown: pass the event through if it matches
            if matches and kind != "DELETED":
                visible[ident] = obj
            return (kind if matches else None), obj
        if known is not None:
            known.add(ident)
        if kind == "DELETED":
            return ("DELETED" if visible.pop(ident, None) is not None or matches else None), obj
        if matches:
            was = visible.get(ident) is not None
            visible[ident] = obj
            return ("MODIFIED" if was else "ADDED"), obj
        last = visible.pop(ident, None)
        if last is None:
            return None, obj
        return "DELETED", {**last, "metadata": {**last["metadata"], "resourceVersion": str(rv)}}
