"""Container image references, read once for everyone: the checker, the profile validator, the API server's
defaulting, the kubelet's puller and the registry of the embedded cluster.

The grammar is the distribution reference one (github.com/distribution/reference): an optional registry host
(a first component with a `.` or `:`, or `localhost`), a path, an optional `:tag` and an optional
`@<algorithm>:<hex>` digest. Docker Hub short names (`vllm/vllm-openai`) live on `docker.io`. KServe writes
modelcars as `oci://<reference>`; the prefix is not part of the reference. Manifests rendered by templates may
keep `${REGISTRY}/...`: a `$` component counts as a host the input leaves open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ImageRef", "default_pull_policy", "effective_pull_policy", "has_digest", "is_acr_host", "is_engine_image",
    "is_pause_image", "is_pinned_reference", "is_valid_reference",
]

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_TAG = r"[\w][\w.-]{0,127}"
_VALID = re.compile(rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@sha256:[0-9a-f]{{64}})?$")
_PINNED = re.compile(rf"^{_HOST}/{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?@sha256:[0-9a-f]{{64}}$")
_DIGEST = re.compile(r"@([a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})$")
DOCKER_HUB = "docker.io"
_ACR_SUFFIXES = (".azurecr.io", ".azurecr.cn", ".azurecr.us")  # Azure public, China and Government clouds


@dataclass(frozen=True)
class ImageRef:
    """One reference split as the kubelet and a registry see it. Parsing never fails: a malformed reference
    still yields its parts as far as they can be read (is_valid_reference says whether a kubelet takes it)."""

    text: str  # as written, without `oci://`
    name: str  # the repository as written: host/path, or the path alone for a Docker Hub short name
    host: str  # registry host; docker.io for Docker Hub short names
    tag: str | None
    digest: str | None  # "sha256:<hex>"

    @classmethod
    def parse(cls, reference: str) -> ImageRef:
        text = str(reference).strip().removeprefix("oci://")
        rest, _, digest = text.partition("@")
        last_slash = rest.rfind("/")
        colon = rest.rfind(":")
        tag = None
        if colon > last_slash:  # a colon after the last slash is a tag; before it, a registry port
            rest, tag = rest[:colon], rest[colon + 1:]
        first = rest.split("/", 1)[0]
        explicit_host = "/" in rest and ("." in first or ":" in first or first == "localhost" or first.startswith("$"))
        return cls(text, rest, first if explicit_host else DOCKER_HUB, tag or None, digest or None)

    @property
    def path(self) -> str:
        """The repository without its host: `vllm/vllm-openai`."""
        return self.name[len(self.host) + 1:] if self.name.startswith(self.host + "/") else self.name

    @property
    def canonical(self) -> str:
        """The repository as containerd names it: Docker Hub short names gain docker.io/ (and library/)."""
        if self.host != DOCKER_HUB or self.name.startswith(DOCKER_HUB + "/"):
            return self.name
        return f"{DOCKER_HUB}/{self.name if '/' in self.name else 'library/' + self.name}"

    @property
    def listed_as(self) -> str:
        """How a node's status.images names this reference: `repo@digest` when pinned, else `repo:tag` (latest)."""
        return f"{self.canonical}@{self.digest}" if self.digest else f"{self.canonical}:{self.tag or 'latest'}"


def is_valid_reference(reference: str) -> bool:
    """Would a kubelet accept this reference (else it reports InvalidImageName)?"""
    return bool(_VALID.match(reference))


def is_pinned_reference(reference: str) -> bool:
    """A full reference with its registry and a sha256 digest: what a profile must name."""
    return bool(_PINNED.match(reference))


def has_digest(image: str) -> bool:
    """True when the reference pins content (`repo@sha256:<hex>`), so every node pulls the same bytes."""
    return bool(_DIGEST.search(str(image).strip().removeprefix("oci://")))


def default_pull_policy(image: str) -> str:
    """The API server's default: Always for `:latest` or an untagged reference without digest, else IfNotPresent."""
    if has_digest(image):
        return "IfNotPresent"
    return "Always" if ImageRef.parse(image).tag in (None, "latest") else "IfNotPresent"


def effective_pull_policy(image: str, explicit: str | None) -> str:
    """The kubelet's policy: the one written, else the API server's default."""
    return str(explicit) if explicit else default_pull_policy(image)


def is_acr_host(host: str) -> bool:
    """An Azure Container Registry host (`x.azurecr.io`, a geo-replica `x.eastus.geo.azurecr.io`): the only
    registry AKS Artifact Streaming streams from."""
    return host.endswith(_ACR_SUFFIXES)


def is_engine_image(image: str | None) -> bool:
    """vLLM images (vllm/vllm-openai, vllm-tpu, */vllm:*, quay.io/modh/vllm, ...) and KServe's huggingfaceserver."""
    if not image:
        return False
    path = ImageRef.parse(image).path.lower()
    return any("vllm" in part for part in path.split("/")) or path.endswith(("huggingfaceserver", "llm-d/llm-d"))


def is_pause_image(image: str | None) -> bool:
    """registry.k8s.io/pause, */pause, pause-amd64: the container that holds a node and does nothing."""
    if not image:
        return False
    last = ImageRef.parse(image).path.rsplit("/", 1)[-1].lower()
    return last == "pause" or last.startswith("pause-")
