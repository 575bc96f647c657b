import pytest

from skolsam.warehouse import connection
from skolsam.warehouse.grants import apply_grants

pytestmark = pytest.mark.postgres


def test_roles_see_only_what_they_may(warehouse_url):
    assert apply_grants(warehouse_url) == ["020_privileges.sql"]
    apply_grants(warehouse_url)  # idempotent
    with connection.connect(warehouse_url) as conn:
        def can(role, table, priv="SELECT"):
            return conn.execute("SELECT has_table_privilege(%s, %s, %s)", (role, table, priv)).fetchone()[0]

        assert can("skolsam_reader", "mart.group_term")
        assert not can("skolsam_reader", "mart.participant_term")
        assert not can("skolsam_reader", "staging.ss12000_person")
        assert can("skolsam_analyst", "mart.participant_term")
        assert not can("skolsam_analyst", "staging.enrollment")
        assert can("skolsam_loader", "staging.ss12000_grade", "INSERT")
        assert can("skolsam_loader", "mart_candidate.group_term", "DELETE")
        # the effect and reach marts: analysts read them; the reader role sees neither, nor their inputs
        for table in ("mart.programme_effect", "mart.target_group"):
            assert can("skolsam_analyst", table) and not can("skolsam_reader", table)
        assert not can("skolsam_reader", "core.pupil_term_measure")
        assert can("skolsam_loader", "mart_candidate.programme_effect", "INSERT")
