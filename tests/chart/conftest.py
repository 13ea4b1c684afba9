"""The session's renders of the chart, shared by the chart tests."""

from __future__ import annotations

from typing import Any

import pytest

from chart.chartkit import VARIANTS, load_documents, render_text


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each variant's rendered objects."""
    return {name: load_documents(render_text(files)) for name, files in VARIANTS.items()}
