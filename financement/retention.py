"""How long the funding app keeps what it knows of the people who pay (docs/privacy).

- A donor's name, e-mail, address and dedication: six years after the end of the year of the
  gift (the records a registered charity must keep for its receipts), then erased; the amount,
  the dates and the receipt number stay in the ledger.
- The body of a Stripe event (it holds the payer's name and e-mail as Stripe sends them):
  emptied `EVENT_PAYLOAD_DAYS` days after it was received; its id, type and status stay, so a
  late duplicate is still recognised. A refund still waiting for its payment by then waits for
  a payment that never came (one of another site on the same Stripe account): it is marked
  ignored first, and logged.

Each step is one query, idempotent, run daily by `apply_retention` (beneficiaires.retention).
"""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from financement.models import Donation, StripeEvent

logger = logging.getLogger(__name__)

DONOR_RETENTION_YEARS = 6
EVENT_PAYLOAD_DAYS = 90
# What an emptied event body holds.
EMPTIED: dict[str, bool] = {"emptied": True}


def _start_of_day(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def expired_donors(today: datetime.date) -> QuerySet[Donation]:
    """Donations of a year that ended more than DONOR_RETENTION_YEARS ago, not yet erased."""
    keep_from = _start_of_day(datetime.date(today.year - DONOR_RETENTION_YEARS, 1, 1))
    return Donation.objects.filter(created_at__lt=keep_from).exclude(
        donor_name="", donor_email="", donor_address="", dedication=""
    )


def erase_expired_donors(today: datetime.date, *, dry_run: bool = False) -> int:
    """Erase the donors past their retention; how many donations (would) lose them."""
    donations = expired_donors(today)
    if dry_run:
        return donations.count()
    return donations.update(donor_name="", donor_email="", donor_address="", dedication="")


def expired_event_payloads(today: datetime.date) -> QuerySet[StripeEvent]:
    received_before = _start_of_day(today - datetime.timedelta(days=EVENT_PAYLOAD_DAYS))
    return StripeEvent.objects.filter(received_at__lt=received_before).exclude(payload=EMPTIED)


def empty_expired_event_payloads(today: datetime.date, *, dry_run: bool = False) -> int:
    """Empty the bodies of the Stripe events past their retention, giving up first on the
    refunds still waiting for a payment; how many bodies are (would be) emptied."""
    events = expired_event_payloads(today)
    if dry_run:
        return events.count()
    with transaction.atomic():
        given_up = events.filter(status=StripeEvent.Status.DEFERRED).update(
            status=StripeEvent.Status.IGNORED
        )
        if given_up:
            logger.warning(
                "Retention: %s Stripe event(s) waited %s days for a payment that never came: "
                "ignored",
                given_up,
                EVENT_PAYLOAD_DAYS,
            )
        return events.update(payload=EMPTIED)
