"""How the scheduler picks among feasible nodes: kube-scheduler's default scores that matter for a GPU pool.

LeastAllocated spreads pods; ImageLocality sends a pod to the node that already holds its (multi-GB) image, which
is what makes a scale from zero land on the warm node whose cache the first start left, on a real cluster and here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from coldstart.embedded.controllers.fit import NodeView
from coldstart.kube.images import ImageRef

__all__ = ["scorer"]

# ImageLocality as kube-scheduler scores it (pkg/scheduler/framework/plugins/imagelocality, v1.31): the sizes of
# the pod's images already on a node, each scaled by the share of nodes that have it, clamped between 23 MB and
# 1000 MB per container and mapped to 0..100.
IMAGE_MIN_BYTES = 23 * 1024 * 1024
IMAGE_MAX_BYTES_PER_CONTAINER = 1000 * 1024 * 1024


def scorer(pod: dict, views: Iterable[NodeView]) -> Callable[[NodeView], tuple[float, str]]:
    """The default plugins' sum that decides between feasible nodes: LeastAllocated (0..100, cpu and memory)
    plus ImageLocality (0..100); the lowest key wins, ties by node name (kube-scheduler picks at random)."""
    spec = pod.get("spec") or {}
    wanted = [ImageRef.parse(c.get("image") or "").listed_as for c in spec.get("containers") or []]
    views = list(views)
    having: dict[str, set[str]] = {}  # node -> the names it lists that this pod wants
    sizes: dict[str, int] = {}
    for v in views:
        found = having[v.name] = set()
        for image in (v.node.get("status") or {}).get("images") or []:
            for name in image.get("names") or []:
                if name in wanted:
                    found.add(name)
                    sizes[name] = int(image.get("sizeBytes") or 0)
    top = IMAGE_MAX_BYTES_PER_CONTAINER * max(1, len(wanted))
    counts: dict[str, int] = {}  # image name -> nodes that have it (counted once, not once per node scored)
    for names in having.values():
        for name in names:
            counts[name] = counts.get(name, 0) + 1

    def image_locality(view: NodeView) -> float:
        total = sum(sizes[name] * counts[name] / max(1, len(views)) for name in wanted if name in having[view.name])
        clamped = min(max(total, IMAGE_MIN_BYTES), top)
        return 100 * (clamped - IMAGE_MIN_BYTES) / (top - IMAGE_MIN_BYTES)

    def key(view: NodeView) -> tuple[float, str]:
        return -(_least_allocated(view) + image_locality(view)), view.name

    return key


def _least_allocated(view: NodeView) -> float:
    """LeastAllocated: 0..100, the mean share of cpu and memory left."""
    free = []
    for name in ("cpu", "memory"):
        total = view.allocatable.get(name, 0)
        free.append((total - view.requested.get(name, 0)) / total if total else 0.0)
    return 100 * sum(free) / len(free)
