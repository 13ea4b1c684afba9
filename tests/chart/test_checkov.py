"""checkov finds no failed check in the rendered chart or the Dockerfiles; each skip says why."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import yaml

from chart.chartkit import REPO, VARIANTS, render_text

CHECKOV = REPO / "scripts" / "tools" / "checkov"
CONFIG = REPO / ".checkov.yaml"
DOCKERFILES = [REPO / "operator" / "Dockerfile", REPO / "worker" / "Dockerfile"]


@pytest.fixture(scope="session")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """One checkov run (it is slow to start) over every variant's render and both Dockerfiles."""
    folder = tmp_path_factory.mktemp("checkov")
    files = []
    for name, values in VARIANTS.items():
        path = folder / f"{name}.yaml"
        path.write_text(render_text(values))
        files.append(path)
    args = [str(CHECKOV), "--config-file", str(CONFIG), "--output", "json"]
    args += ["--framework", "kubernetes", "dockerfile"]
    for path in [*files, *DOCKERFILES]:
        args += ["--file", str(path)]
    # The first run builds checkov's own virtualenv (.tools/checkov-venv) from PyPI.
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert result.stdout.strip(), result.stderr[-3000:]
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


@pytest.mark.parametrize("framework", ["kubernetes", "dockerfile"])
def test_checkov_finds_no_failed_check(
    checkov_report: list[dict[str, Any]], framework: str
) -> None:
    (section,) = [r for r in checkov_report if r["check_type"] == framework]
    summary = section["summary"]
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})"
        for check in section["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    # It really looked: every resource of every file.
    assert summary["passed"] > 50
    assert summary["resource_count"] >= (2 if framework == "dockerfile" else 3 * 5)


def test_every_checkov_skip_says_why() -> None:
    # In .checkov.yaml: a comment right above each skipped check.
    lines = CONFIG.read_text().splitlines()
    skipped = yaml.safe_load(CONFIG.read_text())["skip-check"]
    assert skipped
    # And checkov never calls out to its vendor's platform (CI has no network).
    assert yaml.safe_load(CONFIG.read_text())["skip-download"] is True
    for check in skipped:
        (index,) = [i for i, line in enumerate(lines) if line.strip() == f"- {check}"]
        assert lines[index - 1].lstrip().startswith("#"), f"{check} has no reason above it"
    # Inline: "#checkov:skip=ID:reason" in Dockerfiles, "checkov.io/skipN: ID=reason" in
    # templates; a reason of a few words at least.
    inline = [
        *re.findall(r"#checkov:skip=(\w+):(.*)", "".join(p.read_text() for p in DOCKERFILES)),
        *re.findall(
            r"checkov\.io/skip\d+: (\w+)=(.*)",
            "".join(p.read_text() for p in (REPO / "charts").rglob("*.yaml")),
        ),
    ]
    assert inline
    for check, reason in inline:
        assert len(reason.split()) >= 5, f"{check}: {reason!r}"
