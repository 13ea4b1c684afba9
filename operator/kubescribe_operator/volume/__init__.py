"""What a client may do straight on the shared volume (read a result, retry, cancel),
the checks on the paths it names, the ETA of what waits, and the status reports:
no controller needed, no Kubernetes, no web framework."""
