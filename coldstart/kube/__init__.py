"""Kubernetes facts as pure functions of plain dicts: quantities, times, image references, well-known labels,
pod-spec readers and the patch forms. No I/O and no client."""
