"""The coordinators' review queue: a coupon scanned offline by two devices, then decided."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from coupons.models import Coupon
from coupons.services import void_coupons
from marches.models import Redemption
from marches.redemptions import RedemptionError, decide_conflict, redeem_coupon
from tests.factories import CouponFactory, VendorFactory, make_device
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db

BATCH_URL = "/api/v1/redemptions/batch"


def sync(client: Client, token: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = client.post(
        BATCH_URL,
        {"items": items},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.content
    return list(response.json()["results"])


def item(coupon: Coupon, minutes_ago: int) -> dict[str, Any]:
    scanned_at = timezone.localtime() - datetime.timedelta(minutes=minutes_ago)
    return {
        "code": coupon.code,
        "client_id": str(uuid.uuid4()),
        "scanned_at": scanned_at.isoformat(),
    }


class DoubleScan:
    """One coupon scanned offline at market a by vendor a, then by a second vendor's device."""

    def __init__(self, client: Client, world: Any, minutes_ago: int = 30) -> None:
        self.coupon = CouponFactory(program=world.a.program, value=Decimal("5.00"))
        self.other_vendor = VendorFactory(name="Verger du Rang", market=world.a.market)
        self.other_vendor.members.add(world.b.vendor_user)  # someone who is not in scope a
        self.other_device, self.other_token = make_device(self.other_vendor, world.a.market)
        self.first_item = item(self.coupon, minutes_ago)
        self.second_item = item(self.coupon, minutes_ago - 5)
        [first] = sync(client, world.a.token, [self.first_item])
        [second] = sync(client, self.other_token, [self.second_item])
        assert (first["status"], second["status"]) == ("accepted", "conflict")
        assert second["http_status"] == 202
        self.accepted = Redemption.objects.get(client_id=self.first_item["client_id"])
        self.conflict = Redemption.objects.get(client_id=self.second_item["client_id"])

    def replay(self, client: Client) -> dict[str, Any]:
        [answer] = sync(client, self.other_token, [self.second_item])
        return answer


def queue_url(scope: Any) -> str:
    return reverse("marches:conflict_list", args=[scope.program.slug])


def decide_url(scope: Any, redemption: Redemption) -> str:
    return reverse("marches:conflict_decide", args=[scope.program.slug, redemption.pk])


def test_the_queue_shows_this_scan_and_the_accepted_one(client: Client, world: Any) -> None:
    double = DoubleScan(client, world)
    client.force_login(world.a.coordinator)

    response = client.get(queue_url(world.a))

    assert response.status_code == 200
    [(row, first)] = response.context["rows"]
    assert (row, first) == (double.conflict, double.accepted)
    section = (
        text(response).split(f'data-redemption="{double.conflict.pk}"')[1].split("</section>")[0]
    )
    assert double.coupon.serial in section and "5,00\xa0$" in section
    assert "Verger du Rang" in section and "Ferme a" in section and "Marché a" in section
    for scanned in (double.conflict.scanned_at, double.accepted.scanned_at):
        assert date_format(timezone.localtime(scanned), "SHORT_DATETIME_FORMAT") in section
    assert decide_url(world.a, double.conflict) in section
    assert "Aucune décision pour le moment." in text(response)


def test_honouring_records_the_loss_and_the_vendor_and_its_scanner_see_it(
    client: Client, world: Any
) -> None:
    double = DoubleScan(client, world)
    client.force_login(world.a.coordinator)

    response = client.post(
        decide_url(world.a, double.conflict),
        {"decision": "honour", "reason": "Deux kiosques, même famille : de bonne foi."},
    )

    assert response.status_code == 302
    assert response["Location"] == queue_url(world.a)
    double.conflict.refresh_from_db()
    assert double.conflict.status == Redemption.Status.HONOURED
    assert double.conflict.decided_by == world.a.coordinator
    assert double.conflict.decision_reason == "Deux kiosques, même famille : de bonne foi."
    queue = client.get(queue_url(world.a))
    assert any("honoré" in message for message in messages_of(queue))
    assert queue.context["rows"] == []
    assert list(queue.context["decided"].object_list) == [double.conflict]
    assert "Honoré (perte consignée)" in text(queue)

    # The vendor who made the scan sees the outcome and the reason on its page.
    client.force_login(world.b.vendor_user)
    page = client.get(reverse("marches:vendor_detail", args=[double.other_vendor.slug]))
    assert list(page.context["conflicts"].object_list) == [double.conflict]
    row = text(page).split("scans-en-double")[1]
    assert "Honoré (perte consignée)" in row and "de bonne foi" in row

    # The scanner replaying the same scan now hears that it is accepted, as honoured.
    answer = double.replay(client)
    assert (answer["status"], answer["http_status"], answer["replayed"]) == ("accepted", 201, True)
    assert "honoré" in answer["detail"]
    assert Redemption.objects.filter(coupon=double.coupon).count() == 2


def test_refusing_is_seen_by_the_vendor_and_its_scanner(client: Client, world: Any) -> None:
    double = DoubleScan(client, world)
    client.force_login(world.admin)

    client.post(
        decide_url(world.a, double.conflict),
        {"decision": "refuse", "reason": "Le coupon avait été remis au premier kiosque."},
    )

    double.conflict.refresh_from_db()
    assert double.conflict.status == Redemption.Status.REFUSED
    assert double.accepted.status == Redemption.Status.ACCEPTED
    client.force_login(world.b.vendor_user)
    page = text(client.get(reverse("marches:vendor_detail", args=[double.other_vendor.slug])))
    assert "Refusé après examen" in page and "remis au premier kiosque" in page
    answer = double.replay(client)
    assert (answer["status"], answer["reason"], answer["http_status"]) == (
        "rejected",
        "conflict_refused",
        409,
    )
    assert "remis au premier kiosque" in answer["detail"]


def test_a_conflict_is_decided_once(client: Client, world: Any) -> None:
    double = DoubleScan(client, world)
    client.force_login(world.a.coordinator)
    url = decide_url(world.a, double.conflict)
    client.post(url, {"decision": "refuse", "reason": "Premier avis"})

    client.post(url, {"decision": "honour", "reason": "Second avis"})

    assert any(
        "Ce scan en double a déjà été traité." in m
        for m in messages_of(client.get(queue_url(world.a)))
    )
    double.conflict.refresh_from_db()
    assert (double.conflict.status, double.conflict.decision_reason) == (
        Redemption.Status.REFUSED,
        "Premier avis",
    )
    with pytest.raises(RedemptionError) as raised:
        decide_conflict(
            redemption=double.conflict, honour=True, reason="Encore", decided_by=world.admin
        )
    assert raised.value.code == "already_decided"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"decision": "honour", "reason": ""},
            "Indiquez le motif de la décision (3 à 300 caractères).",
        ),
        (
            {"decision": "honour", "reason": "  ok  "},
            "Indiquez le motif de la décision (3 à 300 caractères).",
        ),
        (
            {"decision": "refuse", "reason": "x" * 301},
            "Indiquez le motif de la décision (3 à 300 caractères).",
        ),
        (
            {"decision": "peut-être", "reason": "Motif valable"},
            "Choisissez d'honorer ou de refuser ce scan.",
        ),
        ({"reason": "Motif valable"}, "Choisissez d'honorer ou de refuser ce scan."),
    ],
)
def test_a_decision_needs_a_choice_and_a_reason(
    client: Client, world: Any, data: dict[str, str], message: str
) -> None:
    double = DoubleScan(client, world)
    client.force_login(world.a.coordinator)

    response = client.post(decide_url(world.a, double.conflict), {**data, "page": "1"})

    assert response.status_code == 302
    assert response["Location"] == queue_url(world.a) + "?page=1"
    assert any(message in m for m in messages_of(client.get(queue_url(world.a))))
    double.conflict.refresh_from_db()
    assert double.conflict.status == Redemption.Status.CONFLICT
    assert double.conflict.decided_at is None


def test_the_queue_is_for_the_programs_coordinators_only(client: Client, world: Any) -> None:
    double = DoubleScan(client, world)
    url = decide_url(world.a, double.conflict)
    for user in [
        world.b.coordinator,
        world.a.manager,
        world.a.vendor_user,
        world.b.vendor_user,
        world.a.intervenant,
        world.nobody,
    ]:
        client.force_login(user)
        assert client.get(queue_url(world.a)).status_code == 404, user
        assert client.post(url, {"decision": "honour", "reason": "Par erreur"}).status_code == 404
    # Program b's coordinator cannot reach program a's conflict through program b either.
    client.force_login(world.b.coordinator)
    through_b = reverse("marches:conflict_decide", args=[world.b.program.slug, double.conflict.pk])
    assert client.post(through_b, {"decision": "honour", "reason": "Par erreur"}).status_code == 404
    client.force_login(world.a.coordinator)
    assert client.get(url).status_code == 405
    assert Redemption.objects.get(pk=double.conflict.pk).status == Redemption.Status.CONFLICT
    client.force_login(world.admin)
    assert client.get(queue_url(world.a)).status_code == 200
    assert client.get(queue_url(world.b)).context["rows"] == []
    client.logout()
    assert "/comptes/login/" in client.get(queue_url(world.a))["Location"]


def test_a_scan_made_offline_before_the_coupon_was_voided_waits_without_an_accepted_scan(
    client: Client, world: Any
) -> None:
    coupon: Any = CouponFactory(program=world.a.program)
    void_coupons(coupons=[coupon], reason="lost", voided_by=world.a.intervenant)
    [answer] = sync(client, world.a.token, [item(coupon, 20)])
    assert (answer["status"], answer["reason"]) == ("conflict", "void")
    client.force_login(world.a.coordinator)

    response = client.get(queue_url(world.a))

    [(row, first)] = response.context["rows"]
    assert first is None and row.coupon == coupon
    assert "le coupon a été annulé après ce scan hors ligne" in text(response)


def test_the_queue_is_oldest_first_paginated_and_its_queries_bounded(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    def conflicts(count: int, minutes_ago: int) -> list[Redemption]:
        made = []
        for index in range(count):
            coupon = CouponFactory(program=world.a.program)
            redeem_coupon(
                code=coupon.code,
                vendor=world.a.vendor,
                market=world.a.market,
                client_id=uuid.uuid4(),
                offline=True,
                scanned_at=timezone.now() - datetime.timedelta(minutes=minutes_ago + 1),
            )
            verdict = redeem_coupon(
                code=coupon.code,
                vendor=world.a.vendor,
                market=world.a.market,
                client_id=uuid.uuid4(),
                offline=True,
                scanned_at=timezone.now() - datetime.timedelta(minutes=minutes_ago - index),
            )
            assert verdict.redemption is not None
            made.append(verdict.redemption)
        return made

    oldest = conflicts(2, 600)
    decide_conflict(redemption=oldest[1], honour=False, reason="Refusé", decided_by=world.admin)
    client.force_login(world.a.coordinator)
    client.get(queue_url(world.a))
    with django_assert_max_num_queries(30) as few:
        client.get(queue_url(world.a))
    baseline = len(few.captured_queries)

    newer = conflicts(30, 300)
    for redemption in newer[-5:]:
        decide_conflict(redemption=redemption, honour=True, reason="Honoré", decided_by=world.admin)
    with django_assert_max_num_queries(baseline):
        response = client.get(queue_url(world.a))

    page = response.context["page_obj"]
    assert page.paginator.count == 1 + 25
    assert [row for row, _first in response.context["rows"]][:2] == [oldest[0], newer[0]]
    assert len(response.context["rows"]) == 25
    assert response.context["decided"].paginator.count == 6
    second = client.get(queue_url(world.a), {"page": "2"})
    assert [row for row, _first in second.context["rows"]] == [newer[24]]
    assert client.get(queue_url(world.a), {"page": "x", "decides": "zz"}).status_code == 200
