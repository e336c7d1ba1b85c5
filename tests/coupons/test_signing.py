"""Signed QR payloads: verified offline, canonical, and tamper-evident to the last character."""

from __future__ import annotations

import base64
import datetime
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from coupons import codes, qr, signing
from coupons.signing import CouponClaims, Keyring, QRDecodeError

SEED_A = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
SEED_B = base64.urlsafe_b64encode(bytes(range(100, 132))).decode()  # with '=' padding
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

KEYRING = Keyring.from_setting(f"1:{SEED_A}")
CLAIMS = CouponClaims(
    code=codes.int_to_code(123_456_789_012_345),
    program_id=42,
    value_cents=500,
    valid_from=datetime.date(2026, 6, 1),
    valid_until=datetime.date(2026, 10, 31),
)


@pytest.fixture(autouse=True)
def _fast_and_french() -> None:
    """These tests are pure Python: they replace the shared fixture that needs Django."""


def _claims_strategy() -> st.SearchStrategy[CouponClaims]:
    epoch = signing.DATE_EPOCH
    day = st.integers(min_value=0, max_value=2**16 - 1)

    @st.composite
    def build(draw: st.DrawFn) -> CouponClaims:
        first, last = sorted((draw(day), draw(day)))
        return CouponClaims(
            code=codes.int_to_code(draw(st.integers(0, codes.MAX_DATA_INT - 1))),
            program_id=draw(st.integers(0, 2**32 - 1)),
            value_cents=draw(st.integers(0, 2**32 - 1)),
            valid_from=epoch + datetime.timedelta(days=first),
            valid_until=epoch + datetime.timedelta(days=last),
        )

    return build()


def _decode_error(text: str, keys: Keyring = KEYRING) -> str:
    with pytest.raises(QRDecodeError) as excinfo:
        signing.decode_qr(text, keys)
    return excinfo.value.code


def _forge(header_fields: tuple[int, ...], key: Ed25519PrivateKey) -> str:
    """Build a correctly signed text from raw header fields, bypassing encode_qr's checks."""
    version, kid, code, program, value, first, last = header_fields
    header = struct.pack(">BB", version, kid) + code.to_bytes(9, "big")
    header += struct.pack(">IIHH", program, value, first, last)
    signature = key.sign(signing.SIGNING_CONTEXT + header)
    return "PCN1:" + base64.b32encode(header + signature).decode().rstrip("=")


def test_qr_text_shape() -> None:
    text = signing.encode_qr(CLAIMS, KEYRING)
    assert text.startswith("PCN1:")
    assert len(text) == signing.QR_TEXT_LENGTH == 145
    assert "=" not in text and " " not in text and "-" not in text
    assert set(text) <= QR_ALPHANUMERIC
    assert codes.normalize(text) == text
    assert signing.is_qr_text(text)
    assert signing.is_qr_text(" " + text.lower())
    assert not signing.is_qr_text(CLAIMS.code)


def test_encoding_is_deterministic() -> None:
    assert signing.encode_qr(CLAIMS, KEYRING) == signing.encode_qr(CLAIMS, KEYRING)


@settings(max_examples=200)
@given(claims=_claims_strategy())
def test_round_trip(claims: CouponClaims) -> None:
    text = signing.encode_qr(claims, KEYRING)
    assert len(text) == signing.QR_TEXT_LENGTH
    assert signing.decode_qr(text, KEYRING) == claims
    assert signing.decode_qr(text, KEYRING.public_keys) == claims


def test_decode_accepts_lowercase_spaces_and_dashes() -> None:
    text = signing.encode_qr(CLAIMS, KEYRING)
    messy = "  " + " ".join(text[i : i + 7] for i in range(0, len(text), 7)).lower() + "\n"
    messy = messy.replace("q", "q-", 3).replace("A", "\u2013A")
    assert signing.decode_qr(messy, KEYRING) == CLAIMS


def test_every_single_character_change_is_rejected() -> None:
    text = signing.encode_qr(CLAIMS, KEYRING)
    outcomes: set[str] = set()
    for position, original in enumerate(text):
        for replacement in BASE32:
            if replacement == original:
                continue
            changed = text[:position] + replacement + text[position + 1 :]
            try:
                signing.decode_qr(changed, KEYRING)
            except QRDecodeError as exc:
                assert exc.code in {"invalid_code", "bad_signature"}
                outcomes.add(exc.code)
            else:  # pragma: no cover - this would be a forgery
                pytest.fail(f"changed character at {position} to {replacement!r} was accepted")
    assert outcomes == {"invalid_code", "bad_signature"}


def test_padding_bits_of_the_last_character_are_not_free() -> None:
    text = signing.encode_qr(CLAIMS, KEYRING)
    # The last character carries 1 payload bit and 4 padding bits: flipping a padding bit
    # decodes to the same bytes, but the text is not canonical.
    last = BASE32.index(text[-1])
    for bit in range(4):
        twin = text[:-1] + BASE32[last ^ (1 << bit)]
        assert base64.b32decode(twin[5:] + "====") == base64.b32decode(text[5:] + "====")
        assert _decode_error(twin) == "invalid_code"


@pytest.mark.parametrize("cut", [1, 2, 7, 8, 50, 140])
def test_truncation_is_invalid(cut: int) -> None:
    text = signing.encode_qr(CLAIMS, KEYRING)
    assert _decode_error(text[:-cut]) == "invalid_code"


@pytest.mark.parametrize("extra", ["A", "AA", "AAAAAAAA", "=", "====", "Q" * 40])
def test_extension_is_invalid(extra: str) -> None:
    text = signing.encode_qr(CLAIMS, KEYRING)
    assert _decode_error(text + extra) == "invalid_code"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PCN1:",
        "PCN2:" + "A" * 140,
        "PCN1" + "A" * 141,
        "PCN1:" + "1" * 140,
        "PCN1:" + "é" * 140,
        codes.int_to_code(7),
        "PCN1:" + "A" * 139 + "=",
        "PCN1:" + "A" * 136 + "====",
    ],
)
def test_malformed_texts_are_invalid(text: str) -> None:
    assert _decode_error(text) == "invalid_code"


def test_unknown_kid_is_a_bad_signature() -> None:
    other = Keyring.from_setting(f"7:{SEED_A}")
    text = signing.encode_qr(CLAIMS, other)
    assert _decode_error(text) == "bad_signature"


def test_another_key_under_the_same_kid_is_a_bad_signature() -> None:
    impostor = Keyring.from_setting(f"1:{SEED_B}")
    text = signing.encode_qr(CLAIMS, impostor)
    assert _decode_error(text) == "bad_signature"


def test_signature_is_domain_separated() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    text = signing.encode_qr(CLAIMS, KEYRING)
    payload = base64.b32decode(text[5:] + "====")
    header, signature = payload[:23], payload[23:]
    assert signature == key.sign(b"PCN-coupon-v1\x00" + header)
    assert signature != key.sign(header)


def test_rotation_signs_with_the_first_key_and_verifies_older_ones() -> None:
    old = Keyring.from_setting(f"1:{SEED_A}")
    rotated = Keyring.from_setting(f"2:{SEED_B},1:{SEED_A}")
    assert rotated.active_kid == 2
    old_text = signing.encode_qr(CLAIMS, old)
    new_text = signing.encode_qr(CLAIMS, rotated)
    assert base64.b32decode(new_text[5:] + "====")[1] == 2
    assert signing.decode_qr(old_text, rotated) == CLAIMS
    assert signing.decode_qr(new_text, rotated) == CLAIMS
    assert _decode_error(new_text, old) == "bad_signature"


def test_signed_but_structurally_wrong_payloads_are_invalid() -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    good = (1, 1, 5, 42, 500, 10, 20)
    assert signing.decode_qr(_forge(good, key), KEYRING).program_id == 42
    assert _decode_error(_forge((2, *good[1:]), key)) == "invalid_code"  # version
    assert _decode_error(_forge((1, 1, codes.MAX_DATA_INT, 42, 500, 10, 20), key)) == (
        "invalid_code"
    )
    assert _decode_error(_forge((1, 1, 2**72 - 1, 42, 500, 10, 20), key)) == "invalid_code"
    assert _decode_error(_forge((1, 1, 5, 42, 500, 21, 20), key)) == "invalid_code"  # dates


def test_encode_rejects_claims_that_do_not_fit() -> None:
    epoch = signing.DATE_EPOCH
    bad = [
        CouponClaims("NOTACODE", 1, 1, CLAIMS.valid_from, CLAIMS.valid_until),
        CouponClaims(
            CLAIMS.code[:-1] + "2" if CLAIMS.code[-1] != "2" else CLAIMS.code[:-1] + "3",
            1,
            1,
            CLAIMS.valid_from,
            CLAIMS.valid_until,
        ),
        CouponClaims(CLAIMS.code, -1, 1, CLAIMS.valid_from, CLAIMS.valid_until),
        CouponClaims(CLAIMS.code, 2**32, 1, CLAIMS.valid_from, CLAIMS.valid_until),
        CouponClaims(CLAIMS.code, 1, -1, CLAIMS.valid_from, CLAIMS.valid_until),
        CouponClaims(CLAIMS.code, 1, 2**32, CLAIMS.valid_from, CLAIMS.valid_until),
        CouponClaims(CLAIMS.code, 1, 1, epoch - datetime.timedelta(days=1), CLAIMS.valid_until),
        CouponClaims(CLAIMS.code, 1, 1, epoch, epoch + datetime.timedelta(days=2**16)),
        CouponClaims(CLAIMS.code, 1, 1, CLAIMS.valid_until, CLAIMS.valid_from),
    ]
    for claims in bad:
        with pytest.raises(ValueError):
            signing.encode_qr(claims, KEYRING)


def test_fits_qr_version_8_at_error_correction_m() -> None:
    qrcode = pytest.importorskip("qrcode")
    worst = CouponClaims(
        code=codes.int_to_code(codes.MAX_DATA_INT - 1),
        program_id=2**32 - 1,
        value_cents=2**32 - 1,
        valid_from=signing.DATE_EPOCH,
        valid_until=signing.DATE_EPOCH + datetime.timedelta(days=2**16 - 1),
    )
    for claims in (CLAIMS, worst):
        qr = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(signing.encode_qr(claims, KEYRING))
        qr.make(fit=True)
        assert qr.version <= 8


def test_fits_qr_version_8_at_level_m_with_the_encoder_that_prints_it() -> None:
    # coupons.qr (zxing-cpp) draws every printed and on-screen QR; worst case: largest kid,
    # code, program, value and dates.
    worst = CouponClaims(
        code=codes.int_to_code(codes.MAX_DATA_INT - 1),
        program_id=2**32 - 1,
        value_cents=2**32 - 1,
        valid_from=signing.DATE_EPOCH,
        valid_until=signing.DATE_EPOCH + datetime.timedelta(days=2**16 - 1),
    )
    largest_kid = Keyring.from_setting(f"255:{SEED_B}")
    assert qr.ERROR_CORRECTION == "M"
    for claims, keys in ((CLAIMS, KEYRING), (worst, KEYRING), (worst, largest_kid)):
        text = signing.encode_qr(claims, keys)
        assert set(text) <= QR_ALPHANUMERIC
        assert qr.qr_version(text) <= 8


def test_from_setting_accepts_padded_and_unpadded_seeds_and_spaces() -> None:
    keyring = Keyring.from_setting(f" 2 : {SEED_B} , 1:{SEED_A}=")
    assert keyring.active_kid == 2
    assert set(keyring.private_keys) == set(keyring.public_keys) == {1, 2}
    assert keyring.public_keys_b64() == {
        **Keyring.from_setting(f"1:{SEED_A}").public_keys_b64(),
        **Keyring.from_setting(f"2:{SEED_B}").public_keys_b64(),
    }


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        ",",
        f"1:{SEED_A},",
        f",1:{SEED_A}",
        SEED_A,
        f":{SEED_A}",
        f"x:{SEED_A}",
        f"-1:{SEED_A}",
        f"256:{SEED_A}",
        f"1.5:{SEED_A}",
        "1:",
        "1:not base64!",
        f"1:{SEED_A[:-2]}",
        f"1:{SEED_A}AAAA",
        f"1:{SEED_A.replace('A', '+')}/",
        f"1:{SEED_A},1:{SEED_B}",
        f"1:{SEED_A},01:{SEED_B}",
    ],
)
def test_from_setting_rejects_malformed_values(value: str) -> None:
    with pytest.raises(ValueError):
        Keyring.from_setting(value)


def test_derived_from_secret_is_stable_and_secret_dependent() -> None:
    first = Keyring.derived_from_secret("django-insecure-secret")
    assert first.active_kid == 1
    assert (
        first.public_keys_b64()
        == Keyring.derived_from_secret("django-insecure-secret").public_keys_b64()
    )
    assert first.public_keys_b64() != Keyring.derived_from_secret("other").public_keys_b64()
    assert Keyring.derived_from_secret("s", kid=9).active_kid == 9
    text = signing.encode_qr(CLAIMS, first)
    assert signing.decode_qr(text, first) == CLAIMS
    with pytest.raises(ValueError):
        Keyring.derived_from_secret("")


def test_public_keys_b64_are_raw_32_byte_keys() -> None:
    encoded = KEYRING.public_keys_b64()
    assert list(encoded) == [1]
    raw = base64.urlsafe_b64decode(encoded[1] + "=" * (-len(encoded[1]) % 4))
    assert len(raw) == 32
    expected = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).public_key()
    assert raw == expected.public_bytes_raw()


def test_generate_seed_setting_makes_a_usable_fresh_key() -> None:
    first, second = signing.generate_seed_setting(3), signing.generate_seed_setting(3)
    assert first.startswith("3:") and first != second
    keyring = Keyring.from_setting(f"{first},{signing.generate_seed_setting(4)}")
    assert keyring.active_kid == 3
    assert signing.decode_qr(signing.encode_qr(CLAIMS, keyring), keyring) == CLAIMS
    with pytest.raises(ValueError):
        signing.generate_seed_setting(256)


def test_decode_error_carries_its_code() -> None:
    error = QRDecodeError("bad_signature", "nope")
    assert error.code == "bad_signature"
    assert str(error) == "nope"
    assert QRDecodeError("invalid_code").code == "invalid_code"


@given(
    body=st.one_of(
        st.text(max_size=200),
        st.text(alphabet=BASE32 + " -=", min_size=135, max_size=150),
    )
)
def test_arbitrary_text_only_ever_raises_qr_decode_error(body: str) -> None:
    with pytest.raises(QRDecodeError):
        signing.decode_qr("PCN1:" + body, KEYRING)
