"""The PDF: the report's own HTML printed by headless Chromium, so both renderings carry the same content.

Why Chromium: it prints the HTML itself (no second layout to keep in step), lays out A4 pages with CSS
paged media (the running footer with "Sida x av y" is an ``@page`` margin box, Chromium 131+), and writes
a tagged PDF (structure tree, language, alt texts of the charts) as the accessibility law asks. WeasyPrint
would need pango from the system and writes untagged files unless asked for PDF/UA; matplotlib's PDF (the
old short version) could not carry the text. Without Chromium no PDF is made: a PDF that leaves out part
of the report is what issue 16 is about, so the HTML stays the report and the log says why.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome-headless-shell")


class PdfUnavailable(RuntimeError):
    """No headless Chromium to print the PDF with."""


def find_chromium(configured: str = "") -> str | None:
    if configured:
        return configured if (Path(configured).exists() or shutil.which(configured)) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: Path, pdf_path: Path, *, chromium: str = "", timeout: float = 120) -> Path:
    """Print ``html_path`` to ``pdf_path`` (written atomically). Raises PdfUnavailable without Chromium."""
    binary = find_chromium(chromium)
    if binary is None:
        raise PdfUnavailable("no headless Chromium found (install the chromium package, or set report_chromium)")
    tmp = pdf_path.with_name(f".{pdf_path.name}.tmp{os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="skolsam-chromium-") as profile:
        args = [binary, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--no-pdf-header-footer", f"--user-data-dir={profile}",
                f"--print-to-pdf={tmp}", html_path.resolve().as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(2, "--no-sandbox")  # Chromium refuses to run its sandbox as root (containers, CI)
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise RuntimeError(f"Chromium could not print the report (exit {done.returncode}): {' | '.join(tail)}")
    os.replace(tmp, pdf_path)
    return pdf_path
