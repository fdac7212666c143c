"""The A/B experiments each lever's runbook runs: the lever on, the lever off (or a trap in), side by side.

Every experiment is a list of scenarios for `runbook.compare`; the recommended render is always one of
them, so a report shows what the lever buys on this profile, not in general.
"""

from __future__ import annotations

from coldstart.levers import variants
from coldstart.levers.render import flatten, render
from coldstart.profiles import Profile, profile_with
from coldstart.runbooks.runbook import Scenario


def weight_load(profile: Profile, *, streamer_concurrency: int | None = None) -> list[Scenario]:
    """Run:ai streamer vs vLLM's default loader (and on GKE, Hyperdisk ML vs the balanced disk)."""
    if streamer_concurrency:
        profile = profile_with(profile, {"runtime.streamer_concurrency": streamer_concurrency})
    default = profile_with(profile, {"runtime.loader": "auto"})
    scenarios = [Scenario("Run:ai streamer", profile, note="recommended", recommended=True, phase="weights_load"),
                 Scenario("default loader", default, note="--load-format auto", phase="weights_load")]
    if profile.gke_feature("hyperdisk_ml"):
        disk = profile_with(profile, {"gke.hyperdisk_ml.enabled": False})
        scenarios.append(Scenario("streamer, balanced disk (modelcar)", disk, note="no Hyperdisk ML",
                                  phase="weights_load"))
    return scenarios


def image_pull(profile: Profile, *, gzip: bool = True) -> list[Scenario]:
    """A cold node pulls; the next replica on that warm node finds the images present, unless the images are
    by tag with `Always`. The cloud's image accelerator (SOCI, Artifact Streaming) against its absence, zstd vs gzip
    layers on the cold pull. No buffer or pre-pull: the pull is the subject."""
    cold = profile_with(profile, {"nodes.warm_buffer": 0})
    docs = variants.without_prepull(flatten(render(cold)))
    scenarios = [
        Scenario("digest + IfNotPresent", cold, docs=docs, replicas=[1, 0, 1], warm_up=False, phase="image_pull",
                 note="cold pull, then a second replica on the warm node"),
        Scenario("tag + Always", cold, docs=variants.by_tag(docs), replicas=[1, 0, 1], warm_up=False,
                 phase="image_pull", note="the second replica pulls again"),
    ]
    accelerator = _image_accelerator_off(cold)
    if accelerator is not None:
        what, off = accelerator
        scenarios.append(Scenario(f"without {what}", off, docs=variants.without_prepull(flatten(render(off))),
                                  replicas=[1, 0, 1], warm_up=False, phase="image_pull",
                                  note="the cloud's image accelerator off: the node pulls the whole image"))
    if gzip:
        gzipped = profile_with(cold, {"image.compression": "gzip"})
        scenarios.append(Scenario("gzip layers", gzipped, docs=variants.without_prepull(flatten(render(gzipped))),
                                  replicas=[1, 0, 1], warm_up=False, phase="image_pull",
                                  note="same image, gzip instead of zstd layers"))
    return scenarios


def _image_accelerator_off(profile: Profile) -> tuple[str, Profile] | None:
    """(name, the profile with it off) of the cloud's image accelerator that the profile turns on (EKS: SOCI, AKS:
    Artifact Streaming), for the image-pull A/B."""
    if profile.feature("eks:soci"):
        return "SOCI", profile_with(profile, {"eks.soci.enabled": False})
    if profile.feature("aks:artifact_streaming"):
        return "Artifact Streaming", profile_with(profile, {"aks.artifact_streaming.enabled": False})
    return None


def node_warmup(profile: Profile, *, spot_unavailable: bool = True) -> list[Scenario]:
    """Scale 0->1 with the warm buffer (preemption) and without it (a new node); with a ComputeClass or Karpenter also
    Spot unavailable; under the cluster autoscaler also a buffer below its expendable cutoff."""
    cold = profile_with(profile, {"nodes.warm_buffer": 0})
    scenarios = [Scenario("warm buffer", profile, note=f"{profile.nodes.warm_buffer} pause pod(s) preempted",
                          recommended=True, phase="scheduling"),
                 Scenario("no warm buffer", cold, note="waits for a new GPU node", phase="scheduling")]
    if spot_unavailable and (profile.gke_feature("compute_class") or profile.karpenter is not None):
        no_spot = profile_with(cold, {"kinetics.spot_available": False})
        scenarios.append(Scenario("no buffer, Spot unavailable", no_spot, phase="scheduling",
                                  note="ComputeClass falls back from Spot to on-demand" if profile.karpenter is None
                                  else "Karpenter's launch fails (InsufficientCapacityError), the next is on-demand"))
    if profile.karpenter is None:  # Karpenter has no expendable cutoff: it launches nodes for every pending pod
        expendable = profile_with(profile, {"nodes.buffer_priority": -20})
        scenarios.append(Scenario("buffer at priority -20", expendable, expect_ready=True, expect_warm_up=False,
                                  phase="scheduling",
                                  note="below -10 the autoscaler never scales up for the buffer: it holds nothing"))
    return scenarios


def runtime_traps(profile: Profile) -> list[Scenario]:
    """Each runtime trap in its broken form (expected to fail) next to the fixed form."""
    tp2 = variants.tensor_parallel(profile, 2)
    docs = flatten(render(profile))
    return [
        Scenario("recommended", profile, recommended=True),
        Scenario("TP=2 with 16Gi /dev/shm", tp2, note="fixed"),
        Scenario("TP=2 with the 64Mi default /dev/shm", tp2, docs=variants.without_shm(flatten(render(tp2))),
                 expect_ready=False, note="NCCL cannot create its shared memory segments"),
        Scenario("utilization 0.9", profile_with(profile, {"runtime.gpu_memory_utilization": 0.9}),
                 expect_ready=False, note="CUDA OOM during graph capture"),
        Scenario("memory limit 10Gi", profile, docs=variants.with_memory_limit(docs, "10Gi"), expect_ready=False,
                 note="below engine RSS + streamer buffer (+ shm pages): OOMKilled while loading"),
        Scenario("startup probe 30s", profile, docs=variants.with_startup_window(docs, 30), expect_ready=False,
                 note="killed before a healthy start completes"),
    ]


def runtime_compile(profile: Profile) -> list[Scenario]:
    """CUDA graphs vs eager, and the compile cache: a second replica on a PVC cache vs an emptyDir."""
    eager = profile_with(profile, {"runtime.enforce_eager": True})
    docs = flatten(render(profile))
    return [
        Scenario("graphs, cache on PVC: 1st and 2nd replica", profile, replicas=[1, 0, 1], recommended=True,
                 phase="engine_init", note="the second start loads the compiled graphs"),
        Scenario("graphs, cache on emptyDir: 1st and 2nd replica", profile, phase="engine_init",
                 docs=variants.with_cache_on_emptydir(docs), replicas=[1, 0, 1], note="both starts compile"),
        Scenario("--enforce-eager", eager, phase="engine_init",
                 note="no compile, no graphs: fastest wake, lower throughput"),
    ]


def naive(profile: Profile) -> Scenario:
    """Every lever off: the deployment most clusters start from."""
    bare = variants.naive_profile(profile)
    return Scenario("every lever off (naive)", bare, docs=variants.naive(bare), replicas=[1, 0, 1], warm_up=False,
                    timeout=3600, note="vLLM's own Kubernetes example: tag, Hub download, no buffer, no caches")
