"""Kubernetes mode (``kubescribe operator``): the one client of the Kubernetes API, Job
names, labels and manifests, how a Job ended, the executor that runs attempts as Jobs,
the leader Lease, the Transcription mirror, and the kopf handlers that only route.
The only package that imports ``kopf`` or ``kubernetes``."""
