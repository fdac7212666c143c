"""The invariant checker behind `coldstart verify`: finds the vLLM engine workloads in any manifests (or objects
read back from a cluster) and judges each cold-start invariant on them.

`findings` (the vocabulary and registry) <- `checks/` (one module per lever) <- `checker` (run them all, format);
`workloads` (the engine-pod model) <- `operators` (KServe, KubeAI, Dynamo, Ray) <- `discovery` (which objects
are engines or warm buffers).
"""

from coldstart.verify.checker import check_documents, format_findings, summarize, verify_paths, worst
from coldstart.verify.findings import INVARIANTS, Finding

__all__ = ["INVARIANTS", "Finding", "check_documents", "format_findings", "summarize", "verify_paths", "worst"]
