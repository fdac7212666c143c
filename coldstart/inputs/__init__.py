"""Reading what users hand over: JSON/YAML documents in any shape kubectl, Helm or a paste produce, and manifests
with the file and line each object came from."""
