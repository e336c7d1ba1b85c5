"""The vendor's day: its scans, a date picker and the undo window for a mistaken scan."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coupons.models import Coupon
from marches.models import Redemption
from marches.redemptions import redeem_coupon
from tests.factories import CouponFactory, VendorFactory, make_device
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db

UNDO_BUTTON = "Annuler cet échange"


def at_10_00() -> datetime.datetime:
    """Today at 10:00 in Quebec: far enough from midnight for a few minutes to pass."""
    return datetime.datetime.combine(
        timezone.localdate(), datetime.time(10, 0), tzinfo=ZoneInfo("America/Toronto")
    )


def vendor_url(scope: Any) -> str:
    return reverse("marches:vendor_detail", args=[scope.vendor.slug])


def undo_url(redemption: Redemption, vendor: Any = None) -> str:
    slug = (vendor or redemption.vendor).slug
    return reverse("marches:redemption_undo", args=[slug, redemption.pk])


def scan(scope: Any, coupon: Coupon | None = None, **kwargs: Any) -> Redemption:
    chosen: Any = coupon or CouponFactory(program=scope.program, value=Decimal("5.00"))
    verdict = redeem_coupon(
        code=chosen.code,
        vendor=kwargs.pop("vendor", scope.vendor),
        market=scope.market,
        client_id=kwargs.pop("client_id", uuid.uuid4()),
        recorded_by=scope.vendor_user,
        **kwargs,
    )
    assert verdict.redemption is not None, verdict
    return verdict.redemption


def test_a_mistaken_scan_is_undone_within_the_window_and_the_coupon_can_be_spent_again(
    client: Client, world: Any
) -> None:
    with time_machine.travel(at_10_00(), tick=False) as clock:
        # Signed in at the market's time: the session's idle time-out counts from there.
        client.force_login(world.a.vendor_user)
        redemption = scan(world.a)
        coupon = redemption.coupon
        clock.shift(datetime.timedelta(minutes=4, seconds=50))
        page = client.get(vendor_url(world.a))
        assert redemption.pk in page.context["undoable"]
        assert undo_url(redemption) in text(page)
        assert UNDO_BUTTON in text(page)

        response = client.post(undo_url(redemption))

        assert response.status_code == 302
        assert response["Location"] == vendor_url(world.a) + "#journee"
        redemption.refresh_from_db()
        assert redemption.status == Redemption.Status.UNDONE
        assert redemption.decided_by == world.a.vendor_user
        assert redemption.decided_at == timezone.now()
        coupon.refresh_from_db()
        assert coupon.status == Coupon.Status.ISSUED
        after = client.get(response["Location"])
        assert (
            f"Échange annulé : le coupon {coupon.serial} (5,00\xa0$) peut de nouveau être "
            "utilisé. L'annulation est consignée."
        ) in messages_of(after)
        # The undone scan stays on the page, marked as such, without its button; the day's
        # totals no longer count it.
        row = text(after).split(f'data-redemption="{redemption.pk}"')[1].split("</tr>")[0]
        assert "Annulé par l'entreprise" in row
        assert UNDO_BUTTON not in row
        assert (after.context["day"].count, after.context["day"].value) == (0, Decimal("0.00"))

        again = redeem_coupon(
            code=coupon.code, vendor=world.a.vendor, market=world.a.market, client_id=uuid.uuid4()
        )
        assert again.status == "accepted"
        assert client.get(vendor_url(world.a)).context["day"].value == Decimal("5.00")


def test_after_the_window_the_button_is_gone_and_the_undo_is_refused(
    client: Client, world: Any
) -> None:
    with time_machine.travel(at_10_00(), tick=False) as clock:
        # Signed in at the market's time: the session's idle time-out counts from there.
        client.force_login(world.a.vendor_user)
        redemption = scan(world.a)
        clock.shift(datetime.timedelta(minutes=6))

        page = client.get(vendor_url(world.a))
        assert page.context["undoable"] == set()
        assert UNDO_BUTTON not in text(page)

        response = client.post(undo_url(redemption))
        # Still at the market's time: outside it, the session would be idle for hours.
        messages = messages_of(client.get(vendor_url(world.a)))

    assert response.status_code == 302
    assert any("Un échange s'annule dans les 5 minutes qui suivent" in m for m in messages)
    redemption.refresh_from_db()
    assert redemption.status == Redemption.Status.ACCEPTED
    assert redemption.coupon.status == Coupon.Status.REDEEMED


def test_an_undo_twice_is_refused_the_second_time(client: Client, world: Any) -> None:
    client.force_login(world.a.vendor_user)
    redemption = scan(world.a)

    client.post(undo_url(redemption))
    client.post(undo_url(redemption))

    assert "Cet échange ne peut plus être annulé (déjà traité)." in messages_of(
        client.get(vendor_url(world.a))
    )
    assert Redemption.objects.get(pk=redemption.pk).status == Redemption.Status.UNDONE


def test_only_the_vendors_members_undo_and_only_by_post(client: Client, world: Any) -> None:
    redemption = scan(world.a)
    # Another vendor's member, through either vendor's address; the market's manager and the
    # program's coordinator see the vendor's page but have no undo.
    client.force_login(world.b.vendor_user)
    assert client.post(undo_url(redemption)).status_code == 404
    assert client.post(undo_url(redemption, vendor=world.b.vendor)).status_code == 404
    for user in [world.a.manager, world.a.coordinator]:
        client.force_login(user)
        page = client.get(vendor_url(world.a))
        assert page.status_code == 200
        assert page.context["undoable"] == set()
        assert UNDO_BUTTON not in text(page)
        assert client.post(undo_url(redemption)).status_code == 404
    client.force_login(world.a.vendor_user)
    assert client.get(undo_url(redemption)).status_code == 405
    assert Redemption.objects.get(pk=redemption.pk).status == Redemption.Status.ACCEPTED
    client.logout()
    response = client.post(undo_url(redemption))
    assert response.status_code == 302 and "/comptes/login/" in response["Location"]

    # A member of a second vendor at the same market cannot undo the first vendor's scan.
    neighbour = VendorFactory(market=world.a.market)
    neighbour.members.add(world.b.vendor_user)
    client.force_login(world.b.vendor_user)
    assert client.post(undo_url(redemption, vendor=neighbour)).status_code == 404
    assert Redemption.objects.get(pk=redemption.pk).status == Redemption.Status.ACCEPTED


def test_a_network_admin_may_undo_like_on_the_scanner(client: Client, world: Any) -> None:
    redemption = scan(world.a)
    client.force_login(world.admin)

    assert client.post(undo_url(redemption)).status_code == 302

    assert Redemption.objects.get(pk=redemption.pk).status == Redemption.Status.UNDONE


def test_undoing_a_scan_another_device_also_made_offline_accepts_that_one(
    client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    first = scan(world.a, coupon, offline=True, scanned_at=timezone.now())
    other_vendor = VendorFactory(market=world.a.market)
    other_device, _token = make_device(other_vendor, world.a.market)
    later = redeem_coupon(
        code=coupon.code,
        vendor=other_vendor,
        market=world.a.market,
        client_id=uuid.uuid4(),
        device=other_device,
        offline=True,
    ).redemption
    assert later is not None and later.status == Redemption.Status.CONFLICT
    client.force_login(world.a.vendor_user)

    client.post(undo_url(first))

    later.refresh_from_db()
    assert later.status == Redemption.Status.ACCEPTED
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.REDEEMED
    assert any(
        "un autre scan hors ligne du coupon" in m
        for m in messages_of(client.get(vendor_url(world.a)))
    )


def test_the_api_replay_of_an_undone_scan_says_undone(client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    body = {"code": coupon.code, "client_id": str(uuid.uuid4())}
    headers = {"Authorization": f"Bearer {world.a.token}"}
    first = client.post(
        "/api/v1/redemptions", body, content_type="application/json", headers=headers
    )
    assert first.status_code == 201
    client.force_login(world.a.vendor_user)
    client.post(undo_url(Redemption.objects.get(pk=first.json()["redemption_id"])))

    replay = client.post(
        "/api/v1/redemptions", body, content_type="application/json", headers=headers
    )

    assert replay.status_code == 409
    assert replay.json()["reason"] == "undone"


def test_the_date_picker_shows_another_days_scans(client: Client, world: Any) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    old = scan(world.a, scanned_at=timezone.now() - datetime.timedelta(days=1))
    scan(world.a)
    client.force_login(world.a.vendor_user)

    page = client.get(vendor_url(world.a), {"jour": yesterday.isoformat()})

    assert [r.pk for r in page.context["page_obj"].object_list] == [old.pk]
    html = text(page)
    assert f'name="jour" value="{yesterday.isoformat()}"' in html
    assert f'max="{timezone.localdate().isoformat()}"' in html
    # Recorded a moment ago, so still undoable, and it says which day to come back to.
    response = client.post(undo_url(old))
    assert response["Location"] == vendor_url(world.a) + f"?jour={yesterday.isoformat()}#journee"


def test_the_vendor_page_query_count_does_not_grow_with_scans(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.a.vendor_user)
    # The small world has one of each: a scan, an undone scan, a scan in review.
    scan(world.a)
    client.post(undo_url(scan(world.a)))
    coupon = CouponFactory(program=world.a.program)
    scan(world.a, coupon, offline=True)
    scan(world.a, coupon, offline=True)
    client.get(vendor_url(world.a))
    with django_assert_max_num_queries(40) as few:
        client.get(vendor_url(world.a))
    # Counted now: the next requests reset the connection's query log.
    baseline = len(few.captured_queries)

    category = world.a.program.categories.get()
    for _ in range(30):
        scan(world.a, category=category)
    for redemption in Redemption.objects.all()[:5]:
        client.post(undo_url(redemption))
    for _ in range(12):
        coupon = CouponFactory(program=world.a.program)
        scan(world.a, coupon, offline=True)
        scan(world.a, coupon, offline=True)
    with django_assert_max_num_queries(baseline):
        response = client.get(vendor_url(world.a))

    assert response.context["page_obj"].paginator.count == 4 + 30 + 24
    assert response.context["conflicts"].paginator.count == 1 + 12
    # Accepted a moment ago: the first scan, the 30 (5 of them undone since), 1 + 12 offline.
    assert len(response.context["undoable"]) == 1 + 30 - 5 + 1 + 12
