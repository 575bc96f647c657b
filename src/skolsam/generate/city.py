"""The synthetic city held in memory: districts, school units, pupils and programme enrollments.

Only what is small lives here (about 100,000 pupils, förskoleklass to year 9, at city scale); grades and attendance are drawn
from each pupil's latent traits while they are written, and never held in memory.

Pupil model. Each pupil has a latent risk ``r`` ~ N(0, 1) plus independent ability, absence and
invalid-absence traits. Programme participants are drawn with weight exp(1.3·r), so they are the pupils
at risk: lower grades and higher absence than their schoolmates. On top of that a participant carries a
penalty until the programme starts to work: for "improvers" (about 55 %) the risk and the penalty fall
with the time since the enrollment start (full effect after ~5 months), so terms after the start show
better grades and attendance; the others stay where they were or drift slightly down.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from ..terms import TermDates
from . import catalogue as cat
from .config import Config
from .ids import civic_number, name_uuid, random_uuid
from .schooldays import month_windows, school_days

PROGRAMMES = ("PPSS", "SkolFam", "KP/KF")
# Grundskola: förskoleklass (0) to year 9. School units serve all of it (F-9), F-6, or 7-9.
SCHOOL_YEARS = tuple(range(10))
F_9 = SCHOOL_YEARS
F_6 = SCHOOL_YEARS[:7]
GRADE_STEPS = ("A", "B", "C", "D", "E", "F")
# Score thresholds for A..E (below the last: F). General population: about A 12 %, B 10 %, C 25 %,
# D 20 %, E 24 %, F 9 % before subject offsets.
THRESHOLDS = (1.3, 0.85, 0.1, -0.45, -1.45)
# Absence varies over the year: autumn colds, the February flu, the last weeks before summer.
# The spread of a grade's score around the pupil's ability: the grade's own noise (0.55) and the term's
# (0.45 * 0.3, see Pupil.term_state), for the expected share passed (effect-mode calibration).
_GRADE_SIGMA = math.hypot(0.55, 0.45 * 0.3)
# Effect mode: the term before a participant's start is this bad (term noise, in sd of a normal term) or worse.
BAD_TERM_NOISE = 1.0
MONTH_ABSENCE = {1: 1.05, 2: 1.25, 3: 1.1, 4: 0.95, 5: 0.95, 6: 1.1, 7: 1.0,
                 8: 0.7, 9: 0.85, 10: 1.0, 11: 1.1, 12: 1.2}


@dataclass
class Organisation:
    id: str
    name: str
    kind: str  # Huvudman | Förvaltning | Skolenhet
    parent: str | None
    created: dt.date
    code: str = ""  # schoolUnitCode for school units
    district: str = ""
    years: tuple[int, ...] = ()
    weight: float = 1.0
    system: int = 0  # 0: the city's own school system; i: independent operator i (skolsam.generate.systems)


@dataclass
class TermInfo:
    dates: TermDates
    index: int
    school_year_start: int  # the autumn year of the school year the term belongs to
    mid: dt.date
    windows: list[tuple[dt.date, dt.date]]
    offered: list[dict[str, int]]  # per window: subject -> offered minutes per activity

    @property
    def semester(self) -> str:
        return self.dates.term.semester

    @property
    def year(self) -> int:
        return self.dates.term.year


@dataclass
class Pupil:
    id: str
    civic: str
    given: str
    family: str
    birth: dt.date
    sex: str
    marking: str
    created: dt.date
    subjects: tuple[str, ...]
    district: str
    units: dict[int, Organisation]  # school year -> school unit
    school_years: dict[int, int]  # school-year start (autumn year) -> school year 0 (förskoleklass)..9
    r: float
    z_ability: float
    z_absence: float
    z_invalid: float
    term_noise: list[float]
    participant: bool = False
    improver: bool = False
    start: dt.date | None = None  # earliest programme start
    boost: float | None = None  # effect mode: ability shift while enrolled (None: the ordinary city)
    # school year -> (first day at the new school, the new school): a mid-year move (skolsam.generate.systems)
    moves: dict[int, tuple[dt.date, Organisation]] = field(default_factory=dict)

    def school_year(self, term: TermInfo) -> int | None:
        return self.school_years.get(term.school_year_start)

    def unit_in(self, term: TermInfo) -> Organisation | None:
        y = self.school_year(term)
        return self.units[y] if y is not None else None

    def unit_on(self, y: int, day: dt.date) -> Organisation:
        """The school unit of school year ``y`` on ``day`` (after a mid-year move: the new one)."""
        move = self.moves.get(y)
        return move[1] if move is not None and day >= move[0] else self.units[y]

    def term_state(self, term: TermInfo) -> tuple[float, float, float]:
        """(ability score, absence rate, invalid share of absence) for a term."""
        r = self.r + 0.3 * self.term_noise[term.index]
        abs_shift = 0.0
        ability_shift = 0.0
        inv_shift = 0.0
        if self.boost is not None:  # effect mode: the planted effect only, while enrolled
            if self.start is not None and self.start <= term.mid:
                ability_shift = self.boost
        elif self.participant and self.start is not None:
            progress = min(1.0, max(0.0, (term.mid - self.start).days / 150.0))
            inv_shift = 0.4
            if self.improver:
                r -= 1.0 * progress
                abs_shift = 0.8 * (1.0 - 0.7 * progress)
                ability_shift = -0.3 * (1.0 - progress)
            else:
                r += 0.1 * progress
                abs_shift = 0.8
                ability_shift = -0.3
        ability = -0.45 * r + 0.85 * self.z_ability + ability_shift
        absence = _sigmoid(-2.95 + 0.6 * r + 0.6 * self.z_absence + abs_shift)
        invalid = _sigmoid(-1.4 + 0.5 * r + 0.5 * self.z_invalid + inv_shift)
        return ability, absence, invalid


@dataclass
class Enrollment:
    civic: str  # 12 digits
    given: str
    family: str
    programme: str  # PPSS | SkolFam | KP/KF
    district: str  # today's district, or a name that is no district (dirt)
    unit_code: str  # may be ""
    start: dt.date
    end: dt.date | None
    pupil: Pupil | None  # None: a pupil outside the city's schools
    consent_no: bool = False


@dataclass
class City:
    seed: int
    calendar: list[TermDates]  # the whole term calendar (enrolment dates of a school year)
    terms: list[TermInfo]  # the generated terms, in order
    head: Organisation
    districts: list[Organisation]
    units: list[Organisation]
    pupils: list[Pupil]
    enrollments: list[Enrollment]
    erasures: list[str] = field(default_factory=list)  # 12-digit numbers in the erasure request
    operators: list[Organisation] = field(default_factory=list)  # Huvudmän of the independent systems
    movers: int = 0  # pupils who moved to an independent school mid-year
    used_civic: set[str] = field(default_factory=set)
    used_codes: set[str] = field(default_factory=set)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def term_infos(calendar: list[TermDates]) -> list[TermInfo]:
    out = []
    for i, t in enumerate(calendar):
        windows = [w for w in month_windows(t) if school_days(*w) > 0]
        offered = []
        for ws, we in windows:
            days = school_days(ws, we)
            offered.append({s.designation: round(s.weekly_minutes * days / 5) for s in cat.SUBJECTS})
        sy = t.term.year if t.term.semester == "HT" else t.term.year - 1
        mid = t.start + (t.end - t.start) / 2
        out.append(TermInfo(t, i, sy, mid, windows, offered))
    return out


def build_city(cfg: Config, seed: int, pupils: int, terms_dates: list[TermDates], calendar: list[TermDates]) -> City:
    terms = term_infos(terms_dates)
    rng_org = random.Random(f"skolsam:{seed}:organisations")
    head, districts, units, used_codes = _organisations(rng_org, cfg, seed, pupils)
    city = City(seed, calendar, terms, head, districts, units, [], [], used_codes=used_codes)
    rng_pupils = random.Random(f"skolsam:{seed}:pupils")
    city.pupils = _pupils(rng_pupils, cfg, seed, pupils, city)
    rng_enr = random.Random(f"skolsam:{seed}:enrollments")
    _enrollments(rng_enr, cfg, pupils, city)
    return city


# ---------------------------------------------------------------------------------------------------
# organisations


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def _organisations(rng: random.Random, cfg: Config, seed: int, pupils: int):
    created = dt.date(2023, 7, 1)
    head = Organisation(name_uuid(seed, "org", "huvudman"), "Stockholms stad", "Huvudman", None, created)
    n_units = max(cfg.min_school_units, round(pupils * cfg.units_per_1000 / 1000))
    weights = [w for _, w, _, _ in cat.DISTRICTS]
    if n_units >= len(cat.DISTRICTS):
        per = [1 + n for n in _largest_remainder(n_units - len(cat.DISTRICTS), weights)]
    else:  # a tiny city: the largest districts get one unit each
        order = sorted(range(len(weights)), key=lambda i: (-weights[i], i))[:n_units]
        per = [1 if i in order else 0 for i in range(len(weights))]
    districts: list[Organisation] = []
    units: list[Organisation] = []
    used_codes: set[str] = set()
    for (dname, _, slug, _), count in zip(cat.DISTRICTS, per):
        if count == 0:
            continue
        dorg = Organisation(name_uuid(seed, "org", "district", slug), dname, "Förvaltning", head.id, created)
        districts.append(dorg)
        names = list(cat.SCHOOL_NAMES[dname])
        rng.shuffle(names)
        for k in range(count):
            base = names[k % len(names)]
            name = base if k < len(names) else f"{base} {k // len(names) + 1}"
            if k == 0 or count < 3:
                years: tuple[int, ...] = F_9
            else:
                years = rng.choices([F_9, F_6, (7, 8, 9)], weights=[55, 20, 25])[0]
            while True:
                code = str(rng.randrange(10_000_000, 100_000_000))
                if code not in used_codes:
                    used_codes.add(code)
                    break
            ucreated = dt.date(rng.randrange(2005, 2023), rng.randrange(1, 13), 1)
            weight = (0.6 + 0.8 * rng.random()) * (1.5 if years != F_9 else 1.0)
            units.append(
                Organisation(
                    name_uuid(seed, "org", "unit", code), name, "Skolenhet", dorg.id, ucreated,
                    code=code, district=dname, years=years, weight=weight,
                )
            )
    return head, districts, units, used_codes


# ---------------------------------------------------------------------------------------------------
# pupils


def _pick_names(rng: random.Random, origin: str, sex: str) -> tuple[str, str]:
    male, female, family = cat.NAMES[origin]
    is_male = sex == "Man" or (sex == "Okänt" and rng.random() < 0.5)
    given = rng.choice(male if is_male else female)
    fam = rng.choice(family)
    if origin == "MLRUS" and not is_male:
        fam += "a"
    return given, fam


def _weighted(rng: random.Random, pairs) -> str:
    return rng.choices([k for k, _ in pairs], weights=[w for _, w in pairs])[0]


def _pupils(rng: random.Random, cfg: Config, seed: int, n: int, city: City) -> list[Pupil]:
    school_year_starts = sorted({t.school_year_start for t in city.terms})
    first = school_year_starts[0]
    # Cohorts (birth years): the ten in förskoleklass to year 9 in the first school year share n pupils;
    # every later school year brings one new förskoleklass cohort of n/10 (year 9 leaves).
    k = len(SCHOOL_YEARS)
    cohorts: list[tuple[int, int]] = [(first - 6 - SCHOOL_YEARS[-1] + i, n // k + (1 if i < n % k else 0))
                                      for i in range(k)]
    for s in school_year_starts[1:]:
        if all(b != s - 6 for b, _ in cohorts):
            cohorts.append((s - 6, n // k))
    units_by_district: dict[str, list[Organisation]] = {}
    for u in city.units:
        units_by_district.setdefault(u.district, []).append(u)
    district_names = [d.name for d in city.districts]
    district_weights = [sum(u.weight for u in units_by_district[d]) for d in district_names]
    ml_codes = [k for k, _ in cat.ML_WEIGHTS]
    ml_weights = [w for _, w in cat.ML_WEIGHTS]
    out: list[Pupil] = []
    n_terms = len(city.terms)
    for birth_year, count in cohorts:
        year_days = (dt.date(birth_year + 1, 1, 1) - dt.date(birth_year, 1, 1)).days
        for _ in range(count):
            u = rng.random()
            if u < cfg.unknown_sex_share:
                sex = "Okänt"
                male = rng.random() < 0.5
            else:
                male = rng.random() < 0.51
                sex = "Man" if male else "Kvinna"
            birth = dt.date(birth_year, 1, 1) + dt.timedelta(days=rng.randrange(year_days))
            coordination = rng.random() < cfg.coordination_share
            civic = civic_number(rng, birth, male, coordination, city.used_civic)
            ml = rng.choices(ml_codes, weights=ml_weights)[0] if rng.random() < cfg.ml_share else None
            if ml and rng.random() < 0.85:
                origin = ml
            elif rng.random() < 0.82:
                origin = "sv"
            else:
                origin = rng.choices(ml_codes, weights=ml_weights)[0]
            given, family = _pick_names(rng, origin, sex)
            sva_p = cfg.sva_share_ml if ml else cfg.sva_share_other
            if rng.random() < cfg.sv_and_sva_share:
                sv = ("SV", "SVA")
            else:
                sv = ("SVA",) if rng.random() < sva_p else ("SV",)
            m2 = _weighted(rng, cat.M2_WEIGHTS) if rng.random() < cfg.m2_share else None
            subjects = sv + cat.COMMON + ((m2,) if m2 else ()) + ((ml,) if ml else ())
            marking = "Ingen"
            if rng.random() < cfg.protected_share:
                marking = "Skyddad folkbokföring" if rng.random() < 0.6 else "Sekretessmarkering"
            district = rng.choices(district_names, weights=district_weights)[0]
            school_years: dict[int, int] = {}
            for s in school_year_starts:
                y = s - birth_year - 6
                if SCHOOL_YEARS[0] <= y <= SCHOOL_YEARS[-1]:
                    school_years[s] = y
            units = _school_path(rng, sorted(school_years.values()), units_by_district[district])
            created = dt.date(birth_year + 6, 8, 1) + dt.timedelta(days=rng.randrange(0, 30))
            out.append(
                Pupil(
                    id=random_uuid(rng), civic=civic, given=given, family=family, birth=birth, sex=sex,
                    marking=marking, created=created, subjects=subjects, district=district, units=units,
                    school_years=school_years, r=rng.gauss(0.0, 1.0), z_ability=rng.gauss(0.0, 1.0),
                    z_absence=rng.gauss(0.0, 1.0), z_invalid=rng.gauss(0.0, 1.0),
                    term_noise=[rng.gauss(0.0, 1.0) for _ in range(n_terms)],
                )
            )
    rng.shuffle(out)
    return out


def _school_path(rng: random.Random, years: list[int], units: list[Organisation]) -> dict[int, Organisation]:
    """The school unit for each of a pupil's school years: F-6 pupils move to a 7-9 school in year 7."""
    with6 = [u for u in units if 6 in u.years]
    with79 = [u for u in units if 7 in u.years]
    out: dict[int, Organisation] = {}
    current: Organisation | None = None
    for y in years:
        pool = with6 if y <= 6 else with79
        if current is None or y not in current.years or (y == 7 and rng.random() < 0.2):
            current = rng.choices(pool, weights=[u.weight for u in pool])[0]
        out[y] = current
    return out


# ---------------------------------------------------------------------------------------------------
# enrollments


def _draw_period(rng: random.Random, programme: str, t0: dt.date, t_end: dt.date) -> tuple[dt.date, dt.date | None]:
    span = max(1, (t_end - t0).days - 40)
    if rng.random() < 0.25:
        start = t0 - dt.timedelta(days=rng.randrange(14, 330))
    else:
        start = t0 + dt.timedelta(days=rng.randrange(0, span))
    p_end, lo, hi = {"PPSS": (0.35, 120, 400), "SkolFam": (0.10, 200, 700), "KP/KF": (0.50, 60, 200)}[programme]
    end = None
    if rng.random() < p_end:
        end = start + dt.timedelta(days=rng.randrange(lo, hi))
        floor = max(start, t0) + dt.timedelta(days=21)
        if end < floor:
            end = floor + dt.timedelta(days=rng.randrange(0, 60))
    return start, end


def _choose_participants(rng: random.Random, cfg: Config, city: City, n_part: int) -> dict[int, str]:
    """Pupil index -> programme: n_part pupils split over the programmes by their shares, each programme
    drawing from the school years it serves (in the first term), weighted towards the pupils at risk.

    Weighted sampling without replacement (Efraimidis-Spirakis): key = log(u) / w, the largest keys win."""
    names = [p for p, _ in cfg.programme_shares]
    counts = _largest_remainder(n_part, [w for _, w in cfg.programme_shares])
    years_of = {prog: (lo, hi) for prog, lo, hi in cfg.programme_years}
    first = city.terms[0]
    chosen: dict[int, str] = {}
    for prog, count in zip(names, counts):
        lo, hi = years_of[prog]
        keyed = []
        for i, p in enumerate(city.pupils):
            y = p.school_year(first)
            if i in chosen or y is None or not lo <= y <= hi:
                continue
            u = rng.random() or 1e-300
            keyed.append((math.log(u) / math.exp(1.3 * p.r), i))
        keyed.sort(key=lambda kv: (-kv[0], kv[1]))
        for _, i in keyed[:count]:
            chosen[i] = prog
    return chosen


def _effect_enrollments(rng: random.Random, cfg: Config, city: City, chosen: dict[int, str]) -> None:
    """Effect mode: each participant starts in a term at least two terms into the history (so a g−2 baseline
    exists) whose school year the programme serves, right after a bad term (the coordinators' choice); they
    stay enrolled (no end date). Then the planted effects are calibrated."""
    years_of = {prog: (lo, hi) for prog, lo, hi in cfg.programme_years}
    district_names = [d.name for d in city.districts]
    enrollments: list[Enrollment] = []
    for i in sorted(chosen):
        p, prog = city.pupils[i], chosen[i]
        lo, hi = years_of[prog]
        candidates = [t for t in city.terms[2:] if p.unit_in(t) is not None and lo <= p.school_year(t) <= hi]
        if not candidates:
            continue
        # The start term is drawn regardless of the pupil's terms, and the term before it is made a bad one
        # (a choice that looked at the noise of several terms would bias the other terms too).
        g = candidates[rng.randrange(len(candidates))]
        p.term_noise[g.index - 1] = BAD_TERM_NOISE + abs(rng.gauss(0.0, 1.0))
        start = g.dates.start + dt.timedelta(days=rng.randrange(21))
        p.participant, p.start = True, start
        unit = p.unit_in(g)
        district = unit.district if rng.random() < 0.88 else rng.choice(district_names)
        code = unit.code if rng.random() >= 0.15 else ""
        enrollments.append(Enrollment(p.civic, p.given, p.family, prog, district, code, start, None, p))
    planted = dict(cfg.effects)
    for prog in sorted({e.programme for e in enrollments}):
        pupils = [e.pupil for e in enrollments if e.programme == prog]
        boost = calibrate_boost(pupils, planted.get(prog, 0.0))
        for p in pupils:
            p.boost = boost
    city.enrollments = enrollments


def pass_share(ability: float, subjects: tuple[str, ...]) -> float:
    """Expected share of subjects passed at this ability (before a term's noise and the grade's own)."""
    total = 0.0
    for s in subjects:
        z = (ability + cat.SUBJECT_BY_CODE[s].offset - THRESHOLDS[-1]) / _GRADE_SIGMA
        total += 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    return total / len(subjects)


def calibrate_boost(pupils: list["Pupil"], effect: float) -> float:
    """The ability shift that raises these pupils' mean expected share passed by ``effect`` (bisection)."""
    if effect <= 0 or not pupils:
        return 0.0
    base = [(-0.45 * p.r + 0.85 * p.z_ability, p.subjects) for p in pupils]
    before = sum(pass_share(a, subj) for a, subj in base) / len(base)

    def gain(shift: float) -> float:
        return sum(pass_share(a + shift, subj) for a, subj in base) / len(base) - before

    lo, hi = 0.0, 8.0
    if gain(hi) < effect:
        raise ValueError(f"a planted effect of {effect} is more than these pupils can gain ({gain(hi):.3f})")
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gain(mid) < effect else (lo, mid)
    return (lo + hi) / 2


def _enrollments(rng: random.Random, cfg: Config, n: int, city: City) -> None:
    t0 = city.terms[0].dates.start
    t_end = city.terms[-1].dates.end
    prog_names = [p for p, _ in cfg.programme_shares]
    prog_weights = [w for _, w in cfg.programme_shares]
    n_part = min(len(city.pupils), round(n * cfg.participant_share))
    chosen = _choose_participants(rng, cfg, city, n_part)
    if cfg.effects:
        _effect_enrollments(rng, cfg, city, chosen)
        return
    district_names = [d.name for d in city.districts]
    years_of = {prog: (lo, hi) for prog, lo, hi in cfg.programme_years}
    first = city.terms[0]
    enrollments: list[Enrollment] = []
    for i in sorted(chosen):
        p = city.pupils[i]
        p.participant = True
        p.improver = rng.random() < cfg.improver_share
        progs = [chosen[i]]
        if rng.random() < cfg.second_programme_share:
            y = p.school_year(first)
            others = [x for x in prog_names if x != progs[0] and years_of[x][0] <= y <= years_of[x][1]]
            if others:
                progs.append(rng.choice(others))
        first_start: dt.date | None = None
        for prog in progs:
            start, end = _draw_period(rng, prog, t0, t_end)
            term = next((t for t in city.terms if t.dates.start <= start <= t.dates.end), None)
            lo, hi = years_of[prog]
            y = p.school_year(term) if term is not None else None
            if term is not None and (y is None or not lo <= y <= hi):
                # aged out of the programme (or left) by then: the programme took them in the first term
                start = first.dates.start + dt.timedelta(days=rng.randrange((first.dates.end - first.dates.start).days))
                end = None if end is None else max(end, start + dt.timedelta(days=21))
                term = first
            first_start = start if first_start is None else min(first_start, start)
            if term is None or p.unit_in(term) is None:
                term = next(t for t in city.terms if p.unit_in(t) is not None)
            unit = p.unit_in(term)
            district = unit.district if rng.random() < 0.88 else rng.choice(district_names)
            code = unit.code if rng.random() >= 0.15 else ""
            enrollments.append(Enrollment(p.civic, p.given, p.family, prog, district, code, start, end, p))
        p.start = first_start
    # Pupils outside the city's schools (independent schools, other municipalities): valid numbers that
    # match nobody in persons.jsonl. A couple of them carry a name that is no Stockholm district.
    n_out = max(1 if n_part >= 5 else 0, round(n_part * cfg.outside_share))
    birth_years = sorted({p.birth.year for p in city.pupils})
    for k in range(n_out):
        by = rng.choice(birth_years)
        birth = dt.date(by, 1, 1) + dt.timedelta(days=rng.randrange(365))
        male = rng.random() < 0.5
        civic = civic_number(rng, birth, male, rng.random() < cfg.coordination_share, city.used_civic)
        origin = "sv" if rng.random() < 0.75 else rng.choice([k for k, _ in cat.ML_WEIGHTS])
        given, family = _pick_names(rng, origin, "Man" if male else "Kvinna")
        prog = rng.choices(prog_names, weights=prog_weights)[0]
        start, end = _draw_period(rng, prog, t0, t_end)
        district = cat.UNKNOWN_DISTRICTS[k] if k < min(2, n_out // 10 + 1) else rng.choice(district_names)
        code = ""
        if rng.random() < 0.5:
            while True:
                code = str(rng.randrange(10_000_000, 100_000_000))
                if code not in city.used_codes:
                    city.used_codes.add(code)
                    break
        enrollments.append(Enrollment(civic, given, family, prog, district, code, start, end, None))
    # Consent refused on a row or two, and an erasure request for one or two other participants.
    part_enr = [e for e in enrollments if e.pupil is not None]
    people = sorted({e.civic for e in part_enr})
    rng.shuffle(people)
    n_nej = 2 if len(people) >= 40 else (1 if len(people) >= 5 else 0)
    n_era = 2 if len(people) >= 20 else (1 if len(people) >= 3 else 0)
    nej = set(people[:n_nej])
    for e in enrollments:
        if e.civic in nej:
            e.consent_no = True
    city.erasures = people[n_nej : n_nej + n_era]
    city.enrollments = enrollments
