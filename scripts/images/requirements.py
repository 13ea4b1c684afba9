"""Print what an image installs before kubescribe itself, one requirement a line.

    python3 requirements.py pyproject.toml worker,models

The Dockerfiles install these in a layer of their own, then the project with
``--no-deps --no-build-isolation``: a code edit rebuilds only that last, small layer,
and the multi-GB dependency layer stays cached while the requirements stay the same.
Printed: the build system's requirements (so the project installs offline), the
project's dependencies, and those of each extra named (``kubescribe[...]`` inside an
extra is followed, not printed).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_SELF = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)\s*\[(?P<extras>[^\]]*)\]\s*$")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(pyproject: dict[str, object], extras: list[str]) -> list[str]:
    project = pyproject["project"]
    build = pyproject["build-system"]
    assert isinstance(project, dict) and isinstance(build, dict)
    name = _normal(project["name"])
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    found: list[str] = [*build["requires"], *project.get("dependencies", [])]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        if extra not in optional:
            known = ", ".join(sorted(optional))
            raise SystemExit(f"pyproject.toml has no extra {extra!r}; it has: {known}")
        for requirement in optional[extra]:
            own = _SELF.match(requirement)
            if own and _normal(own["name"]) == name:
                pending.extend(e.strip() for e in own["extras"].split(",") if e.strip())
            else:
                found.append(requirement)
    return list(dict.fromkeys(found))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: requirements.py PYPROJECT EXTRA[,EXTRA...]", file=sys.stderr)
        return 2
    pyproject = tomllib.loads(Path(argv[0]).read_text())
    extras = [e.strip() for e in argv[1].split(",") if e.strip()]
    print("\n".join(requirements(pyproject, extras)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
