"""Container images on the simulated nodes: the registry's tags, each node's image store and the kubelet's
puller, so image pulls cost what they cost on a real node and say so in the kubelet's own words.

Modelled on kubelet v1.33 (pkg/kubelet/images): `Pulling image "X"`, then `Successfully pulled image "X" in
41.2s (41.2s including waiting). Image size: N bytes.` or `Container image "X" already present on machine`.
Pulls are serialised per node (serializeImagePulls=true, the default), so a second pull waits for the first
and its "including waiting" grows. Pull policy is honoured the way the kubelet does it: a reference by tag is
present only if that tag was pulled on this node, by digest only if the digest is there; `Always` asks the
registry every time, and a tag that moved since downloads the new image. GKE image streaming (node label
`cloud.google.com/gke-image-streaming: "true"`) reports Pulled early and fetches the rest lazily, and so do SOCI lazy
loading (ECR images) and AKS Artifact Streaming (ACR images pulled by tag: a pull by digest is not streamed) on nodes
whose node class turns them on (`coldstart.dev/image-loading: lazy`); SOCI parallel pull/unpack
(`coldstart.dev/image-loading: parallel`) downloads in concurrent chunks and unpacks while they arrive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from coldstart.embedded.context import SimContext
from coldstart.kube.images import ImageRef, is_acr_host, is_valid_reference
from coldstart.kube.labels import GKE_IMAGE_STREAMING, IMAGE_LOADING
from coldstart.profiles.physics import image_transfer_seconds, streaming_start_seconds

# Unpacked / compressed size of a layered image: vllm/vllm-openai v0.7.1 is ~8.4 GB compressed on Docker Hub and
# the kubelet reports "Image size: 16525161745 bytes" for it (aibrix issue 1054). Modelcar layers are stored.
UNPACKED_RATIO = 1.97
MANIFEST_SECONDS = 0.4  # token, tag resolution and manifest round trips every pull pays (all a warm re-pull pays)
IMMUTABLE_TAG_HOSTS = ("registry.k8s.io",)  # the image promoter never re-pushes a tag there


def go_duration(seconds: float) -> str:
    """A duration the way Go's time.Duration prints it after Truncate(time.Millisecond): 568ms, 41.2s, 4m47.129s."""
    ms = int(max(0.0, seconds) * 1000)
    if ms < 1000:
        return f"{ms}ms" if ms else "0s"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    text = f"{secs}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return text


@dataclass(frozen=True)
class Resolved:
    """What the registry answers for a reference at one moment."""

    repo: str  # full repository name
    tag: str | None
    digest: str
    compressed_bytes: int
    compression: str  # zstd | gzip | none

    @property
    def unpacked_bytes(self) -> int:
        return self.compressed_bytes if self.compression == "none" else int(self.compressed_bytes * UNPACKED_RATIO)


class Registry:
    """The registry behind every host: digests are fixed, mutable tags move every kinetics.tag_repush_minutes.

    A moved tag is a rebuilt image: its big layers (torch, vLLM, weights) are new, so pulling it downloads the
    whole image again; only references pinned by digest are immune."""

    def __init__(self, ctx: SimContext):
        self.ctx = ctx
        self.origin = ctx.now()

    def resolve(self, ref: str, t: float) -> Resolved:
        parsed = ImageRef.parse(ref)
        info = self.ctx.image(ref)
        tag = parsed.tag if parsed.tag or parsed.digest else "latest"
        digest = parsed.digest or self._tag_digest(parsed, tag or "latest", info.digest, t)
        return Resolved(parsed.canonical, tag, digest, info.compressed_bytes, info.compression)

    def _tag_digest(self, parsed: ImageRef, tag: str, first: str, t: float) -> str:
        if parsed.host in IMMUTABLE_TAG_HOSTS:
            epoch = 0
        else:
            epoch = int(max(0.0, t - self.origin) // (self.ctx.kinetics.tag_repush_minutes * 60.0))
        if epoch == 0 and first:
            return first
        return "sha256:" + hashlib.sha256(f"{parsed.name}:{tag}#{epoch}".encode()).hexdigest()


@dataclass
class StoredImage:
    digest: str
    available_at: float  # when the pull that brought it finished
    lazy_until: float | None = None  # image streaming: contents still fetched on demand until then


@dataclass
class NodeImages:
    """One node's containerd image store and its (serial) puller."""

    digests: dict[str, StoredImage] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # "repo:tag" pulled on this node -> digest
    busy_until: float = 0.0

    def present(self, parsed: ImageRef, t: float) -> str | None:
        """The digest a reference names on this node, if the kubelet would call it present."""
        if parsed.digest:
            stored = self.digests.get(parsed.digest)
            return parsed.digest if stored and stored.available_at <= t else None
        digest = self.tags.get(f"{parsed.canonical}:{parsed.tag or 'latest'}")
        stored = self.digests.get(digest or "")
        return digest if stored and stored.available_at <= t else None


@dataclass(frozen=True)
class EnsureResult:
    """The kubelet's EnsureImageExists for one container: events to write and when the image is usable."""

    ready_at: float
    pulling: bool  # a `Pulling` event was written at the start
    reason: str  # Pulled | ErrImageNeverPull
    message: str
    image: str  # status.image
    image_id: str  # status.imageID, repo@sha256:...
    digest: str | None
    streamed: bool = False
    pull_seconds: float = 0.0
    waiting: str | None = None  # the container's waiting reason when the image cannot be had
    size_bytes: int = 0  # unpacked size of a pulled image, as the kubelet reports it in node.status.images


class ImageService:
    """Registry plus every node's image store; the kubelet asks it for each container start."""

    def __init__(self, ctx: SimContext):
        self.ctx = ctx
        self.registry = Registry(ctx)
        self.nodes: dict[str, NodeImages] = {}

    def node(self, name: str) -> NodeImages:
        return self.nodes.setdefault(name, NodeImages())

    def lazy_until(self, node: str, digest: str | None) -> float | None:
        """Until when reads from this image still go to the registry (image streaming), if at all."""
        stored = self.node(node).digests.get(digest or "")
        return stored.lazy_until if stored else None

    def ensure(self, node: str, labels: dict[str, str], ref: str, policy: str, now: float, *,
               who: str = "") -> EnsureResult:
        """Make `ref` present on `node` for a pod (`who`: its stable identity, for the jitter of this pull)."""
        try:
            if not is_valid_reference(ref):
                raise ValueError(ref)
            parsed = ImageRef.parse(ref)
        except ValueError:
            return EnsureResult(now, False, "InspectFailed", f'Failed to apply default image tag "{ref}": couldn\'t '
                                f'parse image name "{ref}": invalid reference format', ref, "", None,
                                waiting="InvalidImageName")
        store = self.node(node)
        repo = parsed.canonical
        present = store.present(parsed, now)
        shown = repo + (f":{parsed.tag}" if parsed.tag else "") + (f"@{parsed.digest}" if parsed.digest else "")
        if not parsed.tag and not parsed.digest:
            shown = f"{repo}:latest"
        if present and policy != "Always":
            return EnsureResult(now, False, "Pulled", f'Container image "{ref}" already present on machine',
                                shown, f"{repo}@{present}", present)
        if policy == "Never":
            return EnsureResult(now, False, "ErrImageNeverPull",
                                f'Container image "{ref}" is not present with pull policy of Never', shown, "", None)
        start = max(now, store.busy_until)
        resolved = self.registry.resolve(ref, start)
        have = resolved.digest in store.digests and store.digests[resolved.digest].available_at <= start
        streamed, lazy = False, None
        full = self._download_seconds(ref, resolved, who, parallel=labels.get(IMAGE_LOADING) == "parallel")
        if have:
            seconds = self.ctx.jitter(MANIFEST_SECONDS, f"manifest {who} {ref}")
        elif self._lazy(labels, parsed):
            streamed = True
            seconds = self.ctx.jitter(streaming_start_seconds(self.ctx.kinetics, resolved.compressed_bytes),
                                      f"stream {who} {ref}")
            lazy = start + max(seconds, full)
        else:
            seconds = full
        end = start + seconds
        store.busy_until = end
        current = store.digests.get(resolved.digest)
        if current is None or current.available_at > end:
            store.digests[resolved.digest] = StoredImage(resolved.digest, end, lazy)
        if resolved.tag:
            store.tags[f"{repo}:{resolved.tag}"] = resolved.digest
        message = (f'Successfully pulled image "{ref}" in {go_duration(seconds)} ({go_duration(end - now)} '
                   f"including waiting). Image size: {resolved.unpacked_bytes} bytes.")
        return EnsureResult(end, True, "Pulled", message, shown, f"{repo}@{resolved.digest}", resolved.digest,
                            streamed, seconds, size_bytes=resolved.unpacked_bytes)

    def _download_seconds(self, ref: str, image: Resolved, who: str, *, parallel: bool = False) -> float:
        """Compressed bytes over the registry link plus decompression (none for stored modelcar layers)."""
        seconds = MANIFEST_SECONDS + image_transfer_seconds(self.ctx.kinetics, image.compressed_bytes,
                                                            image.compression, in_region=self.ctx.in_region(ref),
                                                            parallel=parallel)
        return self.ctx.jitter(seconds, f"pull {who} {ref}")

    @classmethod
    def _lazy(cls, labels: dict[str, str], parsed: ImageRef) -> bool:
        """Does this node start a container from this image before it is whole?"""
        if labels.get(GKE_IMAGE_STREAMING) == "true":
            return cls._streamable(parsed)
        if labels.get(IMAGE_LOADING) != "lazy":
            return False
        if is_acr_host(parsed.host):
            return not parsed.digest  # Artifact Streaming streams pulls by tag only
        return ".dkr.ecr." in parsed.host  # SOCI v2 indexes pushed beside the ECR image

    @staticmethod
    def _streamable(parsed: ImageRef) -> bool:
        """Image streaming serves Artifact Registry repositories and public Docker Hub images (GKE docs)."""
        return parsed.host.endswith("-docker.pkg.dev") or parsed.host in ("docker.io", "registry-1.docker.io")
