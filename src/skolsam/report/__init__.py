"""The termly follow-up report: a self-contained Swedish HTML page (and a short PDF) per term.

``build_report(warehouse_url, term, out_dir, *, settings=None) -> Path`` reads aggregate rows of
``mart.group_term`` only (the term and the previous term), never student-level rows. Charts are drawn
with matplotlib's Agg canvas and embedded as base64 PNG; there are no external assets.
Importing this package is light: matplotlib, jinja2 and psycopg are imported when a report is built.
"""

from __future__ import annotations

from .build import build_report, report_basename
from .data import ReportError, available_terms, latest_term

__all__ = ["build_report", "latest_term", "available_terms", "ReportError", "report_basename"]
