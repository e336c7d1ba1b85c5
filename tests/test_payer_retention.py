"""The retention of the people who pay (docs/privacy/inventory.toml): donors six years after the
end of the year of their gift, Stripe event bodies 90 days after they arrived (not a refund still
waiting for its payment), the public sale's buyers with the households of their program. Each
step runs in the daily `apply_retention`, writes nothing in a dry run and leaves every amount."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from beneficiaires.retention import apply_retention
from coupons.models import CouponSale
from financement.models import Donation, LedgerEntry, StripeEvent
from financement.services import record_entry
from tests import factories as f

pytestmark = pytest.mark.django_db

D = Decimal


def at(year: int, month: int, day: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, day, 12))


def donation(program: Any, created_at: datetime.datetime) -> Donation:
    gift = Donation.objects.create(
        program=program,
        amount=D("50.00"),
        donor_name="Dominique Roy",
        donor_email="dominique@example.org",
        donor_address="12, rang Saint-Joseph\nDeschambault (Québec) G0A 1S0",
        dedication="En mémoire de Léo",
        status=Donation.Status.PAID,
        receipt_number="PORT-2019-0001",
        created_at=created_at,
        paid_at=created_at,
    )
    record_entry(
        program=program, kind=LedgerEntry.Kind.DONATION, amount=gift.amount, donation_id=gift.pk
    )
    return gift


def test_a_donor_is_erased_six_years_after_the_end_of_the_year_of_the_gift() -> None:
    program = f.ProgramFactory(budget=D("0"))
    old = donation(program, at(2019, 12, 31))
    kept = donation(program, at(2020, 1, 1))
    funds_before = sum(e.amount for e in LedgerEntry.objects.filter(program=program))

    with time_machine.travel(at(2025, 12, 31), tick=False):
        assert apply_retention().erased["donors"] == 0  # 2019's gifts are kept through 2025…
    with time_machine.travel(at(2026, 1, 1), tick=False):
        assert apply_retention(dry_run=True).erased["donors"] == 1
        assert Donation.objects.get(pk=old.pk).donor_name == "Dominique Roy"
        report = apply_retention()  # …and 2020's through 2026

    assert report.erased["donors"] == 1
    old.refresh_from_db()
    assert (old.donor_name, old.donor_email, old.donor_address, old.dedication) == ("", "", "", "")
    assert (old.amount, old.receipt_number, old.status) == (D("50.00"), "PORT-2019-0001", "paid")
    assert Donation.objects.get(pk=kept.pk).donor_email == "dominique@example.org"
    assert sum(e.amount for e in LedgerEntry.objects.filter(program=program)) == funds_before
    with time_machine.travel(at(2026, 1, 2), tick=False):
        assert apply_retention().erased["donors"] == 0  # done once


def test_a_stripe_event_body_is_emptied_after_ninety_days_and_a_stray_refund_given_up() -> None:
    body = {"id": "evt_1", "data": {"object": {"customer_details": {"email": "x@example.org"}}}}
    received = at(2026, 1, 1)

    def event(number: int, kind: str, status: str, days_later: int = 0) -> StripeEvent:
        return StripeEvent.objects.create(
            event_id=f"evt_{number}",
            type=kind,
            status=status,
            payload=body,
            received_at=received + datetime.timedelta(days=days_later),
        )

    applied = event(1, "checkout.session.completed", "applied")
    # A refund whose payment never came in 90 days: another site's, on the same account.
    stray = event(2, "charge.refunded", "deferred")
    recent = event(3, "checkout.session.completed", "ignored", days_later=10)
    waiting = event(4, "charge.refunded", "deferred", days_later=10)

    with time_machine.travel(received + datetime.timedelta(days=95), tick=False):
        report = apply_retention()

    assert report.erased["stripe_events"] == 2
    applied.refresh_from_db()
    assert applied.payload == {"emptied": True}
    assert (applied.event_id, applied.type, applied.status) == (
        "evt_1",
        "checkout.session.completed",
        "applied",
    )
    stray.refresh_from_db()
    assert (stray.status, stray.payload) == ("ignored", {"emptied": True})
    assert StripeEvent.objects.get(pk=recent.pk).payload == body
    waiting.refresh_from_db()
    assert (waiting.status, waiting.payload) == ("deferred", body)


def test_the_sale_buyers_are_erased_with_the_households_of_their_program() -> None:
    today = timezone.localdate()
    ended = f.ProgramFactory(
        season_start=today - datetime.timedelta(days=400),
        season_end=today - datetime.timedelta(days=300),
    )
    running = f.ProgramFactory()

    def sale(program: Any) -> CouponSale:
        return CouponSale.objects.create(
            program=program,
            buyer_name="Camille Roy",
            buyer_email="camille@example.org",
            packs=1,
            price=D("20.00"),
            value=D("30.00"),
            status=CouponSale.Status.PAID,
            expires_at=timezone.now(),
        )

    old, current = sale(ended), sale(running)
    out = io.StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)
    assert "1 sale(s) whose buyer was erased (dry run: nothing written)." in out.getvalue()
    assert CouponSale.objects.get(pk=old.pk).buyer_name == "Camille Roy"

    call_command("apply_retention", stdout=out)

    old.refresh_from_db()
    # Empty encrypted values are stored as NULL.
    assert (old.buyer_name, old.buyer_email) == (None, None)
    assert old.buyer_erased_at is not None
    assert (old.price, old.value, old.packs) == (D("20.00"), D("30.00"), 1)
    assert CouponSale.objects.get(pk=current.pk).buyer_email == "camille@example.org"
    assert "1 sale(s) whose buyer was erased." in out.getvalue()
    assert apply_retention().erased["sale_buyers"] == 0
