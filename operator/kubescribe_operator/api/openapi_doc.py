"""The API's OpenAPI document, committed as ``openapi.json`` at the repository's root.

``python -m kubescribe_operator.api.openapi_doc [--check] [PATH]`` writes it, or with
``--check`` exits 1 when the committed copy is stale (a test runs the check).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .app import create_app, openapi


def document() -> dict[str, Any]:
    return openapi(create_app(None))


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [arg for arg in argv if arg != "--check"]
    target = Path(paths[0] if paths else "openapi.json")
    text = render()
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is stale: python -m kubescribe_operator.api.openapi_doc",
                  file=sys.stderr)  # fmt: skip
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
