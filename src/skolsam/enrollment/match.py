"""The match-rate gate: how many enrolled pupils the education data knows, before the lists are joined.

A low share means the two sources do not meet on ``student_key`` (a different pseudonym key on one side,
a truncated extract, a list from another municipality) and marts built on them would be wrong, so the
warehouse build stops instead. Only counts leave this module, never an identity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import DeterministicError
from ..settings import Settings
from ..warehouse.connection import connect


@dataclass(frozen=True)
class MatchRate:
    enrolled: int  # distinct student_keys in staging.enrollment
    matched: int  # of those, found in staging.ss12000_person
    rate: float | None  # matched / enrolled; None when nobody is enrolled

    def as_dict(self) -> dict:
        return asdict(self)


class MatchRateTooLow(DeterministicError, RuntimeError):
    def __init__(self, result: MatchRate, threshold: float):
        self.result = result
        self.threshold = threshold
        super().__init__(
            f"match rate {result.rate:.1%} is below the threshold {threshold:.1%} (setting match_rate_min): "
            f"{result.matched} of {result.enrolled} enrolled pupils were found in the SS 12000 persons. "
            "Check that both sources use the same pseudonym key and that the person extract is complete."
        )


def match_rate(url: str) -> MatchRate:
    with connect(url) as conn:
        enrolled, matched = conn.execute(
            """SELECT count(*), count(*) FILTER (WHERE EXISTS (
                          SELECT 1 FROM staging.ss12000_person p WHERE p.student_key = e.student_key))
               FROM (SELECT DISTINCT student_key FROM staging.enrollment) e"""
        ).fetchone()
    return MatchRate(enrolled=enrolled, matched=matched, rate=(matched / enrolled) if enrolled else None)


def check_match_rate(url: str, settings: Settings | None = None, *, threshold: float | None = None) -> MatchRate:
    """The match rate, or MatchRateTooLow when it is below ``settings.match_rate_min``.

    No enrolled pupil at all passes (there is nothing to join); the result says so with ``rate`` None.
    """
    settings = settings or Settings.load()
    minimum = settings.match_rate_min if threshold is None else threshold
    result = match_rate(url)
    if result.rate is not None and result.rate < minimum:
        raise MatchRateTooLow(result, minimum)
    return result
