"""The embedded API server: real HTTP on loopback, routing, verbs, admission, defaulting, watch, server-side
apply and Kubernetes-style errors, over the shared store."""
