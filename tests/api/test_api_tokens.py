"""Bearer tokens from the environment and from a mounted Secret's file, re-read when the
Secret changes."""

from __future__ import annotations

import os
from pathlib import Path

from kubescribe_operator.api.auth import TokenSet


def test_tokens_from_settings_and_a_file_that_changes(tmp_path: Path) -> None:
    secret = tmp_path / "tokens"
    secret.write_text("first-token\n\n  second-token  \n")
    tokens = TokenSet([" env-token ", ""], secret)
    assert tokens.configured()
    for good in ("env-token", "first-token", "second-token"):
        assert tokens.accepts(good)
    for bad in ("", "first", "first-token\n", "ENV-TOKEN", "x" * 1000):
        assert not tokens.accepts(bad)

    # Kubernetes updates a mounted Secret by swapping the file: the new set applies.
    replacement = tmp_path / "tokens.new"
    replacement.write_text("rotated-token\n")
    os.replace(replacement, secret)
    assert tokens.accepts("rotated-token") and not tokens.accepts("first-token")
    assert tokens.accepts("env-token")

    # A Secret briefly missing while it is re-mounted: the last tokens read still hold.
    secret.unlink()
    assert tokens.accepts("rotated-token")


def test_no_tokens_means_nothing_is_accepted() -> None:
    tokens = TokenSet([], None)
    assert not tokens.configured()
    assert not tokens.accepts("") and not tokens.accepts("anything")
