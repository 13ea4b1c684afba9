"""Every document a reader is pointed to is in the repository: relative links in the
README and docs/ resolve, and files named in backquotes as a document exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
#: [text](target) where the target is not a URL or an anchor of the same page.
LINK = re.compile(r"\[[^\]]*\]\((?!https?://|mailto:|#)([^)\s]+)\)")


def links(document: Path) -> list[str]:
    text = document.read_text(encoding="utf-8")
    # Links inside code blocks are examples, not links.
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return [target.split("#", 1)[0] for target in LINK.findall(text)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(document: Path) -> None:
    broken = [t for t in links(document) if t and not (document.parent / t).exists()]
    assert not broken, f"{document.relative_to(REPO)} links to missing files: {broken}"


def test_the_protocol_cites_documents_that_are_here() -> None:
    text = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    for name in ("status-files.ru.md", "DESIGN.md"):
        assert name in text
        assert f"(design/{name})" in text, f"docs/protocol.md names {name} without a link"
        assert (REPO / "docs" / "design" / name).is_file(), name
