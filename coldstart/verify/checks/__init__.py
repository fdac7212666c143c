"""The checks behind each invariant id, one module per lever. Importing this package registers all of them,
in lever order (weight load, image pull, node warm-up, runtime), which is the order reports list them in."""

from coldstart.verify.checks import image_pull, node_warmup, runtime, weight_load

__all__ = ["image_pull", "node_warmup", "runtime", "weight_load"]
