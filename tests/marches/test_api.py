"""The redemption API contract (docs/api.md): what scanners and scripts rely on."""

from __future__ import annotations

import datetime
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.formats import date_format

from coupons import codes
from coupons.models import Coupon
from coupons.selectors import qr_text_for
from marches.models import Redemption, ScanRejection
from marches.services import revoke_device
from tests.factories import CouponFactory, ProgramFactory, VendorFactory, make_device

pytestmark = [pytest.mark.django_db, pytest.mark.api]

URL = "/api/v1/redemptions"


def post(client: Client, token: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        URL,
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", **headers},
    )


def scan(code: str, client_id: uuid.UUID | None = None, **extra: Any) -> dict[str, Any]:
    return {"code": code, "client_id": str(client_id or uuid.uuid4()), **extra}


def test_a_valid_qr_code_is_accepted_once(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)

    response = post(client, world.a.token, scan(qr_text_for(coupon)))

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "accepted"
    assert body["coupon"] == {
        "serial": coupon.serial,
        "value": "5.00",
        "currency": "CAD",
        "program": world.a.program.slug,
        "valid_from": coupon.valid_from.isoformat(),
        "valid_until": coupon.valid_until.isoformat(),
    }
    assert body["market"] == world.a.market.slug
    assert body["vendor"] == world.a.vendor.slug
    redemption = Redemption.objects.get()
    assert body["redemption_id"] == redemption.pk
    assert redemption.device == world.a.device
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.REDEEMED


def test_the_manual_code_works_with_any_case_spaces_and_dashes(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    typed = " " + codes.format_code(coupon.code).lower().replace("-", " - ") + " "

    response = post(client, world.a.token, scan(typed))

    assert response.status_code == 201, response.json()
    assert response.json()["coupon"]["serial"] == coupon.serial


def test_replaying_a_client_id_gives_the_first_answer_and_writes_nothing(
    client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    body = scan(qr_text_for(coupon))
    first = post(client, world.a.token, body)

    again = post(client, world.a.token, body)
    # The manual code of the same coupon is the same scan too.
    by_code = post(client, world.a.token, {**body, "code": coupon.code})

    assert first.status_code == again.status_code == by_code.status_code == 201
    assert again.json()["redemption_id"] == first.json()["redemption_id"]
    assert again.json()["replayed"] is True
    assert Redemption.objects.count() == 1
    assert ScanRejection.objects.count() == 0


def test_a_rejected_scan_replayed_gets_the_same_rejection(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    post(client, world.a.token, scan(coupon.code))
    body = scan(coupon.code)
    first = post(client, world.a.token, body)

    again = post(client, world.a.token, body)

    assert first.status_code == again.status_code == 409
    assert first.json()["reason"] == again.json()["reason"] == "already_redeemed"
    assert ScanRejection.objects.count() == 1


def test_a_client_id_reused_for_another_code_is_refused(client: Client, world: Any) -> None:
    one, two = CouponFactory.create_batch(2, program=world.a.program)
    client_id = uuid.uuid4()
    post(client, world.a.token, scan(one.code, client_id))

    response = post(client, world.a.token, scan(two.code, client_id))

    assert response.status_code == 409
    assert response.json()["reason"] == "client_id_reused"
    two.refresh_from_db()
    assert two.status == Coupon.Status.ISSUED


def at_10_42() -> datetime.datetime:
    """Today at 10:42 in Quebec, as a scanner's clock would say."""
    return datetime.datetime.combine(
        timezone.localdate(), datetime.time(10, 42), tzinfo=ZoneInfo("America/Toronto")
    )


def test_a_second_scan_by_the_same_vendor_says_by_you_and_when(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    with time_machine.travel(at_10_42()):
        post(client, world.a.token, scan(coupon.code))
        response = post(client, world.a.token, scan(coupon.code))

    assert response.status_code == 409
    body = response.json()
    assert (body["status"], body["reason"]) == ("rejected", "already_redeemed")
    day = date_format(timezone.localdate(), "DATE_FORMAT")
    assert body["detail"] == f"Déjà échangé par vous à 10\xa0h\xa042 (le {day})."
    assert Redemption.objects.count() == 1


def test_a_scan_of_a_coupon_another_vendor_took_says_where_and_when(
    client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    other = VendorFactory(name="Ferme voisine", market=world.a.market)
    _device, token = make_device(other, world.a.market)
    with time_machine.travel(at_10_42()):
        post(client, token, scan(coupon.code))
        response = post(client, world.a.token, scan(coupon.code))

    detail = response.json()["detail"]
    day = date_format(timezone.localdate(), "DATE_FORMAT")
    assert f"par une autre entreprise le {day} à 10\xa0h\xa042" in detail
    assert world.a.market.name in detail
    assert "Ferme voisine" not in detail


def test_the_detail_follows_the_request_language(client: Client, world: Any) -> None:
    coupon = CouponFactory(
        program=world.a.program,
        valid_from=datetime.date(2020, 1, 1),
        valid_until=datetime.date(2020, 1, 31),
    )

    french = post(client, world.a.token, scan(coupon.code), **{"Accept-Language": "fr-CA"})
    english = post(client, world.a.token, scan(coupon.code), **{"Accept-Language": "en"})

    assert french.json()["reason"] == english.json()["reason"] == "expired"
    assert "expiré" in french.json()["detail"]
    assert "expired" in english.json()["detail"].lower()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"valid_from": -30, "valid_until": -1}, "expired"),
        ({"valid_from": 5, "valid_until": 30}, "not_yet_valid"),
        ({"status": Coupon.Status.VOID, "voided_at": "now"}, "void"),
    ],
)
def test_coupons_in_a_wrong_state_are_refused_with_409(
    client: Client, world: Any, change: dict[str, Any], reason: str
) -> None:
    today = timezone.localdate()
    fields = {
        key: today + datetime.timedelta(days=value) if key.startswith("valid_") else value
        for key, value in change.items()
    }
    if fields.get("voided_at") == "now":
        fields["voided_at"] = timezone.now()
    coupon = CouponFactory(program=world.a.program, **fields)

    response = post(client, world.a.token, scan(qr_text_for(coupon)))

    assert response.status_code == 409
    assert response.json()["reason"] == reason
    assert response.json()["detail"]
    assert Redemption.objects.count() == 0


def test_a_coupon_of_another_program_is_not_accepted_at_this_market(
    client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.b.program)

    response = post(client, world.a.token, scan(coupon.code))

    assert response.status_code == 409
    assert response.json()["reason"] == "not_accepted_here"
    assert Redemption.objects.count() == 0


def test_a_coupon_of_another_program_says_nothing_about_itself(client: Client, world: Any) -> None:
    spent = CouponFactory(program=world.b.program)
    post(client, world.b.token, scan(spent.code))

    response = post(client, world.a.token, scan(qr_text_for(spent)))
    check = client.get(
        f"/api/v1/coupons/{spent.code}", headers={"Authorization": f"Bearer {world.a.token}"}
    )

    for answer in (response, check):
        body = answer.json()
        assert answer.status_code == 409
        assert body["reason"] == "not_accepted_here"
        assert body["coupon"] is None
        assert world.b.market.name not in body["detail"]
        assert world.b.vendor.name not in body["detail"]


def test_another_vendors_client_id_is_not_replayed_to_you(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    world.b.market.programs.add(world.a.program)
    body = scan(coupon.code)
    first = post(client, world.b.token, body)

    response = post(client, world.a.token, body)

    assert first.status_code == 201
    assert response.status_code == 409
    assert response.json()["reason"] == "client_id_reused"
    assert response.json()["redemption_id"] is None
    assert Redemption.objects.get().vendor == world.b.vendor


@pytest.mark.parametrize(
    "scanned_at", ["2026-07-04T10:42:00", "0001-01-01T00:30:00+01:00", "2000-01-01T00:00:00Z"]
)
def test_a_scan_time_without_zone_or_too_old_is_refused(
    client: Client, world: Any, scanned_at: str
) -> None:
    coupon = CouponFactory(program=world.a.program)

    response = post(client, world.a.token, scan(coupon.code, scanned_at=scanned_at))

    assert response.status_code == 422
    assert response.json()["reason"] == "invalid_request"
    assert Redemption.objects.count() == 0


def test_a_category_the_program_does_not_accept_is_refused(client: Client, world: Any) -> None:
    from tests.factories import CategoryFactory

    CategoryFactory(slug="plants-semis", name_fr="Plants", name_en="Seedlings")
    coupon = CouponFactory(program=world.a.program)

    refused = post(client, world.a.token, scan(coupon.code, category="plants-semis"))
    unknown = post(client, world.a.token, scan(coupon.code, category="nope"))
    accepted = post(client, world.a.token, scan(coupon.code, category="fruits-legumes"))

    assert refused.status_code == unknown.status_code == 409
    assert refused.json()["reason"] == unknown.json()["reason"] == "not_accepted_here"
    assert accepted.status_code == 201
    assert Redemption.objects.get().category.slug == "fruits-legumes"


def test_every_single_character_change_of_a_qr_is_rejected_without_a_server_error(
    client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    qr = qr_text_for(coupon)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    # Every position, one substitution each (the exhaustive sweep is in test_signing.py).
    for position in range(len(qr)):
        replacement = alphabet[(alphabet.find(qr[position]) + 1) % len(alphabet)]
        forged = qr[:position] + replacement + qr[position + 1 :]

        response = post(client, world.a.token, scan(forged))

        assert response.status_code == 422, (position, response.content)
        assert response.json()["reason"] in {"invalid_code", "bad_signature"}
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
    assert Redemption.objects.count() == 0


def test_a_qr_signed_by_another_key_is_a_bad_signature(
    client: Client, world: Any, settings: Any
) -> None:
    from coupons.signing import generate_seed_setting

    coupon = CouponFactory(program=world.a.program)
    settings.COUPON_SIGNING_KEYS = generate_seed_setting(1)
    forged = qr_text_for(coupon)
    settings.COUPON_SIGNING_KEYS = generate_seed_setting(1)

    response = post(client, world.a.token, scan(forged))

    assert response.status_code == 422
    assert response.json()["reason"] == "bad_signature"


@pytest.mark.parametrize(
    "code", ["", "   ", "HELLO", "PCN1:", "PCN1:AAAA", "2345-6789-ABCD-EF", "x" * 600, "é"]
)
def test_malformed_codes_are_422_never_500(client: Client, world: Any, code: str) -> None:
    response = post(client, world.a.token, scan(code))

    assert response.status_code == 422
    assert response.json()["status"] == "rejected"
    assert response.json()["reason"] in {"invalid_code", "bad_signature", "invalid_request"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "ABC"},
        {"code": "ABC", "client_id": "not-a-uuid"},
        {"code": 12, "client_id": str(uuid.uuid4()), "scanned_at": "yesterday"},
        [],
    ],
)
def test_malformed_requests_are_422(client: Client, world: Any, body: Any) -> None:
    response = post(client, world.a.token, body)

    assert response.status_code == 422
    assert response.json()["reason"] == "invalid_request"


def test_a_body_that_is_not_json_is_a_clear_error(client: Client, world: Any) -> None:
    response = client.post(
        URL,
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.a.token}"},
    )

    assert response.status_code in {400, 422}


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic abc", "Bearer pcn_x"])
def test_without_a_valid_token_the_answer_is_401(
    client: Client, world: Any, header: str | None
) -> None:
    coupon = CouponFactory(program=world.a.program)
    headers = {"Authorization": header} if header else {}

    response = client.post(URL, scan(coupon.code), content_type="application/json", headers=headers)

    assert response.status_code == 401
    assert Redemption.objects.count() == 0


def test_a_revoked_device_is_401(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    revoke_device(device=world.a.device)

    response = post(client, world.a.token, scan(coupon.code))

    assert response.status_code == 401


def test_scanned_at_is_recorded_but_a_future_one_is_clamped(client: Client, world: Any) -> None:
    one, two = CouponFactory.create_batch(2, program=world.a.program)
    earlier = timezone.now() - datetime.timedelta(minutes=30)
    later = timezone.now() + datetime.timedelta(days=2)

    post(client, world.a.token, scan(one.code, scanned_at=earlier.isoformat()))
    post(client, world.a.token, scan(two.code, scanned_at=later.isoformat()))

    assert Redemption.objects.get(coupon=one).scanned_at == earlier
    assert Redemption.objects.get(coupon=two).scanned_at <= timezone.now()


def test_checking_a_coupon_redeems_nothing(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    auth = {"Authorization": f"Bearer {world.a.token}"}

    valid = client.get(f"/api/v1/coupons/{coupon.code}", headers=auth)
    post(client, world.a.token, scan(coupon.code))
    spent = client.get(f"/api/v1/coupons/{codes.format_code(coupon.code)}", headers=auth)
    bad = client.get("/api/v1/coupons/NOT-A-CODE", headers=auth)
    anonymous = client.get(f"/api/v1/coupons/{coupon.code}")

    assert valid.status_code == 200
    assert valid.json()["status"] == "valid"
    assert spent.status_code == 409
    assert spent.json()["reason"] == "already_redeemed"
    assert bad.status_code == 422
    assert anonymous.status_code == 401
    assert Redemption.objects.count() == 1


def test_a_checked_qr_text_can_travel_in_the_path(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    auth = {"Authorization": f"Bearer {world.a.token}"}

    response = client.get(f"/api/v1/coupons/{qr_text_for(coupon)}", headers=auth)

    assert response.status_code == 200, response.content


def test_the_openapi_description_is_served(client: Client, db: Any) -> None:
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/redemptions" in paths
    assert "/api/v1/coupons/{code}" in paths


def test_a_program_season_change_does_not_break_printed_coupons(client: Client, world: Any) -> None:
    # The QR carries the dates it was printed with; the database stays the authority.
    program = ProgramFactory()
    program.markets.add(world.a.market)
    coupon = CouponFactory(program=program)
    qr = qr_text_for(coupon)
    Coupon.objects.filter(pk=coupon.pk).update(
        valid_until=timezone.localdate() - datetime.timedelta(days=1),
        valid_from=timezone.localdate() - datetime.timedelta(days=10),
    )

    response = post(client, world.a.token, scan(qr))

    assert response.status_code == 409
    assert response.json()["reason"] == "expired"


def test_a_redemption_costs_a_bounded_number_of_queries(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    text = qr_text_for(coupon)  # signing may read the keys: not the redemption's cost
    post(client, world.a.token, scan(CouponFactory(program=world.a.program).code))  # warm up

    # The device with its vendor and market (by token hash); the coupon with its program; then,
    # in a savepoint (under the test's own transaction), the conditional UPDATE that takes the
    # coupon (it also checks that this market takes its program and that the client_id was not
    # refused before) and the INSERT of the redemption: one statement on PostgreSQL, two on
    # SQLite. Outside a transaction, PostgreSQL needs no savepoint: three statements in all.
    expected = 5 if connection.vendor == "postgresql" else 6
    with django_assert_max_num_queries(expected):
        response = post(client, world.a.token, scan(text))

    assert response.status_code == 201
