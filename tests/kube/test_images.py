"""One image-reference parser for the checker, the profile validator, the API server and the kubelet."""

import pytest

from coldstart.kube.images import (
    ImageRef,
    default_pull_policy,
    has_digest,
    is_pinned_reference,
    is_valid_reference,
)

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("ref", "host", "path", "tag", "digest", "canonical"), [
    ("vllm/vllm-openai:v0.11.0", "docker.io", "vllm/vllm-openai", "v0.11.0", None, "docker.io/vllm/vllm-openai"),
    ("ubuntu", "docker.io", "ubuntu", None, None, "docker.io/library/ubuntu"),
    ("registry.local:5000/tools/app", "registry.local:5000", "tools/app", None, None, "registry.local:5000/tools/app"),
    ("registry.local:5000/tools/app:1.0", "registry.local:5000", "tools/app", "1.0", None,
     "registry.local:5000/tools/app"),
    (f"us-central1-docker.pkg.dev/p/r/vllm:v1@{DIGEST}", "us-central1-docker.pkg.dev", "p/r/vllm", "v1", DIGEST,
     "us-central1-docker.pkg.dev/p/r/vllm"),
    (f"oci://quay.io/m/granite@{DIGEST}", "quay.io", "m/granite", None, DIGEST, "quay.io/m/granite"),
    ("localhost/x:y", "localhost", "x", "y", None, "localhost/x"),
    ("${REGISTRY}/vllm:1", "${REGISTRY}", "vllm", "1", None, "${REGISTRY}/vllm"),
])
def test_references_split_as_a_registry_reads_them(ref, host, path, tag, digest, canonical):
    parsed = ImageRef.parse(ref)
    assert (parsed.host, parsed.path, parsed.tag, parsed.digest, parsed.canonical) == (host, path, tag, digest,
                                                                                       canonical)


def test_pull_policy_defaults_follow_the_api_server():
    assert default_pull_policy("vllm/vllm-openai") == "Always"
    assert default_pull_policy("vllm/vllm-openai:latest") == "Always"
    assert default_pull_policy("vllm/vllm-openai:v0.11.0") == "IfNotPresent"
    assert default_pull_policy(f"vllm/vllm-openai@{DIGEST}") == "IfNotPresent"
    assert default_pull_policy("registry.local:5000/app") == "Always"  # a port is not a tag


def test_validity_and_pinning():
    assert is_valid_reference("vllm/vllm-openai:v0.11.0") and not is_valid_reference("Vllm/UPPER:tag")
    assert has_digest(f"x/y@{DIGEST}") and not has_digest("x/y:1")
    assert is_pinned_reference(f"r.io/x/y@{DIGEST}") and not is_pinned_reference("r.io/x/y:1")
