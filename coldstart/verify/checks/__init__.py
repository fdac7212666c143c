"""The checks behind each invariant id, one module per lever plus the clouds' own (`karpenter`: EKS and AKS node
provisioning; `cloud`: SOCI, Artifact Streaming, cache storage). Importing this package registers all of them, in
lever order (weight load, image pull, node warm-up, runtime), which is the order reports list them in."""

from coldstart.verify.checks import cloud, image_pull, karpenter, node_warmup, runtime, weight_load

__all__ = ["cloud", "image_pull", "karpenter", "node_warmup", "runtime", "weight_load"]
