"""The simulated control plane: scheduler, cluster autoscaler, node lifecycle, Deployment/ReplicaSet,
StatefulSet, DaemonSet, KServe, persistent-volume and garbage-collection controllers."""
