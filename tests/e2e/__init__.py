"""End-to-end tests against a real control plane (marker ``e2e``); see README.md here."""
