"""A donation from the form to Stripe's events, for the donation, webhook and receipt tests."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from financement.models import Donation
from programmes.models import Program
from tests.financement.stripe_fakes import FakeStripe, completed, post_event, signed_event

DONOR = {
    "amount": "25,50",
    "donor_name": "Françoise Tremblay",
    "donor_email": "francoise@example.org",
    "dedication": "En mémoire de Léo",
}


CHARITY = "123456789RR0001"
ADDRESS = "50, rue de la Gare\nSaint-Casimir (Québec) G0A 3L0"
DONOR_ADDRESS = "12, rang Saint-Joseph\nDeschambault (Québec) G0A 1S0"


def make_official(program: Program) -> None:
    """Everything an official receipt must carry: the charity's number, address, signatory."""
    program.fund_holder = program.fund_holder or "UPA de Portneuf"
    program.charity_number = CHARITY
    program.fund_holder_address = ADDRESS
    program.receipt_signatory = "Marie Gagnon, trésorière"
    program.save()


def form_url(program: Program) -> str:
    return reverse("financement:donation_form", kwargs={"slug": program.slug})


def thanks_url(program: Program, session_id: str) -> str:
    url = reverse("financement:donation_thanks", kwargs={"slug": program.slug})
    return f"{url}?session_id={session_id}"


def open_donation(
    client: Client, fake: FakeStripe, program: Program, **fields: str
) -> tuple[Donation, dict[str, Any]]:
    """The donor fills the form and is sent to Stripe: the pending donation and its session."""
    response = client.post(form_url(program), {**DONOR, **fields})
    assert response.status_code == 303, response.content.decode()
    donation = Donation.objects.get(checkout_session_id=response["Location"].rsplit("/", 1)[1])
    return donation, fake.sessions[donation.checkout_session_id or ""]


def paid_event(session: dict[str, Any], **completed_fields: Any) -> dict[str, Any]:
    return signed_event("checkout.session.completed", completed(session, **completed_fields))


def pay(client: Client, session: dict[str, Any]) -> dict[str, Any]:
    """Stripe reports the session paid; returns the paid session (with its payment_intent)."""
    event = paid_event(session)
    response = post_event(client, event)
    assert response.status_code == 200, response.content.decode()
    return dict(event["data"]["object"])
