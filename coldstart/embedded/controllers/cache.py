"""What the scheduler keeps between attempts, as kube-scheduler's cache does: every node with the pods counted on
it and the images it lists (LiveViews), the room held for preemptors on their nominated nodes (NominatedLoad),
and its verdicts on every node for pods that are alike (Verdicts).

Each is kept current from store changes, so an attempt costs what changed since the last one. Rebuilding the
views from every pod and node, or filtering and scoring every node on every attempt, made a scale-out of a
thousand replicas onto a thousand new nodes quadratic.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from coldstart.embedded.controllers.fit import NodeView, views
from coldstart.embedded.controllers.objects import resource_list, terminal

__all__ = ["LiveViews", "NominatedLoad", "Verdicts", "listed_images"]


def listed_images(node: dict) -> dict[str, int]:
    """The image names a node lists in status.images, each with the size listed with it (the last, if twice)."""
    listing: dict[str, int] = {}
    for image in (node.get("status") or {}).get("images") or []:
        for name in image.get("names") or []:
            listing[name] = int(image.get("sizeBytes") or 0)
    return listing


class LiveViews:
    """The NodeViews kept current from store changes, as kube-scheduler's cache is: a scheduling cycle then costs the
    pods it places, not a rebuild from every pod and node of the cluster (which made a scale-out quadratic)."""

    def __init__(self, store: Any):
        self.store = store
        self.views: dict[str, NodeView] | None = None
        self.placed: dict[str, tuple[str, dict]] = {}  # uid of a pod counted on a node -> (node, the pod counted)
        self.by_node: dict[str, dict[str, dict]] = {}  # node -> uid -> pod counted there (the node may not exist)
        self.nominated: dict[tuple[str, str], None] = {}  # (namespace, name) of unbound pods with a nominated node
        # image name -> size listed -> how many nodes list it (the cache's image states, which ImageLocality reads)
        self.images: dict[str, dict[int, int]] = {}
        self._listed: dict[str, dict[str, int]] = {}  # node -> what it lists (listed_images)

    def get(self) -> dict[str, NodeView]:
        if self.views is None:
            self.views = views(self.store.list("/Node")[0], [])
            for name, view in self.views.items():
                self._list(name, view.node)
            for pod in self.store.list("/Pod")[0]:
                self._count(pod)
                self._nominate(pod, False)
        return self.views

    def nominated_pods(self) -> list[dict]:
        """The unbound pods nominated to a node (preemptors waiting for their victims to go), read from the store
        without listing every pod of the cluster."""
        found = (self.store.get("/Pod", *where) for where in list(self.nominated))
        return [p for p in found if p is not None and _nominee(p)]

    def _nominate(self, pod: dict, gone: bool) -> None:
        where = (pod["metadata"].get("namespace") or "", pod["metadata"]["name"])
        if not gone and _nominee(pod):
            self.nominated[where] = None
        else:
            self.nominated.pop(where, None)

    def bound(self, view: NodeView, pod: dict) -> None:
        """The scheduler has just bound `pod` to `view`'s node: it counts there before its change comes back."""
        self._uncount(pod["metadata"]["uid"])
        self._count(pod)

    def on_change(self, change: Any) -> None:
        if self.views is None:
            return
        if change.key == "/Pod":
            self._nominate(change.obj, change.type == "DELETED")
            self._uncount(change.obj["metadata"]["uid"])
            if change.type != "DELETED":
                self._count(change.obj)
        elif change.key == "/Node":
            name = change.obj["metadata"]["name"]
            self._list(name, None if change.type == "DELETED" else change.obj)
            if change.type == "DELETED":
                self.views.pop(name, None)
            elif name in self.views:
                view = self.views[name]
                view.node = change.obj
                view.allocatable = resource_list((change.obj.get("status") or {}).get("allocatable") or {})
            else:
                fresh = views([change.obj], self.by_node.get(name, {}).values())[name]
                self.views = dict(sorted({**self.views, name: fresh}.items()))  # by name, as views() orders them

    def _list(self, name: str, node: dict | None) -> None:
        """Count what the node `name` lists now (None: it is gone) instead of what it listed before."""
        for image, size in self._listed.pop(name, {}).items():
            sizes = self.images[image]
            sizes[size] -= 1
            if not sizes[size]:
                del sizes[size]
                if not sizes:
                    del self.images[image]
        if node is not None:
            listing = self._listed[name] = listed_images(node)
            for image, size in listing.items():
                sizes = self.images.setdefault(image, {})
                sizes[size] = sizes.get(size, 0) + 1

    def _count(self, pod: dict) -> None:
        node = pod["spec"].get("nodeName")
        if not node or terminal(pod):
            return
        uid = pod["metadata"]["uid"]
        self.placed[uid] = (node, pod)
        self.by_node.setdefault(node, {})[uid] = pod
        if self.views is not None and node in self.views:
            self.views[node].add(pod)

    def _uncount(self, uid: str) -> None:
        before = self.placed.pop(uid, None)
        if before is None:
            return
        node, pod = before
        self.by_node.get(node, {}).pop(uid, None)
        if self.views is not None and node in self.views:
            self.views[node].remove(pod)


class NominatedLoad:
    """Room held on each node for pods nominated there (node -> (their summed requests, how many)), as a scheduling
    cycle sees them: summed once per priority, not once per pod scheduled. Answers are shared: do not change them."""

    def __init__(self, nominated: list[tuple[str, int, str, dict[str, int]]]):  # (uid, priority, node, requests)
        self.nominated = nominated
        self._by_uid = {entry[0]: entry for entry in nominated}
        self._at: dict[int, dict[str, tuple[dict, int]]] = {}

    def load(self, uid: str, priority: int) -> dict[str, tuple[dict, int]]:
        """What the pods nominated with at least this priority hold, the pod `uid` itself left out."""
        held = self._at.get(priority)
        if held is None:
            held = self._at[priority] = self._sum(e for e in self.nominated if e[1] >= priority)
        mine = self._by_uid.get(uid)
        if mine is None or mine[1] < priority:
            return held
        extra, count = held[mine[2]]
        rest = dict(held)
        if count == 1:
            del rest[mine[2]]
        else:
            rest[mine[2]] = ({name: value - mine[3].get(name, 0) for name, value in extra.items()}, count - 1)
        return rest

    @staticmethod
    def _sum(entries: Iterable[tuple[str, int, str, dict[str, int]]]) -> dict[str, tuple[dict, int]]:
        load: dict[str, tuple[dict, int]] = {}
        for _, _, node, requests in entries:
            extra, count = load.get(node, ({}, 0))
            for name, value in requests.items():
                extra[name] = extra.get(name, 0) + value
            load[node] = (extra, count + 1)
        return load


def _nominee(pod: dict) -> bool:
    return bool((pod.get("status") or {}).get("nominatedNodeName")) and not pod["spec"].get("nodeName")


# ---------------------------------------------------------------------------------------------------
# The equivalence cache kube-scheduler once had: pods of one ReplicaSet or Job at one priority are alike. A node's
# filter result is taken again only after that node, or what counts on it, changed; the nodes that fit are kept
# in grades (what the scores read of a node), so the best of them is the best of a few grades; the refusals are
# kept counted by reason, which is what FitError's message shows.

Check = Callable[[NodeView], tuple[str | None, list[str]]]


class Verdicts:
    """filter_node's verdict on each node for one kind of pod, the fitting nodes grouped by grade."""

    def __init__(self) -> None:
        self.refused: dict[str, tuple[str, list[str]]] = {}  # node -> (code, reasons), the nodes that refuse
        self.counts: dict[str, int] = {}  # reason -> how many refusing nodes give it
        self.fitting: dict[str, Hashable] = {}  # node -> its grade, the nodes that fit
        self._grades: dict[Hashable, list[str]] = {}  # grade -> its nodes, sorted by name
        self._stale: set[str] | None = None  # nodes whose verdict is out of date; None: every node's

    def forget(self, node: str | None) -> None:
        """That node (None: every node) changed: its verdict is taken again at the next refresh."""
        if node is None:
            self._stale = None
        elif self._stale is not None:
            self._stale.add(node)

    def refresh(self, nodes: dict[str, NodeView], check: Check, grade: Callable[[NodeView], Hashable]) -> None:
        """Bring every node's verdict up to date: `check` the stale nodes, `grade` the ones that fit."""
        if self._stale is None:
            self.refused, self.counts, self.fitting, self._grades = {}, {}, {}, {}
            stale: set[str] | dict[str, NodeView] = nodes
        else:
            stale = self._stale
            for name in stale:
                self._drop(name)
        for name in stale:
            view = nodes.get(name)
            if view is None:
                continue  # the node is gone
            code, reasons = check(view)
            if code is None:
                key = self.fitting[name] = grade(view)
                bisect.insort(self._grades.setdefault(key, []), name)
            else:
                self.refused[name] = (code, reasons)
                for reason in reasons:
                    self.counts[reason] = self.counts.get(reason, 0) + 1
        self._stale = set()

    def best(self, nodes: dict[str, NodeView], key: Callable[[NodeView], tuple[float, str]]) -> NodeView:
        """The fitting node with the lowest key. Nodes of one grade score alike, so their best is the one of
        lowest name, as the key's tie-break picks it."""
        return min((nodes[names[0]] for names in self._grades.values()), key=key)

    def _drop(self, name: str) -> None:
        refused = self.refused.pop(name, None)
        if refused is not None:
            for reason in refused[1]:
                left = self.counts[reason] - 1
                if left:
                    self.counts[reason] = left
                else:
                    del self.counts[reason]
        key = self.fitting.pop(name, None)
        if key is not None:
            names = self._grades[key]
            del names[bisect.bisect_left(names, name)]
            if not names:
                del self._grades[key]
