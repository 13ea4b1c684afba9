"""The JSON Schemas of the status files, generated from the models and kept in the repo."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from .models import InProgress, Result

SCHEMAS: dict[str, type[BaseModel]] = {
    "in_progress.schema.json": InProgress,
    "result.schema.json": Result,
}


def render_schema(model: type[BaseModel]) -> str:
    # The serialization schema: what writers put on disk, computed fields included.
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = folder / name
        path.write_text(render_schema(model), encoding="utf-8")
        written.append(path)
    return written
