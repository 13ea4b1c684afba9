"""The kubescribe controller: the core that decides what runs, and the executors that run it
(local child processes, or Kubernetes Jobs through kopf)."""
