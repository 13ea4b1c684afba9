"""The ``kubescribe`` command: one entry point, a subcommand per part."""
