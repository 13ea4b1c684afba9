"""The JSON Schemas in the repo match the models, and the seed's examples validate against them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kubescribe_protocol.schema import SCHEMAS, render_schema

REPO = Path(__file__).resolve().parents[2]


def test_committed_schemas_are_fresh() -> None:
    for name, model in SCHEMAS.items():
        committed = (REPO / "schemas" / name).read_text(encoding="utf-8")
        assert committed == render_schema(model), f"schemas/{name} is stale: kubescribe schema"


def test_schema_check_command_fails_on_a_stale_file(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "kubescribe_cli", "schema", str(tmp_path)]
    assert subprocess.run(run, check=False).returncode == 0
    assert subprocess.run([*run, "--check"], check=False).returncode == 0
    (tmp_path / "result.schema.json").write_text("{}", encoding="utf-8")
    assert subprocess.run([*run, "--check"], check=False, capture_output=True).returncode == 1


def test_schema_lists_both_seed_names() -> None:
    schema = json.loads((REPO / "schemas" / "in_progress.schema.json").read_text(encoding="utf-8"))
    props = schema["properties"]
    assert {"start_time", "creation_time", "attempt", "current_attempt"} <= set(props)
    assert {"start_time", "creation_time", "attempt", "current_attempt"} <= set(schema["required"])
