"""The scanners' hot path (bench/README.md): a new scan of an issued coupon is taken by one
guarded statement and answered without django-ninja validating the answer again. What it
skips must not change any answer."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from ninja.renderers import JSONRenderer

from coupons.models import Coupon
from marches.api import VerdictOut, _body
from marches.models import Redemption, ScanRejection
from marches.redemptions import redeem_coupon, undo_redemption
from tests.factories import CouponFactory, ProgramFactory

pytestmark = [pytest.mark.django_db, pytest.mark.api]

URL = "/api/v1/redemptions"


def post(client: Client, token: str, code: str, client_id: uuid.UUID, **extra: Any) -> Any:
    return client.post(
        URL,
        {"code": code, "client_id": str(client_id), **extra},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def test_every_kind_of_answer_is_exactly_what_the_schema_would_render(world: Any) -> None:
    a = world.a
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    fresh, taken, expired = CouponFactory.create_batch(3, program=a.program)
    Coupon.objects.filter(pk=expired.pk).update(valid_until=yesterday, valid_from=yesterday)
    elsewhere = CouponFactory(program=ProgramFactory())
    redeem_coupon(code=taken.code, vendor=world.b.vendor, market=a.market, client_id=uuid.uuid4())

    def redeem(code: str, **extra: Any) -> Any:
        return redeem_coupon(
            code=code, vendor=a.vendor, market=a.market, client_id=uuid.uuid4(), **extra
        )

    verdicts = [
        redeem(fresh.code),  # accepted
        redeem(taken.code),  # already redeemed, where and when
        redeem(taken.code, offline=True),  # a conflict for review
        redeem(expired.code),
        redeem(elsewhere.code),  # not accepted here: the coupon is not described
        redeem("ABCD-EFGH"),  # invalid code
    ]
    assert {v.http_status for v in verdicts} == {201, 202, 409, 422}

    renderer = JSONRenderer()
    for verdict in verdicts:
        body = _body(verdict, a.device)
        schema = VerdictOut.model_validate(body).model_dump()
        assert list(body) == list(schema)
        rendered = renderer.render(None, body, response_status=verdict.http_status)
        assert rendered == renderer.render(None, schema, response_status=verdict.http_status)


def test_the_answer_of_a_redemption_keeps_its_documented_shape(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)

    response = post(client, world.a.token, coupon.code, uuid.uuid4())

    assert response.status_code == 201
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert list(response.json()) == list(VerdictOut.model_fields)
    assert response.json()["redemption_id"] == Redemption.objects.get().pk


def test_a_client_id_refused_before_does_not_take_a_fresh_coupon(
    client: Client, world: Any
) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    expired = CouponFactory(program=world.a.program, valid_from=yesterday, valid_until=yesterday)
    fresh = CouponFactory(program=world.a.program)
    client_id = uuid.uuid4()
    assert post(client, world.a.token, expired.code, client_id).json()["reason"] == "expired"

    response = post(client, world.a.token, fresh.code, client_id)

    assert response.status_code == 409
    assert response.json()["reason"] == "client_id_reused"
    fresh.refresh_from_db()
    assert fresh.status == Coupon.Status.ISSUED
    assert not Redemption.objects.exists()
    assert ScanRejection.objects.count() == 1


def test_an_undone_scan_sent_again_is_answered_undone_and_takes_nothing(
    client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    client_id = uuid.uuid4()
    assert post(client, world.a.token, coupon.code, client_id).status_code == 201
    undo_redemption(redemption=Redemption.objects.get(), undone_by=world.a.vendor_user)

    # The coupon is issued again, so this scan reaches the statement that takes coupons: the
    # unique client_id makes it write nothing, and the first scan's answer comes back.
    again = post(client, world.a.token, coupon.code, client_id)

    assert again.status_code == 409
    assert again.json()["reason"] == "undone"
    assert again.json()["replayed"] is True
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
    assert Redemption.objects.get().status == Redemption.Status.UNDONE


def test_a_market_that_stops_taking_a_program_refuses_its_coupons_at_once(
    client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    world.a.market.programs.remove(world.a.program)

    response = post(client, world.a.token, coupon.code, uuid.uuid4())

    assert response.status_code == 409
    assert response.json()["reason"] == "not_accepted_here"
    assert response.json()["coupon"] is None
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED
