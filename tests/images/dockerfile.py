"""A small Dockerfile reader: the instructions, with continuation lines joined."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions(path: Path) -> list[Instruction]:
    found: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, arguments = whole.partition(" ")
        found.append(Instruction(keyword.upper(), arguments.strip()))
    return found


def last(path: Path, keyword: str) -> str:
    matching = [i.arguments for i in instructions(path) if i.keyword == keyword]
    assert matching, f"{path}: no {keyword}"
    return matching[-1]


def exec_form(path: Path, keyword: str) -> list[str]:
    """ENTRYPOINT or CMD, which must be in exec (JSON) form: no shell between."""
    value = json.loads(last(path, keyword))
    assert isinstance(value, list) and all(isinstance(item, str) for item in value), value
    return value


def env(path: Path) -> dict[str, str]:
    """Every ENV the image sets (``KEY=value`` pairs; ``$VAR`` left as written)."""
    found: dict[str, str] = {}
    for instruction in instructions(path):
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                key, _, value = pair.partition("=")
                found[key] = value
    return found


def arg_defaults(path: Path) -> dict[str, str]:
    """Every ``ARG NAME=default``: what a build without ``--build-arg`` gets."""
    found: dict[str, str] = {}
    for instruction in instructions(path):
        if instruction.keyword == "ARG" and "=" in instruction.arguments:
            name, _, value = instruction.arguments.partition("=")
            found[name.strip()] = value.strip()
    return found


def _substitute(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: values[m[1] or m[2]], text)


def base_image(path: Path) -> tuple[str, str, str]:
    """(repository, tag, digest) of the image the last stage starts from, by default:
    stage names followed back to an image, ``ARG`` defaults put in."""
    defaults = arg_defaults(path)
    stages: dict[str, str] = {}
    image = ""
    for instruction in instructions(path):
        if instruction.keyword != "FROM":
            continue
        words = [w for w in instruction.arguments.split() if not w.startswith("--")]
        image = _substitute(words[0], defaults)
        image = stages.get(image, image)
        if len(words) == 3 and words[1].upper() == "AS":
            stages[words[2]] = image
    assert image, f"{path}: no FROM"
    match = re.fullmatch(
        r"(?P<repo>[^:@]+)(:(?P<tag>[^@]+))?(@(?P<digest>sha256:[0-9a-f]{64}))?", image
    )
    assert match, image
    return match["repo"], match["tag"] or "", match["digest"] or ""
