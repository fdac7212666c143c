"""Parsers of what a cluster and an engine write, each on its own: Kubernetes events (objects and kubectl
tables), pod status (objects, `kubectl describe`, `kubectl get pods` rows) and vLLM logs. Pure functions of text
or decoded objects; `coldstart.timeline.inputs` sniffs an input and hands it to the right ones."""
