"""identity (personnummer parsing) and pseudonym (student_key). Every number here is synthetic."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random

import pytest

from skolsam import identity
from skolsam.generate.ids import civic_number, format_civic
from skolsam.pseudonym import KEY_MIN_BYTES, Pseudonymiser, load_key

from conftest import TEST_KEY as KEY


def _make(yyyymmdd: str, serial: str) -> str:
    nine = yyyymmdd[2:] + serial
    return yyyymmdd + serial + str(identity.luhn_check_digit(nine))


GIRL = _make("20110315", "248")  # even serial: Kvinna
BOY = _make("20100512", "123")  # odd serial: Man
COORD = _make("20120375", "031")  # day 15 + 60


@pytest.mark.parametrize(
    "raw",
    [BOY, BOY[2:], f"{BOY[2:8]}-{BOY[8:]}", f"{BOY[:8]}-{BOY[8:]}", f" {BOY[2:8]} - {BOY[8:]} ", int(BOY)],
)
def test_every_common_form_normalises_to_12_digits(raw):
    ident = identity.parse(raw)
    assert ident.normalised == BOY
    assert ident.birth_date == dt.date(2010, 5, 12)
    assert ident.birth_year == 2010
    assert ident.sex == "Man" and not ident.coordination


def test_sex_from_serial_parity():
    assert identity.parse(GIRL).sex == "Kvinna"
    assert identity.parse(BOY).sex == "Man"


def test_samordningsnummer():
    ident = identity.parse(COORD)
    assert ident.coordination
    assert ident.birth_date == dt.date(2012, 3, 15)
    assert ident.normalised == COORD


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, "pnr_empty"),
        ("", "pnr_empty"),
        ("   ", "pnr_empty"),
        ("abc", "pnr_format"),
        (BOY[2:-1], "pnr_format"),  # 9 digits
        (BOY + "1", "pnr_format"),  # 13 digits
        (BOY[:-1] + str((int(BOY[-1]) + 1) % 10), "pnr_checksum"),
        (_make("20101315", "123"), "pnr_date"),  # month 13, check digit right
        (_make("20100230", "123"), "pnr_date"),  # 30 February
        (_make("20100500", "123"), "pnr_date"),  # day 0
        (_make("20100512", "000"), "pnr_format"),  # serial 000 does not exist
    ],
)
def test_rejections_carry_a_reason_and_never_the_number(raw, reason):
    with pytest.raises(identity.InvalidIdentity) as exc:
        identity.parse(raw)
    assert exc.value.reason == reason
    assert str(exc.value) == reason
    if raw and str(raw).strip():
        assert str(raw).strip()[:6] not in str(exc.value)
    assert not identity.is_valid(raw)


def test_future_birth_date_rejected_when_today_is_given():
    assert identity.parse(BOY, today=dt.date(2026, 1, 1)).birth_year == 2010
    with pytest.raises(identity.InvalidIdentity) as exc:
        identity.parse(BOY, today=dt.date(2009, 1, 1))
    assert exc.value.reason == "pnr_date"


def test_luhn_matches_the_library_on_many_numbers():
    rng = random.Random(7)
    used: set[str] = set()
    for _ in range(300):
        birth = dt.date(2009, 1, 1) + dt.timedelta(days=rng.randrange(6 * 365))
        male = rng.random() < 0.5
        coordination = rng.random() < 0.2
        civic = civic_number(rng, birth, male, coordination, used)
        ident = identity.parse(civic)
        assert ident.normalised == civic
        assert ident.birth_date == birth and ident.coordination is coordination
        assert ident.sex == ("Man" if male else "Kvinna")
        for form in ("10dash", "10", "12", "12dash"):
            assert identity.parse(format_civic(civic, form)).normalised == civic


def _outcome(parse, text, today):
    try:
        return parse(text, today)
    except identity.InvalidIdentity as exc:
        return exc.reason


def test_the_12_digit_path_reads_every_number_as_the_library_does():
    """identity._parse_long (every person of an extract) against the library's parse, on numbers that are
    valid, coordination numbers, with a wrong check digit, an impossible or future date, serial 000, and
    with each separator: the same Identity or the same reason, every time."""
    rng = random.Random(12000)
    today = dt.date(2026, 12, 2)
    seen = {"valid": 0, "pnr_checksum": 0, "pnr_date": 0, "pnr_format": 0}
    for i in range(20000):
        year = rng.choice([1899, 1900, 1999, 2000, 2012, 2020, 2026, 2027]) if i % 5 == 0 else rng.randrange(1900, 2027)
        month = rng.choice([0, 1, 2, 12, 13]) if i % 7 == 0 else rng.randrange(1, 13)
        day = rng.choice([0, 29, 30, 31, 32, 60, 61, 89, 91, 92]) if i % 3 == 0 else rng.randrange(1, 29) + (60 if i % 4 == 0 else 0)
        serial = "000" if i % 97 == 0 else f"{rng.randrange(1000):03d}"
        head = f"{year:04d}{month:02d}{day:02d}{serial}"
        check = identity.luhn_check_digit(head[2:]) if i % 11 else rng.randrange(10)
        digits = head + str(check)
        text = digits if i % 2 else digits[:8] + rng.choice("-+") + digits[8:]
        fast = _outcome(identity._parse_long, text.replace("-", "").replace("+", ""), today)
        assert fast == _outcome(identity._parse_with_library, text, today), text
        assert _outcome(lambda t, d: identity.parse(t, today=d), text, today) == fast
        seen["valid" if isinstance(fast, identity.Identity) else fast] += 1
    assert min(seen.values()) > 20, seen  # every outcome was exercised, not only the valid one


def test_candidate_pattern_finds_numbers_in_text():
    text = f"rad 3: {BOY[2:8]}-{BOY[8:]} och {GIRL}; kod 12345678"
    found = identity.CANDIDATE.findall(text)
    assert len(found) == 2
    assert not identity.CANDIDATE.search("skolenhetskod 12345678, år 2025")


# ------------------------------------------------------------------------------------------------
# pseudonym


def test_student_key_is_hmac_sha256_of_the_normalised_number():
    ps = Pseudonymiser(KEY)
    expected = hmac.new(KEY.encode(), BOY.encode(), hashlib.sha256).hexdigest()
    assert ps.student_key(BOY) == expected
    key, ident = ps.key_for(f"{BOY[2:8]}-{BOY[8:]}")
    assert key == expected and ident.normalised == BOY
    assert ps.key_for(BOY)[0] == ps.key_for(BOY[2:])[0]  # every form gives the same key
    assert Pseudonymiser(KEY + "x").student_key(BOY) != expected
    assert Pseudonymiser(KEY.encode()).student_key(BOY) == expected


def test_key_for_rejects_invalid_numbers_with_a_reason():
    with pytest.raises(identity.InvalidIdentity) as exc:
        Pseudonymiser(KEY).key_for("not a number")
    assert exc.value.reason == "pnr_format"


def test_source_ref_is_namespaced_and_short():
    ps = Pseudonymiser(KEY)
    ref = ps.source_ref("person", "3f1c2f0e-0000-4000-8000-000000000001")
    assert len(ref) == 32 and int(ref, 16) >= 0
    assert ref != ps.source_ref("grade", "3f1c2f0e-0000-4000-8000-000000000001")
    assert ref == ps.source_ref("person", "3f1c2f0e-0000-4000-8000-000000000001")


def test_short_keys_refused_and_repr_hides_the_key():
    with pytest.raises(ValueError):
        Pseudonymiser("x" * (KEY_MIN_BYTES - 1))
    assert KEY not in repr(Pseudonymiser(KEY))


def test_load_key_order_and_key_file(tmp_path, monkeypatch):
    monkeypatch.delenv("SKOLSAM_PSEUDONYM_KEY", raising=False)
    assert load_key("explicit-key-0123456789") == b"explicit-key-0123456789"  # checked where it is used
    monkeypatch.setenv("SKOLSAM_PSEUDONYM_KEY", "from-env-0123456789abcdef")
    assert load_key(home=tmp_path) == b"from-env-0123456789abcdef"
    monkeypatch.delenv("SKOLSAM_PSEUDONYM_KEY")
    first = load_key(home=tmp_path)
    path = tmp_path / "secrets" / "pseudonym.key"
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
    assert load_key(home=tmp_path) == first and len(first) >= KEY_MIN_BYTES
