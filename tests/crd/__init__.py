"""Tests of the Transcription custom resource.

A package, so its conftest does not clash with tests/operator's. The operator tests'
emulator, kubelet and operator harness are modules in tests/operator (not a package);
they are put on the path here, before any module of this package imports them.
"""

import sys
from pathlib import Path

_OPERATOR_TESTS = str(Path(__file__).resolve().parents[1] / "operator")
if _OPERATOR_TESTS not in sys.path:
    sys.path.insert(0, _OPERATOR_TESTS)
