"""The city split into school systems (DESIGN 3.1.1): the municipal one and independent operators.

``generate_dataset(..., sources=N)``: source 1 is the city's own system (id ``stockholm``), sources 2..N are
independent operators (``fristaende_1`` ...), each with its own SS 12000 endpoint, so each writes its own
``sources/<id>/ss12000/`` folder. What changes against the one-system city, drawn from generators of their
own (so grades, attendance and enrollments draw exactly what they would in one system):

* Operators. About ``Config.independent_unit_share`` of the school units (at least one per operator, at
  least one left to the city) belong to an operator: a ``Huvudman`` of its own is their parent (an independent
  school sits under no district administration). The rest stay under the city's districts.
* Movers. About ``Config.mover_share`` of the pupils move from a municipal to an independent school on the
  first day of a month inside one of the generated terms (never in the weeks the term's grades are
  registered): their enrolment in the city's system ends the day before, the one at the operator starts that
  day and runs to the end of the school year, and later school years the new school serves stay there.
* Ids. A pupil has a person record in every system he was enrolled in, with the same civic number and a
  different SS 12000 ``id`` (the city's system keeps the one-system id); syllabuses too have per-system ids.
  Grades and attendance are in the system of the school the pupil attended when they were registered (the
  unit at the term's end) or recorded (the unit on the first day of the attendance month).

``one_system=True`` writes the same city (operators, movers) as one school system in ``ss12000/``: the
control the multi-source proof compares against (tests/test_sources_proof.py).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from .city import City, Organisation, Pupil
from .config import Config
from .ids import name_uuid

MUNICIPAL = "stockholm"


def source_ids(n: int) -> list[str]:
    """The source ids of an n-system city: the city's own first, then the operators."""
    return [MUNICIPAL] + [f"fristaende_{i}" for i in range(1, n)]


@dataclass(frozen=True)
class Output:
    """One SS 12000 folder of the dataset: which school systems (operator numbers) it holds."""

    index: int  # 0: the first folder, which keeps the one-system ids
    source_id: str
    dir: str  # relative to the dataset folder: "ss12000" or "sources/<id>/ss12000"
    systems: frozenset[int]  # Organisation.system values whose units this folder serves

    def person_id(self, seed: int, pupil: Pupil) -> str:
        return pupil.id if self.index == 0 else name_uuid(seed, "person", self.source_id, pupil.id)

    def syllabus_id(self, seed: int, designation: str) -> str:
        if self.index == 0:
            return name_uuid(seed, "syllabus", designation)
        return name_uuid(seed, "syllabus", self.source_id, designation)


def outputs(n: int, one_system: bool) -> list[Output]:
    if n == 1 or one_system:
        return [Output(0, MUNICIPAL, "ss12000", frozenset(range(n)))]
    return [Output(i, sid, f"sources/{sid}/ss12000", frozenset({i})) for i, sid in enumerate(source_ids(n))]


def split_city(city: City, cfg: Config, n: int) -> None:
    """Give ``n - 1`` operators their school units and move some pupils to them (see the module docstring)."""
    if n < 2:
        return
    if n > len(city.units):
        raise ValueError(f"{n} school systems need at least {n} school units; this city has {len(city.units)}")
    rng = random.Random(f"skolsam:{city.seed}:systems")
    k = min(len(city.units) - 1, max(n - 1, round(len(city.units) * cfg.independent_unit_share)))
    chosen = rng.sample(range(len(city.units)), k)
    for j, i in enumerate(chosen):
        city.units[i].system = 1 + j % (n - 1)
    created = dt.date(2010, 7, 1)
    city.operators = [
        Organisation(name_uuid(city.seed, "org", "operator", sid), f"Fristående huvudman {i}", "Huvudman",
                     None, created, system=i)
        for i, sid in enumerate(source_ids(n)[1:], 1)
    ]
    for u in city.units:
        if u.system:
            u.parent = city.operators[u.system - 1].id
    _movers(random.Random(f"skolsam:{city.seed}:movers"), cfg, city)


def _movers(rng: random.Random, cfg: Config, city: City) -> None:
    independent = [u for u in city.units if u.system]
    n_movers = round(len(city.pupils) * cfg.mover_share)
    if not independent or n_movers < 1:
        return
    order = list(range(len(city.pupils)))
    rng.shuffle(order)
    moved = 0
    for i in order:
        if moved >= n_movers:
            break
        p = city.pupils[i]
        options = []
        for t in city.terms:
            y = p.school_year(t)
            if y is None or p.units[y].system or y in p.moves:
                continue
            targets = [u for u in independent if y in u.years]
            for day in _month_starts(t.dates.start, t.dates.end):
                options.append((y, day, targets))
        options = [o for o in options if o[2]]
        if not options:
            continue
        y, day, targets = options[rng.randrange(len(options))]
        new = rng.choices(targets, weights=[u.weight for u in targets])[0]
        p.moves[y] = (day, new)
        for later in sorted(p.units):
            if later > y and later in new.years:
                p.units[later] = new
        moved += 1
    city.movers = moved


def _month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of months after the term's first month and a month or more before its end."""
    out = []
    day = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    while day + dt.timedelta(days=30) <= end:
        out.append(day)
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return out
