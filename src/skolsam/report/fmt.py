"""Swedish number formatting and table symbols for the report (SCB's and Skolverket's conventions).

Symbols: "–" the value is zero (nothing to report), ".." the figure is hidden (too few pupils, or hidden so
that another hidden figure cannot be worked out) or not available, "." the figure cannot occur (no grades
are given below year 6; eligibility exists in year 9 only; a group with no pupils has no mean). A rounded
"0" means less than half the last decimal shown, never zero.
"""

from __future__ import annotations

import datetime as dt

NBSP = "\u00a0"
MINUS = "\u2212"
ZERO = "–"  # en dash: exactly zero
SUPPRESSED = ".."  # hidden or not available
IMPOSSIBLE = "."  # cannot occur

TERM_WORDS = {"HT": ("höstterminen", "hösttermin"), "VT": ("vårterminen", "vårtermin")}
PROGRAMME_LABEL = {"ALL": "Alla insatser"}
SEX_LABEL = {"Kvinna": "Flickor", "Man": "Pojkar", "Okänt": "Kön okänt", "ALL": "Alla"}
MONTHS = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
          "november", "december")


def legend(min_n: int) -> str:
    """The symbol legend printed under every table."""
    return (f"Teckenförklaring: {ZERO} = noll; {SUPPRESSED} = uppgiften visas inte (färre än {min_n} elever i "
            f"gruppen, eller dold så att en annan dold uppgift inte kan räknas fram) eller saknas; "
            f"{IMPOSSIBLE} = uppgiften kan inte förekomma (till exempel betyg före årskurs 6); "
            "0 = mindre än hälften av den sista decimalen som visas.")


def programme_label(code: str) -> str:
    return PROGRAMME_LABEL.get(code, code)


def sex_label(code: str) -> str:
    return SEX_LABEL.get(code, code)


def year_label(code: str) -> str:
    if code == "ALL":
        return "Alla årskurser"
    return "Förskoleklass" if code == "0" else f"Årskurs {code}"


def term_long(name: str) -> str:
    """'VT2026' -> 'vårterminen 2026'."""
    return f"{TERM_WORDS[name[:2]][0]} {name[2:]}" if name[:2] in TERM_WORDS else name


def date_long(day: dt.date) -> str:
    """2026-06-12 -> '12 juni 2026' (Myndigheternas skrivregler: no leading zero, month in words)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def period_long(start: dt.date, end: dt.date) -> str:
    """'17 augusti–19 december 2025', or with both years when they differ."""
    if start.year == end.year:
        first = f"{start.day} {MONTHS[start.month - 1]}"
    else:
        first = date_long(start)
    return f"{first}–{date_long(end)}"


def number(value: float, decimals: int = 0, signed: bool = False) -> str:
    """Decimal comma, space as thousands separator, a real minus sign; exact zero is "–"."""
    if value == 0:
        return ZERO
    text = f"{abs(value):,.{decimals}f}".replace(",", NBSP).replace(".", ",")
    if round(abs(value), decimals) == 0:
        return text  # "0" or "0,0": less than half a unit, sign dropped
    if value < 0:
        return MINUS + text
    return ("+" + text) if signed else text


def count(value: float) -> str:
    return number(value, 0)


def percent(share: float, decimals: int = 0) -> str:
    """A share (0..1) as a Swedish percentage: 0.784 -> '78 %'; exact zero -> '–'."""
    text = number(share * 100, decimals)
    return text if text == ZERO else text + NBSP + "%"


def points(share_diff: float, decimals: int = 0) -> str:
    """A difference of shares in percentage points, signed: -0.102 -> '−10'."""
    return number(share_diff * 100, decimals, signed=True)


def setting_percent(share: float) -> str:
    """A threshold in running text ('20 %'), never the zero symbol."""
    return f"{share * 100:.0f}".replace(".", ",") + NBSP + "%"


def unit_points(text: str) -> str:
    """'procentenhet' after a one ('1', '+1', '−1'), else 'procentenheter'."""
    return "procentenhet" if text.lstrip("+" + MINUS) == "1" else "procentenheter"


def join_and(items: list[str]) -> str:
    """'A', 'A och B', 'A, B och C' (a list in a sentence, the Swedish way)."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " och " + items[-1]
