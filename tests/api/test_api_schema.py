"""The committed ``openapi.json`` is current, and schemathesis, driving a real server
(empty tmp root) from it, finds no 5xx and only documented, conforming answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.apikit import TOKEN, Server, start_server, stop_server
from kubescribe_operator.api.openapi_doc import main as openapi_main
from kubescribe_operator.api.openapi_doc import render

REPO = Path(__file__).resolve().parents[2]


def test_committed_openapi_document_is_current(tmp_path: Path) -> None:
    committed = REPO / "openapi.json"
    assert committed.read_text(encoding="utf-8") == render(), (
        "openapi.json is stale: python -m kubescribe_operator.api.openapi_doc"
    )
    assert openapi_main(["--check", str(committed)]) == 0
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    assert openapi_main(["--check", str(stale)]) == 1


def test_server_serves_the_same_document(api: Server) -> None:
    with api.client() as http:
        served = http.get("/openapi.json").json()
    assert served == json.loads((REPO / "openapi.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("schema-root")
    log = tmp_path_factory.mktemp("schema-log") / "run.log"
    # No rate limit: generated requests would spend most of their examples on 429.
    server = start_server(root, model_dir, log, KUBESCRIBE_MAX_UPLOAD_MB="1",
                          KUBESCRIBE_API_WRITES_PER_MINUTE="0")  # fmt: skip
    yield server
    stop_server(server)


#: Generated requests per operation: enough to reach every parameter's edge cases while
#: keeping the test to about a minute on two busy cores.
EXAMPLES = 50


#: "Valid data is accepted" cannot hold here: a schema cannot say "a file that is audio" or
#: "a path that exists", so generated uploads and paths are rightly refused with a 4xx
#: (400, 415). Every other default check runs: no 5xx, documented statuses, conforming
#: bodies, content types and headers, invalid data rejected, auth enforced.
NOT_EXPRESSIBLE = [schemathesis.checks.positive_data_acceptance]


def test_api_conforms_to_its_document(empty_server: Server) -> None:
    """Every operation, with generated valid and invalid requests: no 5xx, every status
    documented, every body conforming to its schema (schemathesis's default checks)."""
    schema = schemathesis.openapi.from_dict(json.loads((REPO / "openapi.json").read_text()))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 11
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            case.call_and_validate(base_url=empty_server.url, headers=headers, timeout=30,
                                   excluded_checks=NOT_EXPRESSIBLE)  # fmt: skip

        check()
