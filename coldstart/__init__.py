"""coldstart: cut the cold start of vLLM on Kubernetes from minutes to seconds, and prove it.

Profiles (`coldstart.profiles`) describe a deployment; the four lever modules (`weight_load`,
`image_pull`, `node_warmup`, `runtime`) turn a profile into plain-dict manifests; `invariants` proves
manifests avoid the cold-start traps; `cluster` applies and watches them (on a live cluster or the
embedded one in `coldstart.embedded`); `timeline` turns what the cluster wrote into phase timings; and
`report` renders the runbooks' verdicts.
"""

__version__ = "0.1.0"
