"""The simulated control plane: scheduler, cluster autoscaler, node lifecycle, Deployment/ReplicaSet,
StatefulSet, DaemonSet, Job/CronJob, KServe, persistent-volume, endpoints, namespace and garbage-collection
controllers."""
