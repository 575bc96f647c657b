"""Tunables of the synthetic city. The defaults give DESIGN 7's city at 100,000 pupils (förskoleklass to year 9)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    # Organisation
    units_per_1000: float = 1.3  # school units per 1000 pupils (130 at 100,000)
    min_school_units: int = 3
    # Pupils
    unknown_sex_share: float = 0.002  # sex "Okänt"
    coordination_share: float = 0.01  # samordningsnummer (day + 60)
    protected_share: float = 0.005  # securityMarking other than "Ingen"
    ml_share: float = 0.12  # read modersmål
    sva_share_ml: float = 0.45  # SVA instead of SV among modersmål pupils
    sva_share_other: float = 0.05  # ... among the others (about 10 % SVA overall)
    sv_and_sva_share: float = 0.003  # graded in both SV and SVA
    m2_share: float = 0.85  # read a moderna språk
    # Grades (given from year 6 on)
    first_graded_year: int = 6
    missing_subject_share: float = 0.03  # pupil-terms without a grade in one or two subjects
    correction_share: float = 0.01  # grades that get a later Ändring/Rättelse record
    deletion_share: float = 0.002  # grades deleted at the source (only their id in deletedEntities)
    # Attendance: activities per pupil and school month (about 4 M records at 40,000 pupils, 2 terms)
    activities_per_pupil: int = 9
    # Programmes
    participant_share: float = 0.05
    programme_shares: tuple[tuple[str, float], ...] = (("PPSS", 0.60), ("SkolFam", 0.25), ("KP/KF", 0.15))
    # School years each programme takes pupils from (DESIGN 5): PPSS years 6-9, SkolFam children aged
    # 6-12 (förskoleklass to year 6), KP/KF any school age.
    programme_years: tuple[tuple[str, int, int], ...] = (("PPSS", 6, 9), ("SkolFam", 0, 6), ("KP/KF", 0, 9))
    second_programme_share: float = 0.03
    improver_share: float = 0.55
    outside_share: float = 0.04  # enrolled numbers (per participant) that belong to no pupil in persons
    # A planted programme effect (skolsam generate --effect PPSS=0.10): programme -> the rise in the share
    # of subjects passed while enrolled. Empty: the ordinary city. When set, each participant is chosen at a
    # bad term (their start term follows their worst term), stays enrolled, and nothing else about
    # participation changes their grades or absence, so the planted rise is the only effect there is.
    effects: tuple[tuple[str, float], ...] = ()
    # Several school systems (generate --sources N > 1; skolsam.generate.systems): the share of school units
    # run by independent operators, and of pupils who move to one of them mid-year.
    independent_unit_share: float = 0.25
    mover_share: float = 0.02
