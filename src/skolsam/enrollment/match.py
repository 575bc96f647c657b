"""The match-rate gate: how many enrolled pupils the education data knows, before the lists are joined.

A low share means the two sources do not meet on ``student_key`` (a different pseudonym key on one side,
a truncated extract, a list from another municipality) and marts built on them would be wrong, so the
warehouse build stops instead. Only counts leave this module, never an identity.

Several school systems (DESIGN 3.1.1): a failing source never blocks the build of the others. While a
source's persons extract is failing (its latest persons load in ``audit.load_run`` failed or was rejected,
or it never succeeded), its pupils cannot be found, and that says nothing about the key. So an enrolled
pupil who is not found and whose list names a school unit that no complete source has is *set aside*: left
out of the rate (``set_aside``, the sources under ``incomplete_sources``), counted and reported, never
hidden. Pupils without a school unit code in the list stay in the rate. With every source complete
nothing is set aside and the rate is as before.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from ..errors import DeterministicError
from ..settings import Settings
from ..warehouse.connection import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchRate:
    enrolled: int  # distinct student_keys in staging.enrollment
    matched: int  # of those, found in staging.ss12000_person
    rate: float | None  # matched / (enrolled - set_aside); None when nobody is counted
    set_aside: int = 0  # not found, in a school no complete source has, while a source is incomplete
    incomplete_sources: tuple[str, ...] = ()  # SS 12000 sources whose persons extract is failing

    def as_dict(self) -> dict:
        """JSON-ready; the set-aside fields only while a source is incomplete (then they matter)."""
        out = asdict(self)
        if not self.incomplete_sources:
            del out["set_aside"], out["incomplete_sources"]
        else:
            out["incomplete_sources"] = list(self.incomplete_sources)
        return out


class MatchRateTooLow(DeterministicError, RuntimeError):
    def __init__(self, result: MatchRate, threshold: float):
        self.result = result
        self.threshold = threshold
        super().__init__(
            f"match rate {result.rate:.1%} is below the threshold {threshold:.1%} (setting match_rate_min): "
            f"{result.matched} of {result.enrolled - result.set_aside} enrolled pupils were found in the SS 12000 "
            "persons"
            + (f" ({result.set_aside} set aside: their school may be in the failing source(s) "
               f"{', '.join(result.incomplete_sources)})" if result.incomplete_sources else "")
            + ". Check that both sources use the same pseudonym key and that the person extract is complete."
        )


# SS 12000 sources whose latest persons load did not succeed, or that never loaded persons successfully.
_INCOMPLETE_SOURCES = """
    SELECT source FROM (
        SELECT DISTINCT ON (source) source, status,
               bool_or(status = 'success') OVER (PARTITION BY source) AS ever
        FROM audit.load_run
        WHERE entity = 'persons' AND status IN ('success', 'failed', 'rejected')
        ORDER BY source, started_at DESC, run_id DESC
    ) latest
    WHERE status <> 'success' OR NOT ever
    ORDER BY source"""


def incomplete_sources(conn) -> list[str]:
    return [r[0] for r in conn.execute(_INCOMPLETE_SOURCES)]


def match_rate(url: str) -> MatchRate:
    with connect(url) as conn:
        incomplete = incomplete_sources(conn)
        enrolled, matched, set_aside = conn.execute(
            """WITH pupil AS (
                   SELECT e.student_key,
                          EXISTS (SELECT 1 FROM staging.ss12000_person p WHERE p.student_key = e.student_key)
                            AS matched,
                          -- every school unit the lists name for the pupil is one no complete source has
                          coalesce(bool_and(NOT EXISTS (
                              SELECT 1 FROM staging.ss12000_organisation o
                              WHERE o.organisation_type = 'Skolenhet' AND o.school_unit_code = btrim(e.school_unit_code)
                                AND o.source <> ALL(%(incomplete)s::text[])))
                            FILTER (WHERE nullif(btrim(e.school_unit_code), '') IS NOT NULL), false) AS unknown_school
                   FROM staging.enrollment e
                   GROUP BY e.student_key
               )
               SELECT count(*), count(*) FILTER (WHERE matched),
                      count(*) FILTER (WHERE cardinality(%(incomplete)s::text[]) > 0 AND NOT matched
                                         AND unknown_school)
               FROM pupil""",
            {"incomplete": incomplete},
        ).fetchone()
    counted = enrolled - set_aside
    return MatchRate(enrolled=enrolled, matched=matched, rate=(matched / counted) if counted else None,
                     set_aside=set_aside, incomplete_sources=tuple(incomplete))


def check_match_rate(url: str, settings: Settings | None = None, *, threshold: float | None = None) -> MatchRate:
    """The match rate, or MatchRateTooLow when it is below ``settings.match_rate_min``.

    No enrolled pupil at all passes (there is nothing to join); the result says so with ``rate`` None.
    """
    settings = settings or Settings.load()
    minimum = settings.match_rate_min if threshold is None else threshold
    result = match_rate(url)
    if result.set_aside:
        log.warning("match rate: %d unmatched enrolled pupils set aside (their school is in no complete source; "
                    "incomplete: %s)", result.set_aside, ", ".join(result.incomplete_sources))
    if result.rate is not None and result.rate < minimum:
        raise MatchRateTooLow(result, minimum)
    return result
