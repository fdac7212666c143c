"""The embedded API server: real HTTP on loopback, routing, verbs, admission, defaulting, watch, server-side
apply and Kubernetes-style errors, over the shared store; OpenAPI v2/v3 and field validation from the upstream
definitions (vendored in data/, see schemagen.py), protobuf request bodies, server-side Tables for kubectl."""
