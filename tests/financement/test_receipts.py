"""After the payment: the thank-you page, the PDF receipt behind a signed link, and the receipt
e-mail sent by a background task in the donor's language."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from django.core import mail, signing
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext

from financement import donations
from financement.models import Donation
from financement.receipts import receipt_for, render_receipt_pdf
from tests.factories import ProgramFactory
from tests.financement.donation_helpers import (
    CHARITY,
    DONOR_ADDRESS,
    form_url,
    make_official,
    open_donation,
    pay,
    thanks_url,
)
from tests.financement.stripe_fakes import FakeStripe, post_event, refunded_charge, signed_event
from tests.helpers import text

pytestmark = pytest.mark.django_db

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def program() -> Any:
    return ProgramFactory(
        name="Coupons de Portneuf",
        slug="portneuf",
        serial_prefix="PORT",
        fund_holder="UPA de Portneuf",
        budget=Decimal("100.00"),
    )


def paid_donation(
    client: Client, fake: FakeStripe, program: Any, **fields: str
) -> tuple[Donation, dict[str, Any]]:
    donation, session = open_donation(client, fake, program, **fields)
    paid = pay(client, session)
    donation.refresh_from_db()
    return donation, paid


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def receipt_link(donation: Donation) -> str:
    return donations.receipt_path(donation)


# ---------------------------------------------------------------------------------------------
# The thank-you page


def test_the_thank_you_page_of_a_paid_donation_gives_its_receipt(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, session = paid_donation(client, fake_stripe, program)

    response = client.get(thanks_url(program, session["id"]))

    page = text(response)
    assert response.status_code == 200
    assert "Merci pour votre don!" in page
    assert "Nous avons bien reçu votre don de 25,50\xa0$ au programme Coupons de Portneuf." in page
    assert f"Numéro de reçu : {donation.receipt_number}" in page
    assert f'href="{receipt_link(donation)}"' in page
    assert "Ce n'est pas un reçu officiel aux fins de l'impôt." in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_thank_you_page_waits_for_stripe_while_the_payment_is_pending(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    _donation, session = open_donation(client, fake_stripe, program)

    response = client.get(thanks_url(program, session["id"]))

    assert response.status_code == 200
    assert "Paiement en cours de confirmation" in text(response)
    assert '<meta http-equiv="refresh" content="5">' in text(response)
    assert "/dons/recu/" not in text(response)


def test_the_thank_you_page_of_an_abandoned_donation_offers_to_start_again(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    _donation, session = open_donation(client, fake_stripe, program)
    post_event(client, signed_event("checkout.session.expired", session))

    response = client.get(thanks_url(program, session["id"]))

    assert response.status_code == 200
    assert "Don non complété" in text(response)
    assert "aucun montant n'a été prélevé" in text(response)


def test_the_thank_you_page_of_a_refunded_donation_says_so(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    _donation, paid = paid_donation(client, fake_stripe, program)
    post_event(client, signed_event("charge.refunded", refunded_charge(paid, amount_refunded=2550)))

    response = client.get(thanks_url(program, paid["id"]))

    assert response.status_code == 200
    assert "Ce don a été remboursé en entier." in text(response)
    assert "/dons/recu/" not in text(response)


@pytest.mark.parametrize("session_id", ["", "cs_test_inconnu", "x" * 300])
def test_the_thank_you_page_of_an_unknown_session_is_not_found(
    client: Client, fake_stripe: FakeStripe, program: Any, session_id: str
) -> None:
    response = client.get(thanks_url(program, session_id))

    assert response.status_code == 404
    assert "Don introuvable" in text(response)


def test_the_thank_you_page_of_another_programs_donation_is_not_found(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    _donation, session = paid_donation(client, fake_stripe, program)
    other = ProgramFactory(slug="kamouraska")

    assert client.get(thanks_url(other, session["id"])).status_code == 404


# ---------------------------------------------------------------------------------------------
# The PDF receipt


def test_the_receipt_of_a_program_without_charity_number_is_an_acknowledgement(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, _ = paid_donation(client, fake_stripe, program)

    response = client.get(receipt_link(donation))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"] == (
        f'inline; filename="recu-{donation.receipt_number}.pdf"'
    )
    content = pdf_text(response.content)
    assert "Accusé de réception — ce n'est pas un reçu officiel aux fins de l'impôt" in content
    assert "Acknowledgement — not an official tax receipt" in content
    assert "Il ne peut pas servir de reçu officiel aux fins de l'impôt." in content
    assert "Reçu officiel aux fins" not in content
    assert "bienfaisance" not in content and "Montant admissible" not in content
    assert donation.receipt_number in content
    assert "UPA de Portneuf" in content and "Coupons de Portneuf" in content
    assert "Françoise Tremblay" in content and "En mémoire de Léo" in content
    assert "25,50 $ / $25.50" in content


def test_the_receipt_of_a_registered_charity_is_an_official_tax_receipt(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    """What the Income Tax Regulations (s. 3501) ask of an official receipt, read back from
    the PDF."""
    make_official(program)
    donation, _ = paid_donation(client, fake_stripe, program, donor_address=DONOR_ADDRESS)

    content = pdf_text(client.get(receipt_link(donation)).content)

    assert (
        "Reçu officiel aux fins de l'impôt sur le revenu / Official receipt for income tax purposes"
        in content
    )
    assert "Organization UPA de Portneuf" in content
    assert "Address 50, rue de la Gare, Saint-Casimir (Québec) G0A 3L0" in content
    assert f"Charity registration number {CHARITY}" in content
    assert f"Receipt number {donation.receipt_number}" in content
    assert "Place of issue Saint-Casimir (Québec) G0A 3L0" in content
    assert "Donor Françoise Tremblay" in content
    assert "Donor's address 12, rang Saint-Joseph, Deschambault (Québec) G0A 1S0" in content
    assert "Value of the advantage 0,00 $ / $0.00" in content
    assert "Eligible amount of the gift for tax purposes 25,50 $ / $25.50" in content
    assert "Authorized signature Marie Gagnon, trésorière" in content
    assert "Canada Revenue Agency" in content and "canada.ca/charities-giving" in content
    assert "pas un reçu officiel" not in content
    paid_on = timezone.localdate(donation.paid_at)
    assert str(paid_on.year) in content


def test_a_charity_number_alone_does_not_make_a_receipt_official(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    """A program saved before the address and signatory were asked: acknowledgements until
    the coordination gives them, and no address is asked of donors meanwhile."""
    program.charity_number = CHARITY
    program.save()
    assert "donor_address" not in text(client.get(form_url(program)))
    donation, _ = paid_donation(client, fake_stripe, program)

    content = pdf_text(client.get(receipt_link(donation)).content)

    assert donation.donor_address == ""
    assert "Acknowledgement — not an official tax receipt" in content
    assert "Eligible amount" not in content


def test_a_gift_made_before_the_program_gave_official_receipts_keeps_its_acknowledgement(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, _ = paid_donation(client, fake_stripe, program)
    make_official(program)

    content = pdf_text(client.get(receipt_link(donation)).content)

    assert "Acknowledgement — not an official tax receipt" in content
    assert receipt_for(donation).official is False


def test_a_partly_refunded_gift_is_receipted_net_of_its_refund(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    make_official(program)
    donation, paid = paid_donation(
        client, fake_stripe, program, amount="50", donor_address=DONOR_ADDRESS
    )
    post_event(client, signed_event("charge.refunded", refunded_charge(paid, amount_refunded=2000)))

    content = pdf_text(client.get(receipt_link(donation)).content)

    assert "Amount of the gift 50,00 $ / $50.00" in content
    assert "Amount refunded 20,00 $ / $20.00" in content
    assert "Eligible amount of the gift for tax purposes 30,00 $ / $30.00" in content


def test_a_partly_refunded_acknowledgement_shows_the_net_gift(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, paid = paid_donation(client, fake_stripe, program, amount="50")
    post_event(client, signed_event("charge.refunded", refunded_charge(paid, amount_refunded=2000)))

    content = pdf_text(client.get(receipt_link(donation)).content)

    assert "Amount refunded 20,00 $ / $20.00" in content
    assert "Net amount of the gift 30,00 $ / $30.00" in content
    assert "Eligible amount" not in content


def test_a_fully_refunded_gift_has_no_receipt(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, paid = paid_donation(client, fake_stripe, program)
    link = receipt_link(donation)
    post_event(client, signed_event("charge.refunded", refunded_charge(paid, amount_refunded=2550)))

    assert client.get(link).status_code == 404


def test_a_receipt_link_that_is_not_signed_by_us_is_not_found(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, _ = paid_donation(client, fake_stripe, program)
    token = donations.receipt_token(donation)
    forged = [
        "inconnu",
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature changed
        signing.dumps(donation.pk),  # signed for something else
        signing.dumps(str(donation.pk), salt=donations.RECEIPT_SALT),  # not a donation id
    ]

    for bad in forged:
        assert client.get(f"/dons/recu/{bad}.pdf").status_code == 404, bad


def test_a_pending_donation_has_no_receipt(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, _ = open_donation(client, fake_stripe, program)

    assert client.get(receipt_link(donation)).status_code == 404


def test_names_outside_the_pdf_fonts_are_approximated(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, _ = paid_donation(
        client, fake_stripe, program, donor_name="Łukasz Ōta 🌽", dedication="Pour Zoë"
    )

    content = pdf_text(render_receipt_pdf(receipt_for(donation)))

    assert "Lukasz Ota ?" in content and "Pour Zoë" in content


# ---------------------------------------------------------------------------------------------
# The receipt e-mail (a background task)


def paid_and_queued(client: Client, fake: FakeStripe, program: Any, capture: Any) -> Any:
    """Paid: the receipt task is queued after the commit, and no mail is sent yet."""
    from django_tasks_db.models import DBTaskResult

    with capture(execute=True):
        paid_donation(client, fake, program)
    assert mail.outbox == []
    return DBTaskResult.objects.get()


def run_as_the_worker(queued: Any) -> None:
    assert queued.task.call(*queued.args_kwargs["args"], **queued.args_kwargs["kwargs"]) is True


def test_the_worker_mails_the_receipt_link_to_the_donor(
    client: Client,
    fake_stripe: FakeStripe,
    program: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = DATABASE_TASKS

    run_as_the_worker(
        paid_and_queued(client, fake_stripe, program, django_capture_on_commit_callbacks)
    )
    donation = Donation.objects.get()

    [message] = mail.outbox
    assert message.to == ["francoise@example.org"]
    assert message.subject == "Merci pour votre don au programme Coupons de Portneuf"
    assert "Bonjour Françoise Tremblay," in message.body
    assert (
        "Nous avons bien reçu votre don de 25,50\xa0$ au programme Coupons de Portneuf."
        in message.body
    )
    assert f"Numéro de reçu : {donation.receipt_number}" in message.body
    assert "Ce reçu est un accusé de réception, pas un reçu officiel d'impôt." in message.body
    [link] = re.findall(r"https?://\S+", message.body)
    assert link == f"http://testserver{receipt_link(donation)}"
    receipt = client.get(link.removeprefix("http://testserver"))
    assert receipt.status_code == 200 and receipt["Content-Type"] == "application/pdf"


@pytest.mark.parametrize(("cookie", "language"), [("en", "en"), ("fr-ca", "fr"), ("", "fr")])
def test_the_receipt_mail_is_written_in_the_donors_language(
    client: Client,
    fake_stripe: FakeStripe,
    program: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
    cookie: str,
    language: str,
) -> None:
    settings.TASKS = DATABASE_TASKS
    if cookie:
        client.cookies["django_language"] = cookie
    # The language each sentence of the mail is translated in (the English catalog may not
    # have them yet: the words themselves would not tell).
    translated_in: set[str | None] = set()

    def recording_gettext(message: str) -> str:
        translated_in.add(translation.get_language())
        return gettext(message)

    queued = paid_and_queued(client, fake_stripe, program, django_capture_on_commit_callbacks)
    monkeypatch.setattr(donations, "_", recording_gettext)
    with translation.override("fr-ca" if language == "en" else "en"):  # the worker's own
        run_as_the_worker(queued)

    donation = Donation.objects.get()
    assert donation.language == language
    assert len(mail.outbox) == 1
    assert translated_in == {language}


def test_the_receipt_task_sends_nothing_for_a_donation_that_is_not_paid(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    donation, _ = open_donation(client, fake_stripe, program)
    mail.outbox.clear()

    assert donations.send_receipt_email_task.call(donation.pk, "http://testserver") is False
    assert mail.outbox == []


def test_a_receipt_says_what_the_program_said_when_the_gift_was_received(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    make_official(program)
    donation, _ = paid_donation(client, fake_stripe, program, donor_address=DONOR_ADDRESS)
    # Next year, another treasurer, another address, and no charity number at all.
    program.receipt_signatory = "Luc Tremblay, trésorier"
    program.fund_holder_address = "1, rue Principale\nPortneuf (Québec) G0A 2Y0"
    program.charity_number = ""
    program.save()

    content = pdf_text(client.get(receipt_link(donation)).content)

    assert "Official receipt for income tax purposes" in content
    assert f"Charity registration number {CHARITY}" in content
    assert "Authorized signature Marie Gagnon, trésorière" in content
    assert "Saint-Casimir" in content and "Luc Tremblay" not in content
