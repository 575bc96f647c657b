"""Swedish number formatting for the report: decimal comma, space as thousands separator, "78 %"."""

from __future__ import annotations

NBSP = "\u00a0"
MINUS = "\u2212"
SUPPRESSED = "–"  # en dash: a hidden figure (fewer than N pupils, or secondary suppression)
MISSING = ".."  # no figure to show (e.g. no year-9 pupils with grades)

TERM_WORDS = {"HT": ("höstterminen", "hösttermin"), "VT": ("vårterminen", "vårtermin")}
PROGRAMME_LABEL = {"ALL": "Alla insatser"}
SEX_LABEL = {"Kvinna": "Flickor", "Man": "Pojkar", "Okänt": "Kön okänt", "ALL": "Alla"}


def programme_label(code: str) -> str:
    return PROGRAMME_LABEL.get(code, code)


def sex_label(code: str) -> str:
    return SEX_LABEL.get(code, code)


def year_label(code: str) -> str:
    return "Alla årskurser" if code == "ALL" else f"Årskurs {code}"


def term_long(name: str) -> str:
    """'VT2026' -> 'vårterminen 2026'."""
    return f"{TERM_WORDS[name[:2]][0]} {name[2:]}" if name[:2] in TERM_WORDS else name


def number(value: float, decimals: int = 0, signed: bool = False) -> str:
    text = f"{abs(value):,.{decimals}f}".replace(",", NBSP).replace(".", ",")
    if round(abs(value), decimals) == 0:
        return text
    if value < 0:
        return MINUS + text
    return ("+" + text) if signed else text


def count(value: float) -> str:
    return number(value, 0)


def percent(share: float, decimals: int = 0) -> str:
    """A share (0..1) as a Swedish percentage: 0.784 -> '78 %'."""
    return number(share * 100, decimals) + NBSP + "%"


def points(share_diff: float, decimals: int = 0) -> str:
    """A difference of shares in percentage points, signed: -0.102 -> '−10'."""
    return number(share_diff * 100, decimals, signed=True)
