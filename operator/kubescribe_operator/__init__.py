"""The kubescribe controller. The folders are its layers (docs/architecture.md):
``commands`` above ``k8s`` and ``local`` (the two modes), above ``api``, above
``volume``, above ``core`` (what runs, when, how often, and what a failure means)."""
