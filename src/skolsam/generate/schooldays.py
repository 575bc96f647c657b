"""School days inside a term, the month windows attendance is aggregated over, and Stockholm time.

Term dates come from the city's calendar (skolsam.terms). Inside a term the generator leaves out
weekends, the public holidays that fall in term time, and the usual breaks: höstlov (ISO week 44),
sportlov (ISO week 9, Stockholm's) and påsklov (the week after Easter Sunday), plus the day after
Ascension Day. The result is close to the 178+ school days a year the school law asks for.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from ..terms import TermDates

ONE_DAY = dt.timedelta(days=1)


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (the anonymous algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _iso_week(year: int, week: int) -> list[dt.date]:
    monday = dt.date.fromisocalendar(year, week, 1)
    return [monday + dt.timedelta(days=i) for i in range(5)]


@lru_cache(maxsize=64)
def days_off(year: int) -> frozenset[dt.date]:
    """Weekdays without school in a calendar year (holidays and breaks that can fall in term time)."""
    easter = easter_sunday(year)
    off = {
        dt.date(year, 1, 6),  # trettondedag jul
        easter - dt.timedelta(days=2),  # långfredag
        dt.date(year, 5, 1),
        easter + dt.timedelta(days=39),  # Kristi himmelsfärd
        easter + dt.timedelta(days=40),  # klämdag
        dt.date(year, 6, 6),
    }
    off.update(_iso_week(year, 9))  # sportlov
    off.update(easter + dt.timedelta(days=1 + i) for i in range(5))  # påsklov incl. annandag påsk
    off.update(_iso_week(year, 44))  # höstlov
    return frozenset(off)


def school_days(start: dt.date, end: dt.date) -> int:
    """School days from start to end, both included."""
    n = 0
    cache: dict[int, frozenset[dt.date]] = {}
    day = start
    while day <= end:
        if day.weekday() < 5:
            off = cache.get(day.year)
            if off is None:
                off = cache[day.year] = days_off(day.year)
            if day not in off:
                n += 1
        day += ONE_DAY
    return n


def month_windows(term: TermDates) -> list[tuple[dt.date, dt.date]]:
    """Calendar months of a term, clipped to the term's first and last day."""
    out = []
    cur = term.start
    while cur <= term.end:
        nxt = dt.date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
        out.append((cur, min(term.end, nxt - ONE_DAY)))
        cur = nxt
    return out


def _last_sunday(year: int, month: int) -> dt.date:
    day = dt.date(year + (month == 12), month % 12 + 1, 1) - ONE_DAY
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)


@lru_cache(maxsize=4096)
def stockholm_offset(day: dt.date) -> str:
    """UTC offset of Stockholm local time on a day (for times after 03:00): +02:00 in summer time."""
    if _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10):
        return "+02:00"
    return "+01:00"


def rfc3339(day: dt.date, minute_of_day: int) -> str:
    """Local Stockholm date-time, e.g. ``2025-08-18T06:00:00+02:00``; minute_of_day from 180 to 1439."""
    h, m = divmod(minute_of_day, 60)
    return f"{_day_prefix(day)}{h:02d}:{m:02d}:00{stockholm_offset(day)}"


@lru_cache(maxsize=4096)
def _day_prefix(day: dt.date) -> str:
    return f"{day.isoformat()}T"
