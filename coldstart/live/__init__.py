"""Talking to a cluster: targets and their refusal, the one module that imports the `kubernetes` client
(`cluster`), bounded waits on watches, the live recorder and the invariants read back from a cluster."""
