"""Stripe events delivered at the same moment (PostgreSQL, each thread its own connection):
one event applied once, a refund racing its payment, two payments racing for receipt numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from financement.models import Donation, LedgerEntry, StripeEvent
from financement.selectors import program_funds
from tests.factories import ProgramFactory
from tests.financement.donation_helpers import open_donation, paid_event
from tests.financement.stripe_fakes import (
    FakeStripe,
    completed,
    post_event,
    refunded_charge,
    signed_event,
)
from tests.marches.test_concurrency import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def deliver_at_once(events: list[dict[str, Any]]) -> list[Any]:
    """Each event posted by its own thread (its own connection), all released together."""

    def work(index: int) -> tuple[int, str]:
        response = post_event(Client(), events[index])
        return response.status_code, response.content.decode()

    results = run_at_once(len(events), work)  # type: ignore[arg-type]
    assert not [r for r in results if isinstance(r, BaseException)], results
    return results


def test_five_deliveries_of_one_event_at_once_receive_the_donation_once(
    fake_stripe: FakeStripe,
) -> None:
    assert connection.vendor == "postgresql"
    program = ProgramFactory(budget=Decimal("100.00"))
    donation, session = open_donation(Client(), fake_stripe, program)
    event = paid_event(session)

    results = deliver_at_once([event] * 5)

    assert sorted(results) == [(200, "already received")] * 4 + [(200, "applied")]
    assert list(LedgerEntry.objects.filter(donation=donation).values_list("amount", flat=True)) == [
        Decimal("25.50")
    ]
    assert StripeEvent.objects.count() == 1
    assert program_funds(program) == Decimal("125.50")


def test_a_refund_racing_its_payment_is_applied_once_whichever_wins(
    fake_stripe: FakeStripe,
) -> None:
    program = ProgramFactory(budget=Decimal("100.00"))
    donation, session = open_donation(Client(), fake_stripe, program)
    paid = completed(session)
    refund = signed_event("charge.refunded", refunded_charge(paid, amount_refunded=1000))

    results = deliver_at_once([signed_event("checkout.session.completed", paid), refund])

    assert results[0] == (200, "applied")
    assert results[1] in {(200, "applied"), (200, "deferred")}
    amounts = LedgerEntry.objects.filter(donation=donation).order_by("pk")
    assert list(amounts.values_list("amount", flat=True)) == [Decimal("25.50"), Decimal("-10.00")]
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"applied"}


def test_payments_of_one_program_at_once_take_distinct_receipt_numbers(
    fake_stripe: FakeStripe,
) -> None:
    program = ProgramFactory(serial_prefix="PORT", budget=Decimal("100.00"))
    sessions = [open_donation(Client(), fake_stripe, program)[1] for _ in range(4)]

    results = deliver_at_once([paid_event(session) for session in sessions])

    assert results == [(200, "applied")] * 4
    year = timezone.localdate().year
    assert sorted(Donation.objects.values_list("receipt_number", flat=True)) == [
        f"PORT-{year}-{rank:04d}" for rank in range(1, 5)
    ]
    assert program_funds(program) == Decimal("202.00")
