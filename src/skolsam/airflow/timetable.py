"""``SchoolTermTimetable``: one DAG run per school term, a number of days after the term ends.

Grades are set a few days after a term ends, so the termly report runs ``delay_days`` (default 14) after
each term's last day, at ``run_hour`` UTC. Each run's data interval is the term itself, half-open as
Airflow intervals are: the term's first day 00:00 UTC up to the day after its last day 00:00 UTC, so
``term_for_date(data_interval_start.date())`` names the term. Run ids name the term
(``scheduled__VT2026__2026-06-26T06:00:00+00:00``); a manual run without a logical date has no data interval
and keeps Airflow's default id.

Scheduling rules:
- the DAG's ``start_date`` (``restriction.earliest``) and ``end_date`` bound the *run time* (the term end plus
  the delay), not the term's start: a DAG deployed in the middle of a term still reports that term;
- with ``catchup=False`` the scheduler starts from the most recent term whose run time has passed (it
  runs once, at once) and never goes back to older terms; with ``catchup=True`` every term from
  ``start_date`` on is run in order;
- no ``start_date`` and no earlier run: nothing is scheduled (Airflow's convention);
- when the calendar runs out nothing more is scheduled: extend ``data/term_calendar.csv`` (or the file
  named by the ``term_calendar`` setting) in time.

The calendar is stored in the serialized DAG, so the scheduler sees exactly the terms the DAG file saw.
The class is registered with Airflow by ``plugins/skolsam_plugin.py`` (required for serialization).
This module is light: imported when DAG files are parsed.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

from skolsam.terms import TermDates, load_calendar, parse_term, term_for_date

if TYPE_CHECKING:
    from airflow.timetables.base import TimeRestriction
    from airflow.utils.types import DagRunType
    from pendulum import DateTime

DEFAULT_RUN_HOUR = 6


def default_delay_days() -> int:
    """Days between a term's end and its report: the ``report_delay_days`` setting, read by the one settings
    path (environment, then the Airflow Variable: the scheduler sees what a task sees)."""
    from skolsam.settings import setting

    return setting("report_delay_days")


def _default_calendar() -> list[TermDates]:
    from skolsam.settings import setting

    return load_calendar(setting("term_calendar") or None)


def _midnight_utc(day: dt.date) -> DateTime:
    return pendulum.datetime(day.year, day.month, day.day, tz="UTC")


class TermRun(NamedTuple):
    term: TermDates
    run_after: DateTime
    data_interval: DataInterval

    @property
    def info(self) -> DagRunInfo:
        return DagRunInfo(run_after=self.run_after, data_interval=self.data_interval)


def term_interval(term: TermDates) -> DataInterval:
    """The data interval of a term: first day 00:00 UTC to the day after the last day 00:00 UTC."""
    return DataInterval(start=_midnight_utc(term.start), end=_midnight_utc(term.end + dt.timedelta(days=1)))


def term_name_for(data_interval_start: dt.datetime | dt.date, calendar: Sequence[TermDates] | None = None) -> str:
    """The term a data interval starts in (what the report task reports on)."""
    calendar = list(calendar) if calendar is not None else _default_calendar()
    if isinstance(data_interval_start, dt.datetime):
        if data_interval_start.tzinfo is not None:
            data_interval_start = data_interval_start.astimezone(dt.timezone.utc)
        day = data_interval_start.date()
    else:
        day = data_interval_start
    found = term_for_date(day, calendar)
    if found is None:
        # A hand-set interval may start on a holiday just before a term: take the next term that starts.
        later = [t for t in calendar if t.start >= day]
        if not later:
            raise ValueError(f"no term in the calendar at or after {day.isoformat()}")
        found = later[0]
    return found.name


class SchoolTermTimetable(Timetable):
    """One run per school term, ``delay_days`` after the term's end; data interval = the term."""

    def __init__(
        self,
        delay_days: int | None = None,
        calendar: str | Path | Sequence[TermDates] | None = None,
        run_hour: int = DEFAULT_RUN_HOUR,
    ) -> None:
        self.delay_days = default_delay_days() if delay_days is None else int(delay_days)
        self.run_hour = int(run_hour)
        if calendar is None:
            terms = _default_calendar()
        elif isinstance(calendar, (str, Path)):
            terms = load_calendar(calendar)
        else:
            terms = sorted(calendar, key=lambda t: t.term.order)
        self.calendar: list[TermDates] = terms
        self._runs = [self._run_for(t) for t in terms]

    # --- helpers -------------------------------------------------------------------------------------
    def _run_for(self, term: TermDates) -> TermRun:
        day = term.end + dt.timedelta(days=self.delay_days)
        run_after = pendulum.datetime(day.year, day.month, day.day, self.run_hour, tz="UTC")
        return TermRun(term, run_after, term_interval(term))

    def runs(self) -> list[TermRun]:
        """Every scheduled run the calendar gives, in term order."""
        return list(self._runs)

    def run_for_term(self, name: str) -> TermRun:
        wanted = parse_term(name).name
        for r in self._runs:
            if r.term.name == wanted:
                return r
        raise KeyError(f"{wanted} is not in the term calendar")

    def term_of_interval(self, data_interval: DataInterval | None) -> str | None:
        if data_interval is None:
            return None
        return term_name_for(data_interval.start, self.calendar)

    def _next_due(self, now: DateTime) -> TermRun | None:
        due = [r for r in self._runs if r.run_after <= now]
        return due[-1] if due else None

    # --- Timetable API ---------------------------------------------------------------------------------
    @property
    def summary(self) -> str:
        return f"school term end + {self.delay_days}d"

    @property
    def description(self) -> str:  # type: ignore[override]
        if not self._runs:
            return "School terms: the term calendar is empty"
        now = pendulum.now("UTC")
        upcoming = next((r for r in self._runs if r.run_after > now), None)
        first, last = self._runs[0].term.name, self._runs[-1].term.name
        text = (
            f"One run per school term ({first}–{last}), {self.delay_days} days after the term ends, "
            f"at {self.run_hour:02d}:00 UTC; data interval = the term"
        )
        if upcoming is not None:
            text += f"; next: {upcoming.term.name} on {upcoming.run_after.to_date_string()}"
        else:
            text += "; the calendar has no later term"
        return text

    def validate(self) -> None:
        from airflow.exceptions import AirflowTimetableInvalid

        if self.delay_days < 0:
            raise AirflowTimetableInvalid("delay_days must be 0 or more")
        if not 0 <= self.run_hour <= 23:
            raise AirflowTimetableInvalid("run_hour must be 0-23")
        if not self.calendar:
            raise AirflowTimetableInvalid("the term calendar is empty")
        for a, b in zip(self.calendar, self.calendar[1:]):
            if b.start <= a.end:
                raise AirflowTimetableInvalid(f"terms {a.name} and {b.name} overlap in the term calendar")

    def serialize(self) -> dict[str, Any]:
        return {
            "delay_days": self.delay_days,
            "run_hour": self.run_hour,
            "terms": [[t.name, t.start.isoformat(), t.end.isoformat()] for t in self.calendar],
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> "SchoolTermTimetable":
        terms = [
            TermDates(parse_term(name), dt.date.fromisoformat(start), dt.date.fromisoformat(end))
            for name, start, end in data["terms"]
        ]
        return cls(delay_days=data["delay_days"], calendar=terms, run_hour=data.get("run_hour", DEFAULT_RUN_HOUR))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SchoolTermTimetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.delay_days, self.run_hour, tuple((t.name, t.start, t.end) for t in self.calendar)))

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """A manual run reports on the latest term that has ended by ``run_after`` (the term in progress,
        or the first term, if none has)."""
        day = pendulum.instance(run_after).in_timezone("UTC").date() if isinstance(run_after, dt.datetime) else run_after
        ended = [t for t in self.calendar if t.end < day]
        if ended:
            return term_interval(ended[-1])
        current = term_for_date(day, self.calendar)
        if current is not None:
            return term_interval(current)
        if not self.calendar:
            raise ValueError("the term calendar is empty")
        return term_interval(self.calendar[0])

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        earliest = restriction.earliest
        if last_automated_data_interval is None and earliest is None:
            return None  # no start_date: don't schedule (Airflow's convention)
        if not restriction.catchup:
            # Start from the most recent run that is already due (it runs at once), never an older one.
            latest_due = self._next_due(pendulum.now("UTC"))
            if latest_due is not None:
                earliest = latest_due.run_after if earliest is None else max(earliest, latest_due.run_after)
        for r in self._runs:
            if last_automated_data_interval is not None and r.data_interval.start <= last_automated_data_interval.start:
                continue
            if earliest is not None and r.run_after < earliest:
                continue
            if restriction.latest is not None and r.run_after > restriction.latest:
                return None
            return r.info
        return None  # the calendar has no later term

    def generate_run_id(
        self,
        *,
        run_type: DagRunType,
        run_after: DateTime,
        data_interval: DataInterval | None,
        **extra: Any,
    ) -> str:
        if data_interval is None:
            # A manual run without a logical date has no term yet (its task reports the latest term in
            # the mart, or the one given in the run's conf): Airflow's default id.
            return run_type.generate_run_id(suffix=run_after.isoformat())
        return run_type.generate_run_id(suffix=f"{self.term_of_interval(data_interval)}__{run_after.isoformat()}")
