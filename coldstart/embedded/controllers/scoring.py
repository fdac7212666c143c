"""How the scheduler picks among feasible nodes: kube-scheduler's default scores that matter for a GPU pool.

LeastAllocated spreads pods; ImageLocality sends a pod to the node that already holds its (multi-GB) image, which
is what makes a scale from zero land on the warm node whose cache the first start left, on a real cluster and here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from coldstart.embedded.controllers.cache import listed_images
from coldstart.embedded.controllers.fit import NodeView
from coldstart.kube.images import ImageRef

__all__ = ["grade", "scorer", "wanted_images"]

# ImageLocality as kube-scheduler scores it (pkg/scheduler/framework/plugins/imagelocality, v1.31): the sizes of
# the pod's images already on a node, each scaled by the share of nodes that have it, clamped between 23 MB and
# 1000 MB per container and mapped to 0..100.
IMAGE_MIN_BYTES = 23 * 1024 * 1024
IMAGE_MAX_BYTES_PER_CONTAINER = 1000 * 1024 * 1024
LEAST_ALLOCATED = ("cpu", "memory")  # the resources LeastAllocated weighs (equally)


def wanted_images(pod: dict) -> list[str]:
    """The names a node lists the pod's container images under, one per container."""
    return [ImageRef.parse(c.get("image") or "").listed_as for c in (pod.get("spec") or {}).get("containers") or []]


def _having(node: dict, wanted: list[str]) -> set[str]:
    return {name for name in listed_images(node) if name in wanted}


def grade(view: NodeView, wanted: list[str]) -> tuple:
    """All that the scores read of a node for a pod wanting these images: nodes of one grade score alike."""
    return (tuple(view.allocatable.get(name, 0) for name in LEAST_ALLOCATED),
            tuple(view.requested.get(name, 0) for name in LEAST_ALLOCATED), frozenset(_having(view.node, wanted)))


def scorer(pod: dict, views: Collection[NodeView],
           images: Mapping[str, Mapping[int, int]] | None = None) -> Callable[[NodeView], tuple[float, str]]:
    """The default plugins' sum that decides between feasible nodes: LeastAllocated (0..100, cpu and memory)
    plus ImageLocality (0..100); the lowest key wins, ties by node name (kube-scheduler picks at random).
    `views` are all the nodes; `images` (image name -> size listed -> nodes listing it, kept by LiveViews) spares
    reading every node's images when the nodes agree on the size of each image the pod wants."""
    wanted = wanted_images(pod)
    sizes: dict[str, int] = {}
    counts: dict[str, int] = {}  # image name -> nodes that have it (counted once, not once per node scored)
    if images is not None and all(len(images.get(name) or ()) <= 1 for name in wanted):
        for name in wanted:
            if images.get(name):
                (sizes[name], counts[name]), = images[name].items()
        having: Callable[[NodeView], set[str]] = lambda view: _having(view.node, wanted)  # noqa: E731
    else:
        found: dict[str, set[str]] = {}  # node -> the names it lists that this pod wants
        for v in views:
            found[v.name] = set()
            for name, size in listed_images(v.node).items():
                if name in wanted:
                    found[v.name].add(name)
                    sizes[name] = size
                    counts[name] = counts.get(name, 0) + 1
        having = lambda view: found[view.name]  # noqa: E731
    top = IMAGE_MAX_BYTES_PER_CONTAINER * max(1, len(wanted))

    def image_locality(view: NodeView) -> float:
        has = having(view)
        total = sum(sizes[name] * counts[name] / max(1, len(views)) for name in wanted if name in has)
        clamped = min(max(total, IMAGE_MIN_BYTES), top)
        return 100 * (clamped - IMAGE_MIN_BYTES) / (top - IMAGE_MIN_BYTES)

    def key(view: NodeView) -> tuple[float, str]:
        return -(_least_allocated(view) + image_locality(view)), view.name

    return key


def _least_allocated(view: NodeView) -> float:
    """LeastAllocated: 0..100, the mean share of cpu and memory left."""
    free = []
    for name in LEAST_ALLOCATED:
        total = view.allocatable.get(name, 0)
        free.append((total - view.requested.get(name, 0)) / total if total else 0.0)
    return 100 * sum(free) / len(free)
