"""The embedded cluster: a Kubernetes API server on loopback plus a simulated control plane in virtual time."""
