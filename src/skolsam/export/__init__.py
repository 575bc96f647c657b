"""Exports of the aggregate marts for one term, as CSV or Excel, with the columns explained.

``export_term(warehouse_url, term, fmt, out_dir) -> list[Path]``. Rows are the mart's rows as published:
a suppressed group keeps every measure empty, exactly as in the mart. No pupil-level table is exported.
"""

from __future__ import annotations

from .write import ExportError, export_term

__all__ = ["export_term", "ExportError"]
