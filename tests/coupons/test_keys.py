"""Signing keys: rotated in the database, cached per process, checked before deployment; and
a tampered QR is refused before the database is ever asked."""

from __future__ import annotations

import base64
import datetime
import io
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from coupons import keys, qr, signing
from coupons.keys import (
    RELOAD_INTERVAL,
    SigningKeyError,
    check_signing_keys,
    keyring,
    public_keys,
    rotate_signing_key,
)
from coupons.models import Coupon, SigningKey
from coupons.selectors import CodeError, qr_text_for, resolve_scanned_code
from coupons.signing import CouponClaims, Keyring, generate_seed_setting
from programmes.money import to_cents
from tests.factories import CouponFactory

QR_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@pytest.fixture(autouse=True)
def _fresh_keyring() -> Iterator[None]:
    """Each test starts with an empty cache and leaves none behind (the test database rolls
    back, the process's cache would not)."""
    keys.clear_keyring_cache()
    yield
    keys.clear_keyring_cache()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The keyring's clock, moved by hand: clock[0] is "now" in seconds."""
    now = [1_000_000.0]
    monkeypatch.setattr(keys, "_clock", lambda: now[0])
    return now


def kid_of(text: str) -> int:
    """The key id in a QR text: byte 1 of the base32 payload."""
    body = text[len("PCN1:") :]
    return base64.b32decode(body + "=" * (-len(body) % 8))[1]


def claims_of(coupon: Coupon) -> CouponClaims:
    return CouponClaims(
        code=coupon.code,
        program_id=coupon.program_id,
        value_cents=to_cents(coupon.value),
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
    )


def fresh_seed() -> str:
    return generate_seed_setting(0).partition(":")[2]


def sign_with(coupon: Coupon, kid: int, seed: str) -> str:
    return signing.encode_qr(claims_of(coupon), Keyring.from_setting(f"{kid}:{seed}"))


def redeem(client: Client, token: str, code: str) -> Any:
    return client.post(
        "/api/v1/redemptions",
        {"code": code, "client_id": str(uuid.uuid4())},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


# Deployment checks


def deploy_check() -> list[str]:
    """The check as `manage.py check --deploy --database default` runs it."""
    return [message.id for message in check_signing_keys(databases=["default"])]


def test_a_missing_signing_key_is_flagged_for_deployment(db: Any, settings: Any) -> None:
    settings.COUPON_SIGNING_KEYS = ""

    assert deploy_check() == ["coupons.W001"]


def test_a_key_in_the_database_is_enough_for_deployment(db: Any, settings: Any) -> None:
    settings.COUPON_SIGNING_KEYS = ""
    rotate_signing_key()

    assert deploy_check() == []
    deploy = checks.run_checks(include_deployment_checks=True, databases=["default"])
    assert not {"coupons.W001", "coupons.W002"} & {message.id for message in deploy}


def test_without_the_database_the_check_does_not_query_it_and_says_so(
    db: Any, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.COUPON_SIGNING_KEYS = ""
    rotate_signing_key()

    with django_assert_num_queries(0):
        messages = check_signing_keys()

    assert ids(messages) == ["coupons.W001"]
    assert "--database default" in messages[0].msg


def test_an_unreadable_key_table_is_a_warning_not_a_crash(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise DatabaseError("no such table: coupons_signingkey")

    monkeypatch.setattr(keys, "_database_rows", broken)

    assert deploy_check() == ["coupons.W001", "coupons.W002"]


def test_a_malformed_signing_key_is_an_error(db: Any, settings: Any) -> None:
    settings.COUPON_SIGNING_KEYS = "1:not-base64!"

    assert deploy_check() == ["coupons.E001"]


def test_a_proper_signing_key_passes(db: Any, settings: Any) -> None:
    settings.COUPON_SIGNING_KEYS = generate_seed_setting(3)

    assert deploy_check() == []
    assert check_signing_keys() == []


def test_a_kid_in_both_places_with_different_seeds_is_an_error(db: Any, settings: Any) -> None:
    env_seed, other_seed = fresh_seed(), fresh_seed()
    settings.COUPON_SIGNING_KEYS = f"3:{env_seed}"
    SigningKey.objects.create(kid=3, seed=other_seed)

    assert deploy_check() == ["coupons.E002"]

    # At run time the settings' key wins: what the database row signed is refused.
    coupon = CouponFactory()
    assert resolve_scanned_code(sign_with(coupon, 3, env_seed)) == coupon
    with pytest.raises(CodeError) as excinfo:
        resolve_scanned_code(sign_with(coupon, 3, other_seed))
    assert excinfo.value.code == "bad_signature"


def test_a_kid_in_both_places_with_the_same_seed_is_fine(db: Any, settings: Any) -> None:
    seed = fresh_seed()
    settings.COUPON_SIGNING_KEYS = f"3:{seed}"
    SigningKey.objects.create(kid=3, seed=seed)

    assert deploy_check() == []


def test_a_database_key_that_no_longer_decrypts_is_an_error_not_a_crash(
    db: Any, settings: Any
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    coupon = CouponFactory()
    old_text = qr_text_for(coupon)  # the derived key, kid 1
    rotate_signing_key()
    assert kid_of(qr_text_for(coupon)) == 2

    # The encryption keys are lost: the seed of kid 2 can no longer be read. Changing the
    # setting also resets the cached keyring.
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    assert deploy_check() == ["coupons.E003"]
    assert kid_of(qr_text_for(coupon)) == 1  # signing falls back to the settings' key
    assert resolve_scanned_code(old_text) == coupon


# Rotation


def test_after_a_rotation_new_coupons_carry_the_new_kid_and_old_ones_still_redeem(
    client: Client, world: Any
) -> None:
    old_coupon = CouponFactory(program=world.a.program)
    old_text = qr_text_for(old_coupon)
    assert kid_of(old_text) == 1

    key = rotate_signing_key()

    new_coupon = CouponFactory(program=world.a.program)
    new_text = qr_text_for(new_coupon)
    assert key.kid == 2
    assert kid_of(new_text) == 2
    assert redeem(client, world.a.token, old_text).status_code == 201
    assert redeem(client, world.a.token, new_text).status_code == 201
    assert set(Coupon.objects.values_list("status", flat=True)) == {Coupon.Status.REDEEMED}


def test_a_second_rotation_retires_the_first_key_which_still_verifies(
    client: Client, world: Any
) -> None:
    moment = datetime.datetime(2026, 6, 1, 12, tzinfo=datetime.UTC)
    first = rotate_signing_key(now=moment)
    coupon = CouponFactory(program=world.a.program)
    text_of_first = qr_text_for(coupon)

    later = moment + datetime.timedelta(days=1)
    second = rotate_signing_key(now=later)

    first.refresh_from_db()
    assert (first.kid, second.kid) == (2, 3)
    assert first.retired_at == later
    assert second.retired_at is None
    assert kid_of(text_of_first) == 2
    assert kid_of(qr_text_for(CouponFactory(program=world.a.program))) == 3
    assert redeem(client, world.a.token, text_of_first).status_code == 201


def test_the_new_kid_is_above_every_kid_of_the_settings_and_the_database(
    db: Any, settings: Any
) -> None:
    settings.COUPON_SIGNING_KEYS = f"{generate_seed_setting(4)},{generate_seed_setting(7)}"
    assert rotate_signing_key().kid == 8

    settings.COUPON_SIGNING_KEYS = generate_seed_setting(4)
    assert rotate_signing_key().kid == 9


def test_there_is_no_kid_after_255(db: Any, settings: Any) -> None:
    settings.COUPON_SIGNING_KEYS = generate_seed_setting(255)

    with pytest.raises(SigningKeyError) as excinfo:
        rotate_signing_key()

    assert excinfo.value.code == "no_kid_left"
    assert "255" in excinfo.value.message
    assert not SigningKey.objects.exists()
    with pytest.raises(CommandError, match="255"):
        call_command("rotate_signing_key", stdout=io.StringIO())


def test_two_rotations_picking_the_same_kid_leave_one_key_signing(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = rotate_signing_key()
    # The other process computed its kid before this one's row existed.
    monkeypatch.setattr(keys, "next_signing_kid", lambda: first.kid)

    with pytest.raises(SigningKeyError) as excinfo:
        rotate_signing_key()

    assert excinfo.value.code == "concurrent_rotation"
    first.refresh_from_db()
    assert first.retired_at is None  # the whole rotation rolled back
    assert SigningKey.objects.count() == 1


def test_the_command_rotates_and_says_what_it_did(db: Any) -> None:
    out = io.StringIO()

    call_command("rotate_signing_key", stdout=out)

    output = out.getvalue()
    assert "New signing key kid 2 is now signing; keys that still verify: 1, 2" in output
    assert "stay valid until they expire" in output
    assert list(SigningKey.objects.values_list("kid", flat=True)) == [2]
    assert keyring().active_kid == 2


def test_the_command_dry_run_writes_nothing(db: Any) -> None:
    out = io.StringIO()

    call_command("rotate_signing_key", "--dry-run", stdout=out)

    assert "Dry run: would add signing key kid 2" in out.getvalue()
    assert "keys that would still verify: 1, 2" in out.getvalue()
    assert not SigningKey.objects.exists()
    assert keyring().active_kid == 1


def test_the_seed_is_encrypted_at_rest(db: Any) -> None:
    key = rotate_signing_key()
    assert key.seed is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT seed FROM coupons_signingkey WHERE kid = %s", [key.kid])
        (stored,) = cursor.fetchone()

    assert key.seed not in stored
    assert key.seed.rstrip("=") not in stored
    assert SigningKey.objects.get(kid=key.kid).seed == key.seed


def test_public_keys_list_every_key_that_verifies(db: Any) -> None:
    before = public_keys()
    key = rotate_signing_key()
    rotate_signing_key()

    after = public_keys()

    assert list(before) == [1]
    assert list(after) == [1, 2, 3]
    assert after[1] == before[1]
    assert after[key.kid] == Keyring.from_setting(f"{key.kid}:{key.seed}").public_keys_b64()[2]
    for encoded in after.values():
        assert len(base64.urlsafe_b64decode(encoded + "=")) == 32


# The per-process cache


def test_a_redemption_spends_no_query_on_keys(db: Any, django_assert_num_queries: Any) -> None:
    rotate_signing_key()
    coupon = CouponFactory()
    text = qr_text_for(coupon)  # fills the cache

    # the coupon, nothing for the keys

    with django_assert_num_queries(1):
        assert resolve_scanned_code(text) == coupon


def test_a_stale_cache_learns_of_a_rotation_done_by_another_process(
    db: Any, django_assert_num_queries: Any
) -> None:
    coupon = CouponFactory()
    assert keyring().active_kid == 1  # this process's cache, before the rotation
    seed = fresh_seed()
    SigningKey.objects.create(kid=9, seed=seed)  # another process rotated
    text = sign_with(coupon, 9, seed)

    # the keys (reload), then the coupon

    with django_assert_num_queries(2):
        assert resolve_scanned_code(text) == coupon
    # the coupon only
    with django_assert_num_queries(1):
        assert resolve_scanned_code(text) == coupon
    assert kid_of(qr_text_for(coupon)) == 9  # and this process now signs with it


def test_a_cached_keyring_is_read_again_after_max_age(
    db: Any, clock: list[float], django_assert_num_queries: Any
) -> None:
    assert keyring().active_kid == 1
    SigningKey.objects.create(kid=5, seed=fresh_seed())  # another process rotated

    clock[0] += keys.MAX_AGE - 1
    with django_assert_num_queries(0):
        assert keyring().active_kid == 1
    clock[0] += 1
    with django_assert_num_queries(1):
        assert keyring().active_kid == 5


@pytest.mark.parametrize(
    "setting, value",
    [
        ("COUPON_SIGNING_KEYS", generate_seed_setting(1)),
        ("SECRET_KEY", "another-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789"),
        ("FIELD_ENCRYPTION_KEYS", [Fernet.generate_key().decode()]),
    ],
    ids=["COUPON_SIGNING_KEYS", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS"],
)
def test_changing_a_key_setting_resets_the_cache(
    db: Any, settings: Any, setting: str, value: Any, django_assert_num_queries: Any
) -> None:
    keyring()
    with django_assert_num_queries(0):
        keyring()

    setattr(settings, setting, value)

    with django_assert_num_queries(1):
        keyring()


# Tampered QR texts are refused before any database query


def _single_changes(text: str) -> Iterator[str]:
    for position, original in enumerate(text):
        for replacement in QR_ALPHANUMERIC:
            if replacement != original:
                yield text[:position] + replacement + text[position + 1 :]


def _drops(text: str) -> Iterator[str]:
    for position in range(len(text)):
        yield text[:position] + text[position + 1 :]


def _swaps(text: str) -> Iterator[str]:
    for position in range(len(text) - 1):
        left, right = text[position], text[position + 1]
        if left != right:
            yield text[:position] + right + left + text[position + 2 :]


def _claimed_kid(text: str) -> int | None:
    """The kid a mutant claims, if it still decodes as base32 to a full payload."""
    try:
        return kid_of(text) if text.startswith("PCN1:") and len(text) == 145 else None
    except ValueError:
        return None


def test_every_changed_dropped_or_swapped_character_is_refused_without_a_query(
    db: Any, django_assert_num_queries: Any
) -> None:
    rotate_signing_key()
    coupon = CouponFactory()
    text = qr_text_for(coupon)
    assert kid_of(text) == 2
    known = set(keyring().public_keys)
    mutants = {*_single_changes(text), *_drops(text), *_swaps(text)} - {text}
    assert len(mutants) > len(text) * 40

    other_kids: list[str] = []
    for mutant in sorted(mutants):
        if _claimed_kid(mutant) not in {None, *known}:
            other_kids.append(mutant)  # claims a kid nobody has: see below
            continue
        with django_assert_num_queries(0), pytest.raises(CodeError) as excinfo:
            resolve_scanned_code(mutant)
        assert excinfo.value.code in {"invalid_code", "bad_signature"}, mutant

    # A change in the kid's bits claims a kid this process does not know: it may reload the
    # keys once (a rotation elsewhere?), and only once however many such texts come in.
    assert other_kids
    with CaptureQueriesContext(connection) as queries:
        for mutant in other_kids:
            with pytest.raises(CodeError) as excinfo:
                resolve_scanned_code(mutant)
            assert excinfo.value.code in {"invalid_code", "bad_signature"}, mutant
    assert len(queries) <= 1
    assert resolve_scanned_code(text) == coupon  # the original still works


def test_claims_re_signed_under_an_unknown_kid_cost_one_reload_then_none(
    db: Any, clock: list[float], django_assert_num_queries: Any
) -> None:
    coupon = CouponFactory()
    text = qr_text_for(coupon)
    assert kid_of(text) == 1
    forgeries = {kid: sign_with(coupon, kid, fresh_seed()) for kid in (0, 1, 2, 77, 200, 255)}

    # a known kid, another key: the signature fails

    with django_assert_num_queries(0), pytest.raises(CodeError, match="bad_signature"):
        resolve_scanned_code(forgeries[1])
    # below every known kid: cannot be a new rotation
    with django_assert_num_queries(0), pytest.raises(CodeError, match="bad_signature"):
        resolve_scanned_code(forgeries[0])
    # unknown and higher: reload the keys once
    with django_assert_num_queries(1), pytest.raises(CodeError, match="bad_signature"):
        resolve_scanned_code(forgeries[77])
    for kid in (2, 77, 200, 255, 2, 200):  # a flood of forged kids: no more reloads
        with django_assert_num_queries(0), pytest.raises(CodeError, match="bad_signature"):
            resolve_scanned_code(forgeries[kid])

    clock[0] += RELOAD_INTERVAL - 0.5
    with django_assert_num_queries(0), pytest.raises(CodeError, match="bad_signature"):
        resolve_scanned_code(forgeries[200])
    clock[0] += 0.5
    # once the interval has passed, one more reload
    with django_assert_num_queries(1), pytest.raises(CodeError, match="bad_signature"):
        resolve_scanned_code(forgeries[255])
    with django_assert_num_queries(0), pytest.raises(CodeError, match="bad_signature"):
        resolve_scanned_code(forgeries[255])


def test_a_real_coupon_qr_fits_version_8_at_level_m_in_the_qr_alphanumeric_set(
    db: Any, settings: Any
) -> None:
    settings.COUPON_SIGNING_KEYS = generate_seed_setting(255)  # the largest kid
    coupon = CouponFactory(value=Decimal("9999.99"))

    text = qr_text_for(coupon)

    assert qr.ERROR_CORRECTION == "M"
    assert qr.qr_version(text) <= 8
    assert set(text) <= set(QR_ALPHANUMERIC)
    assert kid_of(text) == 255
