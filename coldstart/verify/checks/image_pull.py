"""Image-pull invariants: every image a start waits for pinned by digest (or by a tag the registry locked), pulled
IfNotPresent, from a registry in the profile's region (an ECR host names its region; an ACR name does not, so only
the profile's own ACR, geo-replicated into the region, counts)."""

from __future__ import annotations

from collections.abc import Iterator

from coldstart.kube.images import ImageRef, effective_pull_policy, has_digest
from coldstart.profiles.physics import GEO_REDIRECTING, registry_in_region
from coldstart.verify.checks.common import images, pinned_form
from coldstart.verify.findings import Context, Finding, found, invariant


@invariant("image-digest-pinned", "image_pull",
           "a tag can point at new bytes: nodes pull again and replicas run different images")
def check_digest(ctx: Context) -> Iterator[Finding]:
    for owner, ref, na in images(ctx):
        if not ref.image:
            yield found("image-digest-pinned", "n/a", owner, ref.container, na)
        elif has_digest(ref.image):
            yield found("image-digest-pinned", "pass", owner, ref.container, f"{ref.image} is pinned by digest")
        elif ctx.profile is not None and ref.image in ctx.profile.locked_tags:
            yield found("image-digest-pinned", "pass", owner, ref.container, f"{ref.image} is a tag locked in the "
                        "registry (write-enabled false: it cannot move), as Artifact Streaming needs")
        else:
            yield found("image-digest-pinned", "fail", owner, ref.container,
                        f"{ref.image} is pinned by tag only; use {pinned_form(ref.image)} (`crane digest` prints it)")


@invariant("pull-policy-ifnotpresent", "image_pull",
           "imagePullPolicy Always (explicit, or the default for :latest) contacts the registry on every start")
def check_pull_policy(ctx: Context) -> Iterator[Finding]:
    for owner, ref, na in images(ctx):
        if not ref.image or na:
            yield found("pull-policy-ifnotpresent", "n/a", owner, ref.container, na or "no image in this input")
            continue
        policy = effective_pull_policy(ref.image, ref.pull_policy)
        tag = ImageRef.parse(ref.image).tag
        how = "explicit" if ref.pull_policy else "unset: Kubernetes default for " + (
            "a digest" if has_digest(ref.image) else f"tag {tag}" if tag else "an untagged image")
        if policy == "IfNotPresent":
            yield found("pull-policy-ifnotpresent", "pass", owner, ref.container, f"IfNotPresent ({how})")
        else:
            yield found("pull-policy-ifnotpresent", "fail", owner, ref.container,
                        f"effective imagePullPolicy {policy} ({how}); set imagePullPolicy: IfNotPresent "
                        "(and pin by digest) so a cached image starts without the registry")


@invariant("registry-in-region", "image_pull",
           "a cross-region or public registry pull runs at a fraction of in-region bandwidth", "profile")
def check_region(ctx: Context) -> Iterator[Finding]:
    profile = ctx.profile
    assert profile is not None
    region = profile.region.lower()
    for owner, ref, na in images(ctx):
        if not ref.image:
            yield found("registry-in-region", "n/a", owner, ref.container, na)
            continue
        host = ImageRef.parse(ref.image).host.lower()
        if host.startswith("$"):
            yield found("registry-in-region", "n/a", owner, ref.container, f"registry {host} is an unrendered "
                        "placeholder; render the manifests first")
        elif host in GEO_REDIRECTING:
            yield found("registry-in-region", "pass", owner, ref.container,
                        "registry.k8s.io redirects pulls to a mirror in the node's region")
        elif registry_in_region(host, profile):
            yield found("registry-in-region", "pass", owner, ref.container, f"{host} is in region {region}")
        elif host == profile.registry.host.lower() and profile.aks is not None:
            yield found("registry-in-region", "fail", owner, ref.container, f"ACR {host} has no replica in {region} "
                        f"(aks.acr_regions: {', '.join(profile.aks.acr_regions)}); geo-replicate it: az acr "
                        f"replication create --registry {host.split('.', 1)[0]} --location {region}")
        else:
            yield found("registry-in-region", "fail", owner, ref.container, f"{host} is outside region {region}; "
                        f"mirror the image to {profile.registry.host}")
