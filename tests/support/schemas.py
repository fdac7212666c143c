"""Schema validation of manifests: built-in kinds against one named Kubernetes version
(kubernetes-validate, strict), custom resources against their upstream CRD schemas.

Unknown fields are errors here, as with `kubectl apply --validate=strict`: a misspelt field in a CRD
would otherwise be pruned silently and the lever it carries would quietly not apply. GKE's ComputeClass
has no public CRD, so it is checked against the documented field list instead. AKS's AKSNodeClass has no CRD in
../shared/crds, so it is checked against the field list of its public CRD (AKS_NODE_CLASS_SCHEMA). For EKS the
NodePool and NodeClaim are checked against the AWS provider's builds of the Karpenter CRDs (`provider="aws"`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

K8S_VERSION = "1.35.0"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the CRDs are megabytes: use libyaml when present

_GPU = {"type": "object", "additionalProperties": False, "properties": {
    "type": {"type": "string"}, "count": {"type": "integer", "minimum": 0},
    "driverVersion": {"enum": ["default", "latest"]}, "gpuSharing": {"type": "object"}}}
_PRIORITY_FIELDS = ["machineFamily", "machineType", "minCores", "minMemoryGb", "minCpuPlatform", "nodepools",
                    "flexStart", "capacityCheckWaitTimeSeconds", "reservations", "location", "storage", "placement",
                    "maxRunDurationSeconds", "maxPodsPerNode", "priorityScore", "podFamily",
                    "acceleratorNetworkProfile", "nodeLabels", "taints", "nodeSystemConfig", "tpu"]
# From the documented ComputeClass fields (cloud.google.com/v1; see ../shared/crds/computeclass-fields.md).
COMPUTE_CLASS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "cloud.google.com/v1"}, "kind": {"const": "ComputeClass"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {"type": "object", "additionalProperties": False, "properties": {
            "priorities": {"type": "array", "maxItems": 1000, "items": {
                "type": "object", "minProperties": 1, "additionalProperties": False,
                "properties": {"spot": {"type": "boolean"}, "gpu": _GPU,
                               **{f: {} for f in _PRIORITY_FIELDS}}}},
            "priorityDefaults": {"type": "object"},
            "whenUnsatisfiable": {"enum": ["ScaleUpAnyway", "DoNotScaleUp"]},
            "nodePoolAutoCreation": {"type": "object", "required": ["enabled"],
                                     "properties": {"enabled": {"type": "boolean"}}},
            "activeMigration": {"type": "object", "additionalProperties": False, "properties": {
                "optimizeRulePriority": {"type": "boolean"}, "ensureAllDaemonSetPodsRunning": {"type": "boolean"}}},
            "autoscalingPolicy": {"type": "object"}, "autopilot": {"type": "object"},
            "description": {"type": "string"},
            "nodePoolConfig": {"type": "object", "properties": {
                "imageStreaming": {"type": "object", "properties": {"enabled": {"type": "boolean"}}}}},
            "nodePoolGroup": {"type": "object"}, "allocationStrategyDefaults": {"type": "object"},
            "buffers": {"type": "array"},
        }},
        "status": {"type": "object"},
    },
}


# AKSNodeClass karpenter.azure.com/v1beta1, the field list of its spec from the public CRD:
# https://github.com/Azure/karpenter-provider-azure/blob/00ae11268ef84e134ea41d7701262d2d246decd4/pkg/apis/crds/
# karpenter.azure.com_aksnodeclasses.yaml (Apache-2.0). Nested objects the render does not use are left open.
AKS_NODE_CLASS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "karpenter.azure.com/v1beta1"}, "kind": {"const": "AKSNodeClass"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {"type": "object", "additionalProperties": False, "properties": {
            "artifactStreaming": {"type": "object", "additionalProperties": False,
                                  "properties": {"enabled": {"type": "boolean"}}},
            "fipsMode": {"enum": ["FIPS", "Disabled"]},
            "gpu": {"type": "object", "additionalProperties": False,
                    "properties": {"mode": {"enum": ["Driver", "None"]}}},
            "imageFamily": {"enum": ["Ubuntu", "Ubuntu2204", "Ubuntu2404", "AzureLinux", "Windows2022",
                                     "Windows2025"]},
            "kubelet": {"type": "object"}, "linuxOSConfig": {"type": "object"}, "localDNS": {"type": "object"},
            "maxPods": {"type": "integer", "minimum": 10, "maximum": 250},
            "osDiskSizeGB": {"type": "integer", "minimum": 30, "maximum": 2048},
            "security": {"type": "object", "additionalProperties": False,
                         "properties": {"encryptionAtHost": {"type": "boolean"}}},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "vnetSubnetID": {"type": "string", "pattern": "(?i)^/subscriptions/[^/]+/resourceGroups/[a-zA-Z0-9_\\-()."
                             "]{0,89}[a-zA-Z0-9_\\-()]/providers/Microsoft\\.Network/virtualNetworks/[^/]+/subnets/"
                             "[^/]+$"},
        }},
        "status": {"type": "object"},
    },
}
# The documented-only kinds: (group, kind) -> the schema written from their public field list.
DOCUMENTED: dict[tuple[str, str], dict[str, Any]] = {
    ("cloud.google.com", "ComputeClass"): COMPUTE_CLASS_SCHEMA,
    ("karpenter.azure.com", "AKSNodeClass"): AKS_NODE_CLASS_SCHEMA,
}
AWS_VARIANTS = "aws-provider-variants"


def _structural_to_json_schema(node: Any) -> Any:
    """Kubernetes structural schema -> JSON Schema: int-or-string, nullable, and no unknown fields."""
    if isinstance(node, list):
        return [_structural_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _structural_to_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if (node.get("type") == "object" and "properties" in node and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@cache
def _crd_index(crd_dir: str, provider: str | None = None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(group, version, kind) -> JSON Schema, from every CRD YAML under crd_dir; with provider="aws", the AWS
    provider's builds of the Karpenter CRDs replace the core ones (what an EKS cluster enforces)."""
    index: dict[tuple[str, str, str], dict[str, Any]] = {}
    paths = sorted(Path(crd_dir).rglob("*.yaml"))
    ordered = [p for p in paths if AWS_VARIANTS not in p.parts]
    if provider == "aws":
        ordered += [p for p in paths if AWS_VARIANTS in p.parts]
    for path in ordered:
        for doc in yaml.load_all(path.read_text(), Loader=_Loader):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec.get("versions", []):
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    index[(spec["group"], version["name"], spec["names"]["kind"])] = \
                        _structural_to_json_schema(schema)
    return index


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(root)"


def validate_manifest(doc: dict[str, Any], crd_dir: str | Path | None = None, provider: str | None = None) -> list[str]:
    """Problems with one manifest (empty when valid); each names the field path and what is wrong."""
    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    group, _, version = api_version.rpartition("/")
    if (group, kind) in DOCUMENTED:
        validator = jsonschema.Draft202012Validator(DOCUMENTED[(group, kind)])
        return [f"{_path(e)}: {e.message}" for e in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(str(p) for p in exc.absolute_path) or '(root)'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        pass  # not a built-in kind: a custom resource
    else:
        return []
    schema = _crd_index(str(crd_dir), provider).get((group, version, kind)) if crd_dir is not None else None
    if schema is None:
        return [f"no schema for {api_version} {kind} (Kubernetes {K8S_VERSION} or CRDs in {crd_dir})"]
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{_path(e)}: {e.message}" for e in validator.iter_errors(doc)]
