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
