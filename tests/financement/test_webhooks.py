"""POST /stripe/webhook with donations: verified by the library's signature, applied once per
event id, in any order, quickly. (Five deliveries at once: test_webhooks_postgres.py.)"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import IntegrityError, connection
from django.test import Client
from django.utils import timezone

from financement import donations
from financement.models import Donation, LedgerEntry, StripeEvent
from financement.selectors import program_funds
from tests.factories import ProgramFactory
from tests.financement.donation_helpers import open_donation, paid_event, pay
from tests.financement.stripe_fakes import (
    WEBHOOK_PATH,
    FakeStripe,
    completed,
    new_id,
    post_event,
    refunded_charge,
    signature_header,
    signed_event,
)

pytestmark = pytest.mark.django_db

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def program() -> Any:
    return ProgramFactory(slug="portneuf", serial_prefix="PORT", budget=Decimal("100.00"))


def donation_rows(donation: Donation) -> list[Decimal]:
    return list(
        LedgerEntry.objects.filter(donation=donation)
        .order_by("pk")
        .values_list("amount", flat=True)
    )


def refund_event(session: dict[str, Any], cents: int, **charge: Any) -> dict[str, Any]:
    return signed_event(
        "charge.refunded", {**refunded_charge(session, amount_refunded=cents), **charge}
    )


def outcome(response: Any) -> tuple[int, str]:
    return response.status_code, response.content.decode()


# ---------------------------------------------------------------------------------------------
# A payment, once


def test_a_paid_session_receives_the_donation_into_the_programs_funds(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    event = paid_event(session, payment_intent="pi_portneuf_1")

    response = post_event(client, event)

    assert outcome(response) == (200, "applied")
    donation.refresh_from_db()
    assert donation.status == Donation.Status.PAID
    assert donation.payment_intent_id == "pi_portneuf_1"
    assert donation.receipt_number == f"PORT-{timezone.localdate().year}-0001"
    assert donation.paid_at is not None
    [entry] = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DONATION)
    assert (entry.program, entry.amount, entry.donation) == (program, Decimal("25.50"), donation)
    assert (entry.source, entry.stripe_reference) == (f"donation:{donation.pk}", "pi_portneuf_1")
    assert program_funds(program) == Decimal("125.50")
    row = StripeEvent.objects.get()
    assert (row.event_id, row.type, row.status) == (
        event["id"],
        "checkout.session.completed",
        StripeEvent.Status.APPLIED,
    )
    assert row.applied_at is not None and row.payload == event


def test_the_same_event_delivered_five_times_is_received_once(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    event = paid_event(session)

    answers = [outcome(post_event(client, event)) for _ in range(5)]

    assert answers == [(200, "applied")] + [(200, "already received")] * 4
    assert donation_rows(donation) == [Decimal("25.50")]
    assert StripeEvent.objects.count() == 1
    assert program_funds(program) == Decimal("125.50")


def test_another_event_of_the_same_payment_changes_nothing(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    paid = pay(client, session)

    again = post_event(client, signed_event("checkout.session.async_payment_succeeded", paid))

    assert outcome(again) == (200, "ignored")
    donation.refresh_from_db()
    assert donation_rows(donation) == [Decimal("25.50")]
    assert donation.receipt_number.endswith("-0001")


def test_receipt_numbers_follow_each_other_within_the_program(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    first, first_session = open_donation(client, fake_stripe, program)
    second, second_session = open_donation(client, fake_stripe, program)

    pay(client, second_session)
    pay(client, first_session)

    year = timezone.localdate().year
    first.refresh_from_db()
    second.refresh_from_db()
    assert (second.receipt_number, first.receipt_number) == (
        f"PORT-{year}-0001",
        f"PORT-{year}-0002",
    )


def test_an_async_payment_is_received_when_it_succeeds(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    """A bank debit: the session completes unpaid, the money comes later."""
    donation, session = open_donation(client, fake_stripe, program)
    unpaid = {**completed(session), "payment_status": "unpaid"}

    first = post_event(client, signed_event("checkout.session.completed", unpaid))
    assert outcome(first) == (200, "ignored")
    assert donation_rows(donation) == []

    succeeded = post_event(
        client,
        signed_event(
            "checkout.session.async_payment_succeeded", {**unpaid, "payment_status": "paid"}
        ),
    )
    assert outcome(succeeded) == (200, "applied")
    assert donation_rows(donation) == [Decimal("25.50")]


def test_the_ledger_follows_the_amount_stripe_received(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)

    post_event(
        client,
        signed_event("checkout.session.completed", {**completed(session), "amount_total": 3000}),
    )

    donation.refresh_from_db()
    assert donation.amount == Decimal("30.00")
    assert donation_rows(donation) == [Decimal("30.00")]


# ---------------------------------------------------------------------------------------------
# Forged, stale or broken deliveries: 400 (or 405), and nothing written


def signed_body(event: dict[str, Any], **header: Any) -> tuple[str, str]:
    payload = json.dumps(event)
    return payload, signature_header(payload, **header)


def deliver(client: Client, payload: str | bytes, signature: str | None) -> Any:
    headers = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(WEBHOOK_PATH, data=payload, content_type="application/json", **headers)


def changed_by_one_byte(payload: str, signature: str) -> tuple[str, str]:
    return payload.replace('"amount_total": 2550', '"amount_total": 2551'), signature


def stale(payload: str, _signature: str) -> tuple[str, str]:
    return payload, signature_header(payload, timestamp=int(time.time()) - 301)


def wrong_secret(payload: str, _signature: str) -> tuple[str, str]:
    return payload, signature_header(payload, secret="whsec_someone_else")


def unsigned(payload: str, _signature: str) -> tuple[str, None]:
    return payload, None


def garbled_header(payload: str, _signature: str) -> tuple[str, str]:
    return payload, "t=abc,v1"


def signed_twice_later(payload: str, signature: str) -> tuple[str, str]:
    """The signature of another moment replayed with this body."""
    return payload, signature.replace("t=", "t=1")


@pytest.mark.parametrize(
    "tamper",
    [changed_by_one_byte, stale, wrong_secret, unsigned, garbled_header, signed_twice_later],
)
def test_a_delivery_whose_signature_does_not_hold_is_refused(
    client: Client, fake_stripe: FakeStripe, program: Any, tamper: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    payload, signature = tamper(*signed_body(paid_event(session)))

    response = deliver(client, payload, signature)

    assert outcome(response) == (400, "Invalid signature.")
    assert not StripeEvent.objects.exists()
    donation.refresh_from_db()
    assert donation.status == Donation.Status.PENDING
    assert donation_rows(donation) == []


def test_a_signature_within_the_tolerance_is_accepted(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    _donation, session = open_donation(client, fake_stripe, program)
    payload, signature = signed_body(paid_event(session), timestamp=int(time.time()) - 240)

    assert outcome(deliver(client, payload, signature)) == (200, "applied")


@pytest.mark.parametrize(
    "payload",
    [
        "pas du JSON",
        "[]",
        '"un texte"',
        json.dumps({"id": "evt_1", "type": "checkout.session.completed"}),  # no object
        json.dumps({"id": "", "type": "x", "data": {"object": {}}}),
        json.dumps({"id": "evt_1", "type": 3, "data": {"object": {}}}),
        json.dumps({"id": "evt_1", "type": "x", "data": []}),
        json.dumps({"id": "evt_1", "type": "x", "data": {"object": "ch_1"}}),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_refused(
    client: Client, fake_stripe: FakeStripe, payload: str
) -> None:
    response = deliver(client, payload, signature_header(payload))

    assert outcome(response) == (400, "Invalid payload.")
    assert not StripeEvent.objects.exists()


def test_a_body_that_is_not_utf8_is_refused(client: Client, fake_stripe: FakeStripe) -> None:
    response = deliver(client, b"\xff\xfe{}", signature_header("{}"))

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_the_webhook_takes_only_post(client: Client, fake_stripe: FakeStripe) -> None:
    assert client.get(WEBHOOK_PATH).status_code == 405
    assert client.put(WEBHOOK_PATH).status_code == 405
    assert not StripeEvent.objects.exists()


def test_an_event_that_cannot_be_applied_now_is_left_for_stripe_to_deliver_again(
    client: Client, fake_stripe: FakeStripe, program: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    donation, session = open_donation(client, fake_stripe, program)

    def broken(*_args: Any) -> str:
        raise IntegrityError("a constraint failed")

    monkeypatch.setattr("financement.webhooks._apply", broken)
    response = post_event(client, paid_event(session))

    assert response.status_code == 503  # Stripe retries; nothing of it was kept
    assert not StripeEvent.objects.exists()
    assert donation_rows(donation) == []


# ---------------------------------------------------------------------------------------------
# Any order: refunds, expiry


def test_a_refund_that_arrives_before_its_payment_waits_for_it(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    paid = completed(session, payment_intent="pi_early_refund")

    early = post_event(client, refund_event(paid, 2550))
    assert outcome(early) == (200, "deferred")
    assert StripeEvent.objects.get().status == StripeEvent.Status.DEFERRED
    assert donation_rows(donation) == []

    payment = post_event(client, signed_event("checkout.session.completed", paid))

    assert outcome(payment) == (200, "applied")
    donation.refresh_from_db()
    assert donation.status == Donation.Status.REFUNDED
    assert donation.refunded_amount == Decimal("25.50")
    assert donation_rows(donation) == [Decimal("25.50"), Decimal("-25.50")]
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {"applied"}
    assert program_funds(program) == Decimal("100.00")
    refund = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REFUND)
    assert refund.stripe_reference == "pi_early_refund"


def test_partial_refunds_accumulate_and_an_older_one_changes_nothing(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program, amount="50")
    paid = pay(client, session)
    first = refund_event(paid, 1000)

    assert outcome(post_event(client, first)) == (200, "applied")
    assert outcome(post_event(client, refund_event(paid, 2500))) == (200, "applied")
    # The first refund's event, delivered again, then a copy of it under a new id (late).
    assert outcome(post_event(client, first)) == (200, "already received")
    assert outcome(post_event(client, refund_event(paid, 1000))) == (200, "applied")

    donation.refresh_from_db()
    assert donation_rows(donation) == [Decimal("50.00"), Decimal("-10.00"), Decimal("-15.00")]
    assert (donation.status, donation.refunded_amount) == (Donation.Status.PAID, Decimal("25.00"))
    assert program_funds(program) == Decimal("125.00")

    post_event(client, refund_event(paid, 5000))
    donation.refresh_from_db()
    assert (donation.status, donation.refunded_amount) == (
        Donation.Status.REFUNDED,
        Decimal("50.00"),
    )
    assert program_funds(program) == Decimal("100.00")


def test_two_early_refunds_are_applied_in_the_order_they_came(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program, amount="50")
    paid = completed(session)

    post_event(client, refund_event(paid, 1000))
    post_event(client, refund_event(paid, 2500))
    post_event(client, signed_event("checkout.session.completed", paid))

    assert donation_rows(donation) == [Decimal("50.00"), Decimal("-10.00"), Decimal("-15.00")]


def test_a_refund_of_a_charge_without_metadata_finds_its_payment(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    paid = pay(client, session)

    response = post_event(client, refund_event(paid, 550, metadata={}))

    assert outcome(response) == (200, "applied")
    assert donation_rows(donation) == [Decimal("25.50"), Decimal("-5.50")]


def test_an_expired_session_abandons_the_donation(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)

    response = post_event(
        client, signed_event("checkout.session.expired", {**session, "status": "expired"})
    )

    assert outcome(response) == (200, "applied")
    donation.refresh_from_db()
    assert donation.status == Donation.Status.EXPIRED
    assert donation_rows(donation) == []
    assert program_funds(program) == Decimal("100.00")


def test_a_payment_that_completes_after_its_session_expired_is_still_received(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    post_event(client, signed_event("checkout.session.expired", {**session, "status": "expired"}))

    response = post_event(client, paid_event(session))

    assert outcome(response) == (200, "applied")
    donation.refresh_from_db()
    assert donation.status == Donation.Status.PAID and donation.receipt_number
    assert donation_rows(donation) == [Decimal("25.50")]


def test_an_expiry_that_arrives_after_the_payment_changes_nothing(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    pay(client, session)

    response = post_event(
        client, signed_event("checkout.session.expired", {**session, "status": "expired"})
    )

    assert outcome(response) == (200, "ignored")
    donation.refresh_from_db()
    assert donation.status == Donation.Status.PAID
    assert donation_rows(donation) == [Decimal("25.50")]


# ---------------------------------------------------------------------------------------------
# Events that are not ours


@pytest.mark.parametrize(
    ("event_type", "changes"),
    [
        ("checkout.session.completed", {"metadata": {"kind": "membership", "id": "1"}}),
        ("checkout.session.completed", {"metadata": {}}),
        ("checkout.session.completed", {"metadata": "donation"}),
        ("checkout.session.completed", {"metadata": {"kind": "donation", "id": "999999"}}),
        ("checkout.session.completed", {"metadata": {"kind": "donation", "id": "un"}}),
        ("checkout.session.completed", {"metadata": {"kind": "donation", "id": "²"}}),
        ("checkout.session.completed", {"metadata": {"kind": "donation", "id": "9" * 40}}),
        ("checkout.session.expired", {"metadata": {"kind": "membership", "id": "1"}}),
        ("charge.refunded", {"metadata": {"kind": "membership", "id": "1"}}),
        ("charge.refunded", {"amount_refunded": "1000"}),
        ("charge.refunded", {"payment_intent": None}),
        ("customer.created", {}),
        ("invoice.paid", {}),
    ],
)
def test_an_event_of_an_unknown_kind_or_type_is_answered_and_ignored(
    client: Client, fake_stripe: FakeStripe, program: Any, event_type: str, changes: dict[str, Any]
) -> None:
    donation, session = open_donation(client, fake_stripe, program)
    obj = completed(session)
    if event_type == "charge.refunded":
        obj = refunded_charge(obj, amount_refunded=1000)
    event = signed_event(event_type, {**obj, **changes})

    response = post_event(client, event)

    assert outcome(response) == (200, "ignored")
    row = StripeEvent.objects.get()
    assert (row.event_id, row.status, row.applied_at) == (event["id"], "ignored", None)
    donation.refresh_from_db()
    assert donation.status == Donation.Status.PENDING
    assert donation_rows(donation) == []


def test_a_session_that_names_another_donation_is_ignored(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    mine, _session = open_donation(client, fake_stripe, program)
    _other, other_session = open_donation(client, fake_stripe, program)
    forged = {**completed(other_session), "metadata": {"kind": "donation", "id": str(mine.pk)}}

    response = post_event(client, signed_event("checkout.session.completed", forged))

    assert outcome(response) == (200, "ignored")
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DONATION).exists()


# ---------------------------------------------------------------------------------------------
# Quick: a bounded number of queries, no mail and no PDF within the request


def test_the_webhook_answers_with_few_queries_and_leaves_the_mail_to_a_task(
    client: Client,
    fake_stripe: FakeStripe,
    program: Any,
    settings: Any,
    django_assert_max_num_queries: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = DATABASE_TASKS
    donation, session = open_donation(client, fake_stripe, program)
    event = paid_event(session)
    mail.outbox.clear()

    # 11 (12 on PostgreSQL, with the payment's advisory lock): the savepoint and its release;
    # the event row inserted; the donation locked; the program locked and its receipts of the
    # year counted; the donation saved; the ledger row; the deferred refunds looked up; the
    # event row updated; then, after the commit, the receipt task queued.
    limit = 12 if connection.vendor == "postgresql" else 11
    with django_assert_max_num_queries(limit), django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, event)

    assert outcome(response) == (200, "applied")
    assert mail.outbox == []
    [task] = DBTaskResult.objects.all()
    assert task.task_path == "financement.donations.send_receipt_email_task"
    assert task.args_kwargs["args"] == [donation.pk, "http://testserver"]


def test_a_receipt_task_that_cannot_be_queued_does_not_lose_the_payment(
    client: Client,
    fake_stripe: FakeStripe,
    program: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    donation, session = open_donation(client, fake_stripe, program)

    class QueueDown:
        def enqueue(self, *_args: Any) -> None:
            raise RuntimeError("the task queue is down")

    monkeypatch.setattr(donations, "send_receipt_email_task", QueueDown())
    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, paid_event(session))

    assert outcome(response) == (200, "applied")
    assert donation_rows(donation) == [Decimal("25.50")]


def test_ids_of_events_are_kept_whole(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    _donation, session = open_donation(client, fake_stripe, program)
    event = paid_event(session)
    event["id"] = new_id("evt") + "x" * 100

    post_event(client, event)

    assert StripeEvent.objects.get().event_id == event["id"]
