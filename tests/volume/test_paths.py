"""The rules a client's path must keep, shared by the API, the CLI and kubectl requests."""

from __future__ import annotations

import pytest

from kubescribe_operator.volume.paths import MAX_PATH_CHARS, PathProblem, path_problems


def test_a_plain_relative_media_path_breaks_no_rule() -> None:
    assert path_problems("team/Запись встречи.OGG") == set()


@pytest.mark.parametrize(
    ("rel", "problem"),
    [
        ("", PathProblem.MALFORMED),
        ("a" * MAX_PATH_CHARS + ".wav", PathProblem.MALFORMED),
        ("bad\0.wav", PathProblem.MALFORMED),
        ("dir\\x.wav", PathProblem.MALFORMED),
        ("/etc/x.wav", PathProblem.ABSOLUTE),
        ("../x.wav", PathProblem.TRAVERSAL),
        ("a//x.wav", PathProblem.TRAVERSAL),
        ("./x.wav", PathProblem.TRAVERSAL),
        (".hidden/x.wav", PathProblem.HIDDEN),
        ("x.wav.part", PathProblem.HIDDEN),
        ("manual/x.wav", PathProblem.MANUAL),
        ("notes.txt", PathProblem.EXTENSION),
        ("folder", PathProblem.EXTENSION),
    ],
)
def test_each_rule(rel: str, problem: PathProblem) -> None:
    assert problem in path_problems(rel)
