"""Critical staging checks also fail on an empty or sharply shrunken table (issue 10.2): row-count floors
from the last passed staging gate, stored per table in audit.staging_row_count."""

from __future__ import annotations

import pytest

from skolsam.quality.gate import ROW_COUNT_CHECK, QualityGateFailed, staging_gate
from skolsam.settings import Settings
from skolsam.warehouse.connection import connect
from test_quality_gate import AS_OF, QualityData

pytestmark = pytest.mark.postgres


@pytest.fixture
def data(warehouse_url, pseudonymiser) -> QualityData:
    return QualityData(warehouse_url, pseudonymiser).load()


def _floors(url: str) -> dict[str, int]:
    with connect(url) as conn:
        return dict(conn.execute("SELECT table_name, row_count FROM audit.staging_row_count").fetchall())


def _failed_floors(exc: QualityGateFailed) -> list[str]:
    return [line.strip() for line in str(exc).splitlines() if ROW_COUNT_CHECK in line]


def test_an_empty_education_table_fails_the_gate_even_on_the_first_run(data):
    data.execute("DELETE FROM staging.ss12000_attendance")
    with pytest.raises(QualityGateFailed) as caught:
        staging_gate(data.url, as_of=AS_OF)
    assert [line.split(" ")[0] for line in _failed_floors(caught.value)] == ["staging_ss12000_attendance"]
    assert "0 rows" in str(caught.value)


def test_a_sharply_shrunken_table_fails_against_the_last_passed_gate(data):
    result = staging_gate(data.url, as_of=AS_OF)
    assert result.passed
    floors = _floors(data.url)
    assert floors["staging.ss12000_grade"] == 36 and floors["staging.ss12000_attendance"] == 12

    data.execute("DELETE FROM staging.ss12000_grade WHERE ctid IN "
                 "(SELECT ctid FROM staging.ss12000_grade LIMIT 20)")      # 16 of 36 left: under half
    with pytest.raises(QualityGateFailed) as caught:
        staging_gate(data.url, as_of=AS_OF)
    failed = _failed_floors(caught.value)
    assert len(failed) == 1 and failed[0].startswith("staging_ss12000_grade")
    assert "16 rows; 36 at the last passed gate, floor 18" in failed[0]
    assert _floors(data.url)["staging.ss12000_grade"] == 36        # a failed gate does not lower the floor

    # a smaller shrink passes, and the share is a setting
    passed = staging_gate(data.url, as_of=AS_OF, settings=Settings(staging_shrink_floor=0.4))
    assert passed.passed and _floors(data.url)["staging.ss12000_grade"] == 16


def test_data_docs_go_to_a_shared_fsspec_location(data):
    """Data Docs written by a worker go to the configured location (here an fsspec memory:// URL standing in
    for s3:// or sftp://), and a second run keeps the first run's pages there."""
    import uuid

    from fsspec.core import url_to_fs

    from skolsam.quality.gate import run_gate

    location = f"memory://skolsam-docs-{uuid.uuid4().hex[:8]}/site"
    settings = Settings(data_docs_location=location)
    first = run_gate(data.url, "staging_ss12000_grade", as_of=AS_OF, settings=settings)
    assert first.data_docs == f"{location}/index.html"
    run_gate(data.url, ["mart_group_term"], schema_overrides={"mart": "mart_candidate"}, as_of=AS_OF,
             settings=settings)
    fs, root = url_to_fs(location)
    files = [f[len(root.rstrip("/")) + 1:].lstrip("/") if f.startswith(root) else f for f in fs.find(root)]
    pages = sorted({f.split("/")[1] for f in files if f.startswith("validations/") and f.endswith(".html")})
    assert pages == ["mart_group_term", "staging_ss12000_grade"]
    assert "skolsam-overview" in fs.cat_file(f"{root}/index.html").decode("utf-8")
    from skolsam.settings import project_home

    assert not (project_home() / "data_docs").exists()     # nothing written to the worker's own disk
