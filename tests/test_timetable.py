"""SchoolTermTimetable on its own: the run sequence, catchup, manual runs, run ids, serialization."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.utils.types import DagRunType

from skolsam.airflow.timetable import SchoolTermTimetable, term_name_for
from skolsam.terms import TermDates, load_calendar, parse_term

UTC = "UTC"


def _cal(*rows: tuple[str, str, str]) -> list[TermDates]:
    return [TermDates(parse_term(n), dt.date.fromisoformat(s), dt.date.fromisoformat(e)) for n, s, e in rows]


CALENDAR = _cal(
    ("HT2025", "2025-08-18", "2025-12-19"),
    ("VT2026", "2026-01-08", "2026-06-12"),
    ("HT2026", "2026-08-17", "2026-12-18"),
    ("VT2027", "2027-01-08", "2027-06-11"),
)


def at(*args) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz=UTC)


@pytest.fixture
def tt() -> SchoolTermTimetable:
    return SchoolTermTimetable(delay_days=14, calendar=CALENDAR)


@pytest.fixture
def frozen_now(monkeypatch):
    def freeze(moment: pendulum.DateTime) -> None:
        monkeypatch.setattr(pendulum, "now", lambda tz=None: moment)

    return freeze


def _sequence(tt, restriction, n=10):
    out, last = [], None
    for _ in range(n):
        info = tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            break
        out.append(info)
        last = info.data_interval
    return out


def test_one_run_per_term_after_the_delay(tt):
    runs = _sequence(tt, TimeRestriction(earliest=at(2025, 1, 1), latest=None, catchup=True))
    assert [term_name_for(r.data_interval.start, CALENDAR) for r in runs] == ["HT2025", "VT2026", "HT2026", "VT2027"]
    ht, vt = runs[0], runs[1]
    assert ht.run_after == at(2026, 1, 2, 6)  # 2025-12-19 + 14 days, 06:00 UTC
    assert ht.data_interval == DataInterval(at(2025, 8, 18), at(2025, 12, 20))  # the term, end exclusive
    assert vt.run_after == at(2026, 6, 26, 6)
    assert vt.data_interval == DataInterval(at(2026, 1, 8), at(2026, 6, 13))
    assert all(r.run_after >= r.data_interval.end for r in runs)  # grades are set after the term
    assert all(r.logical_date == r.data_interval.start for r in runs)


def test_start_date_bounds_the_run_time_and_end_date_stops(tt):
    # A DAG deployed in the middle of VT2026 still reports VT2026.
    runs = _sequence(tt, TimeRestriction(earliest=at(2026, 3, 1), latest=None, catchup=True))
    assert runs[0].data_interval.start == at(2026, 1, 8)
    runs = _sequence(tt, TimeRestriction(earliest=at(2025, 1, 1), latest=at(2026, 7, 1), catchup=True))
    assert len(runs) == 2
    # No start date and no earlier run: nothing is scheduled.
    assert tt.next_dagrun_info(last_automated_data_interval=None,
                               restriction=TimeRestriction(earliest=None, latest=None, catchup=True)) is None


def test_calendar_exhausted(tt):
    last = DataInterval(at(2027, 1, 8), at(2027, 6, 12))
    assert tt.next_dagrun_info(last_automated_data_interval=last,
                               restriction=TimeRestriction(earliest=at(2025, 1, 1), latest=None, catchup=True)) is None


def test_catchup_false_runs_the_latest_due_term_only(tt, frozen_now):
    frozen_now(at(2026, 11, 23, 10))  # VT2026's report was due in June; HT2026 ends in December
    no_catchup = TimeRestriction(earliest=at(2025, 1, 1), latest=None, catchup=False)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=no_catchup)
    assert first.data_interval.start == at(2026, 1, 8)  # VT2026 at once, not HT2025
    following = tt.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=no_catchup)
    assert following.data_interval.start == at(2026, 8, 17) and following.run_after == at(2027, 1, 1, 6)
    # The scheduler was down over two report dates: the older term is skipped.
    frozen_now(at(2027, 7, 1))
    last = DataInterval(at(2026, 1, 8), at(2026, 6, 13))
    nxt = tt.next_dagrun_info(last_automated_data_interval=last, restriction=no_catchup)
    assert term_name_for(nxt.data_interval.start, CALENDAR) == "VT2027"
    # With catchup both are run, in order.
    nxt = tt.next_dagrun_info(last_automated_data_interval=last,
                              restriction=TimeRestriction(earliest=at(2025, 1, 1), latest=None, catchup=True))
    assert term_name_for(nxt.data_interval.start, CALENDAR) == "HT2026"


def test_catchup_false_before_any_report_is_due(tt, frozen_now):
    frozen_now(at(2025, 9, 1))
    info = tt.next_dagrun_info(last_automated_data_interval=None,
                               restriction=TimeRestriction(earliest=at(2025, 1, 1), latest=None, catchup=False))
    assert info.data_interval.start == at(2025, 8, 18) and info.run_after == at(2026, 1, 2, 6)


def test_manual_runs_take_the_latest_ended_term(tt):
    assert tt.infer_manual_data_interval(run_after=at(2026, 11, 23, 10)) == DataInterval(at(2026, 1, 8), at(2026, 6, 13))
    assert tt.infer_manual_data_interval(run_after=at(2026, 6, 13, 0, 30)).start == at(2026, 1, 8)  # day after end
    assert tt.infer_manual_data_interval(run_after=at(2026, 6, 12, 12)).start == at(2025, 8, 18)  # last day: not ended
    assert tt.infer_manual_data_interval(run_after=at(2025, 9, 1)).start == at(2025, 8, 18)  # none ended: current


def test_run_ids_name_the_term(tt):
    info = tt.run_for_term("VT2026").info
    run_id = tt.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=info.run_after,
                                data_interval=info.data_interval)
    assert run_id == "scheduled__VT2026__2026-06-26T06:00:00+00:00"
    manual = tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=at(2026, 11, 23, 10),
                                data_interval=tt.infer_manual_data_interval(run_after=at(2026, 11, 23, 10)))
    assert manual.startswith("manual__VT2026__")
    assert tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=at(2026, 11, 23, 10),
                              data_interval=None) == "manual__2026-11-23T10:00:00+00:00"
    assert "14" in tt.summary
    assert "HT2025" in tt.description and "VT2027" in tt.description


def test_term_of_a_data_interval_start():
    # Whatever timezone the start arrives in, it names the term (Stockholm midnight is 23:00 UTC the day before).
    assert term_name_for(pendulum.datetime(2026, 1, 8, tz="Europe/Stockholm"), CALENDAR) == "VT2026"
    assert term_name_for(at(2026, 1, 8), CALENDAR) == "VT2026"
    assert term_name_for(dt.date(2025, 12, 30), CALENDAR) == "VT2026"  # a holiday: the next term


def test_serialization_round_trip(tt):
    data = tt.serialize()
    import json

    again = SchoolTermTimetable.deserialize(json.loads(json.dumps(data)))
    assert again == tt and again.serialize() == data
    restriction = TimeRestriction(earliest=at(2025, 1, 1), latest=None, catchup=True)
    assert _sequence(again, restriction) == _sequence(tt, restriction)


def test_default_calendar_and_delay_from_the_environment(monkeypatch):
    monkeypatch.setenv("SKOLSAM_REPORT_DELAY_DAYS", "21")
    t = SchoolTermTimetable()
    assert t.delay_days == 21
    assert [x.name for x in t.calendar] == [x.name for x in load_calendar()]
    t.validate()


def test_validate_rejects_bad_settings():
    from airflow.exceptions import AirflowTimetableInvalid

    with pytest.raises(AirflowTimetableInvalid):
        SchoolTermTimetable(delay_days=-1, calendar=CALENDAR).validate()
    with pytest.raises(AirflowTimetableInvalid):
        SchoolTermTimetable(calendar=_cal(("HT2025", "2025-08-18", "2026-02-01"),
                                          ("VT2026", "2026-01-08", "2026-06-12"))).validate()


PROBE = r"""
import json, sys
from airflow import plugins_manager
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags["skolsam_termly_report"]
back = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
print(json.dumps({"registered": sorted(plugins_manager.get_timetables_plugins()),
                  "errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "type": type(back.timetable).__name__,
                  "same": back.timetable.serialize() == dag.timetable.serialize()}))
"""


def test_plugin_registers_the_timetable_and_the_dag_serializes(tmp_path):
    """Through Airflow itself: the plugins folder registers the class, the DAG serializes and comes back."""
    import json
    import os
    import subprocess
    import sys

    from airflow_env import DAGS, airflow_env

    env = {**os.environ, **airflow_env(tmp_path)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(DAGS / "skolsam_termly_report.py")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["registered"] == ["skolsam.airflow.timetable.SchoolTermTimetable"]
    assert result["errors"] == {}
    assert result["type"] == "SchoolTermTimetable" and result["same"]
