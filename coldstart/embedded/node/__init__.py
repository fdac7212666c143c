"""The node side: kubelets that pull images, mount volumes, start containers, run probes and write pod
status, and the processes they run."""
