"""Stockholm's districts (stadsdelsförvaltningar): today's eleven, and the names lists still carry.

Mergers: Hägersten-Liljeholmen + Älvsjö -> Hägersten-Älvsjö (2020-07-01); Rinkeby-Kista + Spånga-Tensta
-> Järva and Norrmalm + Östermalm -> Norra innerstaden (2023-07-01).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

CURRENT = (
    "Bromma",
    "Enskede-Årsta-Vantör",
    "Farsta",
    "Hägersten-Älvsjö",
    "Hässelby-Vällingby",
    "Järva",
    "Kungsholmen",
    "Norra innerstaden",
    "Skarpnäck",
    "Skärholmen",
    "Södermalm",
)


@dataclass(frozen=True)
class DistrictName:
    name: str
    current: str  # today's district
    valid_from: dt.date | None
    valid_to: dt.date | None  # last day the name was in force; None while it still is


_MERGER_2020 = dt.date(2020, 7, 1)
_MERGER_2023 = dt.date(2023, 7, 1)

NAMES: tuple[DistrictName, ...] = (
    DistrictName("Bromma", "Bromma", None, None),
    DistrictName("Enskede-Årsta-Vantör", "Enskede-Årsta-Vantör", None, None),
    DistrictName("Farsta", "Farsta", None, None),
    DistrictName("Hägersten-Älvsjö", "Hägersten-Älvsjö", _MERGER_2020, None),
    DistrictName("Hägersten-Liljeholmen", "Hägersten-Älvsjö", None, _MERGER_2020 - dt.timedelta(days=1)),
    DistrictName("Älvsjö", "Hägersten-Älvsjö", None, _MERGER_2020 - dt.timedelta(days=1)),
    DistrictName("Hässelby-Vällingby", "Hässelby-Vällingby", None, None),
    DistrictName("Järva", "Järva", _MERGER_2023, None),
    DistrictName("Rinkeby-Kista", "Järva", None, _MERGER_2023 - dt.timedelta(days=1)),
    DistrictName("Spånga-Tensta", "Järva", None, _MERGER_2023 - dt.timedelta(days=1)),
    DistrictName("Kungsholmen", "Kungsholmen", None, None),
    DistrictName("Norra innerstaden", "Norra innerstaden", _MERGER_2023, None),
    DistrictName("Norrmalm", "Norra innerstaden", None, _MERGER_2023 - dt.timedelta(days=1)),
    DistrictName("Östermalm", "Norra innerstaden", None, _MERGER_2023 - dt.timedelta(days=1)),
    DistrictName("Skarpnäck", "Skarpnäck", None, None),
    DistrictName("Skärholmen", "Skärholmen", None, None),
    DistrictName("Södermalm", "Södermalm", None, None),
)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold()
    text = re.sub(r"\s*(stadsdelsförvaltning|stadsdelsnämnd|sdf|sdn)\s*$", "", text.strip())
    text = re.sub(r"\s*[-–—]\s*", "-", text)
    return re.sub(r"\s+", " ", text).strip()


_BY_FOLDED = {_fold(d.name): d for d in NAMES}


def lookup(raw: str | None) -> DistrictName | None:
    """The district a delivered name refers to (any case, stray spaces, an '… stadsdelsförvaltning' suffix)."""
    if not raw:
        return None
    return _BY_FOLDED.get(_fold(raw))


def current_name(raw: str | None) -> str | None:
    found = lookup(raw)
    return found.current if found else None
