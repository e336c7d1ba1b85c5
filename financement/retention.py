"""How long the funding app keeps what it knows of the people who pay (docs/privacy).

- A donor's name, e-mail, address and dedication: six years after the end of the year of the
  gift (the records a registered charity must keep for its receipts), then erased; the amount,
  the dates and the receipt number stay in the ledger.
- The body of a Stripe event (it holds the payer's name and e-mail as Stripe sends them):
  emptied `EVENT_PAYLOAD_DAYS` days after it was received, once it is applied or ignored; its
  id, type and status stay, so a late duplicate is still recognised. An event still waiting
  (a refund seen before its payment) keeps its body until it is applied.

Each step is one query, idempotent, run daily by `apply_retention` (beneficiaires.retention).
"""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from financement.models import Donation, StripeEvent

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
    return (
        StripeEvent.objects.filter(received_at__lt=received_before)
        .exclude(status=StripeEvent.Status.DEFERRED)
        .exclude(payload=EMPTIED)
    )


def empty_expired_event_payloads(today: datetime.date, *, dry_run: bool = False) -> int:
    """Empty the bodies of the Stripe events past their retention; how many (would be)."""
    events = expired_event_payloads(today)
    if dry_run:
        return events.count()
    return events.update(payload=EMPTIED)
