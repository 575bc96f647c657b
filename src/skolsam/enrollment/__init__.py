"""Intake of the social services' enrollment lists (DESIGN 3.2).

- :mod:`.csvfile`  — reading a delivered file: encoding, separator, header (no database, no pseudonym)
- :mod:`.validate` — row rules and reason codes (programme, district, dates, school unit code)
- :mod:`.load`     — pseudonymise at the door, quarantine, COPY + merge into ``staging.enrollment``
- :mod:`.erasure`  — remove every row about a pupil from every schema (``samtycke = nej``, erasure requests)
- :mod:`.intake`   — the landing folder: new files, checksums, archive/rejected, the public entry points
- :mod:`.match`    — the match-rate gate between the lists and the education data

The personnummer exists only in memory between reading a row and computing its ``student_key``; names and
other extra columns are dropped while the file is read and never reach the warehouse, a log or an XCom.
"""
