"""The status-file protocol: the contract between the controller, the worker and readers.

Everything here is light (pydantic and the standard library) so that any part of
kubescribe, and any tool that only reads the shared volume, can import it.
"""
