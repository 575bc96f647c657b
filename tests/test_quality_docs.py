"""Data Docs: built on a small dataset, opened in headless Chromium, and free of keys and personnummer.

Chromium (Debian package ``chromium``) renders index.html to a PNG that must not be blank. Where it is not
installed the test still checks the site, by reading the HTML, and says which branch ran. Either way every
file of the site is scanned for 64-hex student keys and valid personnummer.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from skolsam.quality import privacy
from skolsam.quality.gate import QualityGateFailed, run_gate
from skolsam.quality.suites import ALL_SUITES
from skolsam.settings import project_home
from test_quality_gate import AS_OF, SYLLABI, QualityData, assert_no_personal_data, synthetic_personnummer

pytestmark = pytest.mark.postgres

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  # Data Docs link scripts and styles on public CDNs: fail those look-ups at once, offline.
                  '--host-resolver-rules=MAP * ~NOTFOUND')


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def screenshot(browser: str, page: Path, out: Path, profile: Path) -> None:
    cmd = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}",
           "--window-size=1280,900", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, timeout=60)
    assert out.exists(), f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-800:]!r}"


def assert_not_blank(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as img:
        assert img.format == "PNG" and img.size == (1280, 900)
        grey = img.convert("L")
        lo, hi = grey.getextrema()
        assert hi - lo > 100, "the screenshot is one flat colour"
        histogram = grey.histogram()
        background = max(histogram)
        assert background < 0.97 * sum(histogram), "the screenshot is almost all background"


def test_data_docs_render_and_hold_no_personal_data(warehouse_url, pseudonymiser, tmp_path, caplog):
    data = QualityData(warehouse_url, pseudonymiser).load()
    pnr = synthetic_personnummer(day=16)
    # Failures whose offending values are a raw personnummer or a key: none of them may reach the docs.
    data.execute("UPDATE staging.ss12000_person SET student_key = %s WHERE person_ref = %s", (pnr, data.refs[1]))
    data.execute("UPDATE staging.enrollment SET school_unit_code = %s WHERE student_key = %s", (pnr, data.keys[2]))
    data.execute("UPDATE staging.ss12000_grade SET grade_value = 'Q' WHERE person_ref = %s AND syllabus_id = %s",
                 (data.refs[0], SYLLABI["EN"]))
    data.execute("ALTER TABLE mart_candidate.participant_term DROP CONSTRAINT IF EXISTS participant_term_pkey")
    from skolsam.warehouse import connection

    with connection.transaction(warehouse_url) as conn:
        data.insert_participant(conn, "mart_candidate", 4)

    with pytest.raises(QualityGateFailed) as caught, caplog.at_level(logging.WARNING):
        run_gate(warehouse_url, list(ALL_SUITES), schema_overrides={"mart": "mart_candidate"}, as_of=AS_OF)
    # Every check renders, the suite parameters included (GX could not render contract_columns' parameter).
    assert "during data docs rendering" not in caplog.text
    docs = project_home() / "data_docs"
    index = docs / "index.html"
    assert caught.value.result.data_docs == str(index) and index.is_file()
    assert str(index) in str(caught.value)

    # the site: GX's index, one validation page per suite, one page per suite, and our offline overview
    text = index.read_text(encoding="utf-8")
    for suite in ALL_SUITES:
        assert suite in text
        assert (docs / "expectations" / f"{suite}.html").is_file()
    pages = sorted((docs / "validations").rglob("*.html"))
    assert len(pages) == len(ALL_SUITES)
    overview = text[text.index('id="skolsam-overview"'):text.index("</section>")]
    rows = re.findall(r"<tr style=[^>]*>(.*?)</tr>", overview)
    assert len(rows) == len(ALL_SUITES)
    failed = [html.unescape(r) for r in rows if "FAILED" in r]
    assert any("staging_ss12000_grade" in r and "grade_value_known" in r for r in failed)
    assert any("mart_participant_term" in r and "one_row_per_pupil_programme_term" in r for r in failed)
    for href in re.findall(r'href="([^"]+)"', overview):
        assert (docs / html.unescape(href)).is_file(), href
    grade_page = next(p for p in pages if "staging_ss12000_grade" in str(p)).read_text(encoding="utf-8")
    assert "grade_value" in grade_page and "Q" in grade_page       # values of non-key columns are shown

    # no key, no personnummer anywhere in the folder (the stored results included)
    findings = privacy.scan_tree(docs)
    assert findings == [], findings[:5]
    everything = "".join(p.read_bytes().decode("utf-8", "replace") for p in docs.rglob("*") if p.is_file())
    assert_no_personal_data(everything, data, pnr, pnr[2:])

    browser = chromium()
    if browser:
        print(f"Data Docs check: headless Chromium ({browser}) screenshot of {index}")
        png = tmp_path / "index.png"
        screenshot(browser, index, png, tmp_path / "chromium-profile")
        assert_not_blank(png)
    else:
        print("Data Docs check: Chromium not installed; checked the HTML only")
        assert "<table" in overview and "FAILED" in overview


def test_a_second_gate_run_keeps_the_first_in_the_docs(warehouse_url, pseudonymiser):
    QualityData(warehouse_url, pseudonymiser).load()
    run_gate(warehouse_url, "staging_ss12000_grade", as_of=AS_OF)
    run_gate(warehouse_url, ["mart_group_term"], schema_overrides={"mart": "mart_candidate"}, as_of=AS_OF)
    docs = project_home() / "data_docs"
    pages = sorted(p.relative_to(docs / "validations").parts[0] for p in (docs / "validations").rglob("*.html"))
    assert pages == ["mart_group_term", "staging_ss12000_grade"]
    text = (docs / "index.html").read_text(encoding="utf-8")
    assert text.count('id="skolsam-overview"') == 1
    assert privacy.scan_tree(docs) == []
