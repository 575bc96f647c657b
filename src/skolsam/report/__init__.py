"""The termly follow-up report: one document per term, a self-contained Swedish HTML page and its PDF.

``build_report(warehouse_url, term, out_dir, *, settings=None, pdf=True, status="preliminary",
build_id=None) -> Path`` reads aggregates only (mart.group_term, sql/report/*.sql, the effect and
target-group marts when they exist, the audit tables), never a pupil-level row. Charts are matplotlib PNGs
embedded in the HTML; the PDF is that HTML printed by headless Chromium (pdf.py says why).
Importing this package is light: matplotlib, jinja2 and psycopg are imported when a report is built.
"""

from __future__ import annotations

from .build import build_report, report_basename
from .data import ReportError, available_terms, latest_term

__all__ = ["build_report", "latest_term", "available_terms", "ReportError", "report_basename"]
