"""The synthetic city: a dataset folder the stand-in SS 12000 server and the enrollment intake read.

``generate_dataset(out, pupils=10000, seed=1, terms=["HT2025", "VT2026"], sources=1) -> Manifest`` (also
``skolsam generate --out DIR [--pupils N] [--seed S] [--terms HT2025,VT2026] [--sources N]``). Every identity is
generated; no real person is described. Deterministic: the same arguments and term calendar give
byte-identical files (no wall-clock time, fixed key order, integers only, seeded generators per part).

Size. ``pupils`` is the number of pupils in grundskola, förskoleklass (0) to year 9, in the first school
year covered by the terms (ten cohorts of pupils/10). With the default terms (one school year) that is the
number of persons; each further school year adds a new förskoleklass cohort of pupils/10 (the year-9
cohort leaves). School units: 1.3 per 1000 pupils (130 at 100,000, DESIGN 7).

Layout::

    DIR/manifest.json                         seed, pupils, terms, generator version, counts, and per file
                                              records, bytes and sha256 (no generation time)
    DIR/ss12000/organisations.json            {"data": [...]}
    DIR/ss12000/persons.jsonl                 one Person a line
    DIR/ss12000/syllabuses.json               {"data": [...]}
    DIR/ss12000/grades.jsonl                  one Grade a line
    DIR/ss12000/aggregatedAttendance.jsonl    one AggregatedAttendance a line
    DIR/ss12000/deletedEntities.jsonl         {"entity": "grades", "id": ..., "deletedAt": ...} a line
    DIR/enrollment/*.csv                      social-services lists (see skolsam.generate.enrollment)

Organisations. One ``Huvudman`` "Stockholms stad" (organisationNumber 212000-0142); one ``Förvaltning`` per
district whose ``displayName`` is today's district name and whose parent is the Huvudman; school units
(``Skolenhet``) with a unique random 8-digit ``schoolUnitCode``, ``schoolTypes ["GR"]``, ``municipalityCode
"0180"`` (on every organisation), ``startDate``, and ``parentOrganisation`` = their district's Förvaltning:
that is where a school unit's district is read. Units serve förskoleklass to year 9 (F-9), förskoleklass to
year 6 (F-6) or 7-9; a pupil of an F-6 unit moves to a 7-9 unit in the same district in year 7. Ids are uuid5 of seed and code.

Persons. ``id`` (uuid), ``meta`` (created: the autumn the pupil started school, 07:00; modified: the start
of the latest enrolment, 06:00, Stockholm time with offset), ``givenName``, ``familyName``, ``civicNo``
{value: 12 digits, nationality "SE"} (about 1 % samordningsnummer, day + 60; serial parity = sex for
Man/Kvinna; "Okänt" about 0.2 % with any parity), ``birthDate`` (the real date, also for samordningsnummer),
``sex``, ``securityMarking`` ("Ingen"; about 0.5 % "Skyddad folkbokföring" or "Sekretessmarkering"),
``personStatus`` "Aktiv", ``enrolments``: one per school year covered, ``schoolYear`` = autumn year -
birth year - 6, ``startDate`` = that school year's HT start, ``endDate`` = its VT end (term calendar).

Syllabuses. One per subject (SV, SVA, EN, MA, BI, FY, KE, GE, HI, RE, SH, BL, HKK, IDH, MU, SL, TK, M2SPA,
M2TYS, M2FRA, MLARA, MLSOM, MLPER, MLTIR, MLPOL, MLTUR, MLFIN, MLSPA, MLRUS, MLKUR); ``official`` true,
``schoolType`` "GR", ``curriculum`` "GR2011", ``languageCode`` (ISO 639-3) on languages. uuid5 ids.

Grades. From year 6 on (none in förskoleklass to year 5), for each pupil, term and subject read (SV or SVA - about 10 % SVA, 0.3 % both - the 15 common
subjects, a moderna språk for about 85 %, a modersmål for about 12 %; about 3 % of pupil-terms lack one or
two non-core subjects): ``id``, ``meta`` (created = modified = registeredDate at a daytime hour),
``student``, ``organisation`` and ``schoolUnit`` (both the pupil's school unit that term), ``registeredBy``
(a teacher id per unit and subject; teachers are not in persons.jsonl), ``registeredDate`` (one of the
first five working days after the term's last day), ``gradeValue`` A-F or "-", ``finalGrade`` (true only
in VT of year 9), ``adaptedStudyPlan`` "", ``trial`` false, ``semester``, ``year`` (calendar year of the
term), ``syllabus``. Corrections: about 1 % of grades get a second record (new id) for the same pupil,
subject and term with ``correctionType`` "Ändring" or "Rättelse", a registeredDate 7-60 days later (a
working day) and a later meta; it follows the original in the file. Year-6 grades are terminsbetyg too.

Deletions. About 0.2 % of the grades drawn are deleted at the source before the snapshot: they are not
in grades.jsonl nor anywhere else; deletedEntities.jsonl lists their ids with ``deletedAt`` (1-29 days
after their registeredDate). A consumer must accept deletions of ids it has never seen. Deleted grades
are never corrected ones; the pupil simply has no grade in that subject that term.

Aggregated attendance. One record per pupil, activity and school month of each term (the month clipped
to the term dates, months with no school day left out). An activity is one (school unit, school year,
subject) with a uuid5 id; a pupil has ``Config.activities_per_pupil`` (9) activities a term: SV/SVA, EN,
MA and a per-term draw of the rest. ``offeredSum`` = the subject's weekly minutes x school days / 5
(weekends, holidays, höstlov, sportlov and påsklov excluded); ``attendanceSum + validAbsenceSum +
invalidAbsenceSum = offeredSum``, absence in multiples of 5 minutes, ``otherAttendanceSum`` 0,
``reportedSum`` = ``offeredSum``. Records have no id.

Outcomes. Grades centre on C/D (about A 13 %, B 11 %, C 25 %, D 19 %, E 23 %, F 6 %, - 2 %); absence
averages about 6-7 % for pupils in no programme and 19-21 % for participants, whose grades are lower too.
About 55 % of participants improve once their programme has run a while (full effect about five months
after the start), so terms after the start show better grades and attendance.

Enrollment lists: see :mod:`skolsam.generate.enrollment`. About 5 % of pupils take part (60 % PPSS,
25 % SkolFam, 15 % KP/KF; 3 % in two programmes), each programme drawing from the school years it serves
in the first term (``Config.programme_years``: PPSS 6-9, SkolFam 0-6, KP/KF 0-9); about 4 % more valid
numbers belong to pupils outside the city's schools (not in persons.jsonl), so the match rate is about 96 %.

Several school systems (``--sources N``, ``generate_dataset(..., sources=N)``): the city's own system
(``stockholm``) and N-1 independent operators, each in ``DIR/sources/<id>/ss12000/`` with the layout above,
pupils in several systems under a different person id each, and mid-year movers; ``one_system`` writes the
same city in ``DIR/ss12000/``. See :mod:`skolsam.generate.systems`. With N = 1 nothing changes.

Effect mode (``--effect PPSS=0.10,SkolFam=0``, ``generate_dataset(..., effects={...})``): a city with a
known programme effect for ``skolsam effects-check``. Terms default to HT2023..VT2026. Each participant's
start term g is drawn among the terms with two terms of history before it (in a school year the programme
serves), the term before it is made a bad one (the coordinators' choice), and they stay enrolled; the
"improver" dynamics are off, and while enrolled the pupil's ability rises by the shift that raises the
programme's participants' expected share passed by the planted amount (calibrated by bisection). The
manifest records the planted effects under ``planted_effect``.
"""

from .config import Config
from .dataset import DEFAULT_TERMS, GENERATOR_VERSION, generate_dataset
from .output import FileEntry, Manifest

__all__ = ["generate_dataset", "Manifest", "FileEntry", "Config", "GENERATOR_VERSION", "DEFAULT_TERMS"]
