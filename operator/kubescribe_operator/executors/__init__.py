"""Executors: what runs an attempt (local child processes; Kubernetes Jobs in the operator)."""
