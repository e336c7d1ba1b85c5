"""The public donation form: what it sends to Stripe, what it refuses, and what happens when
Stripe is not configured or does not answer."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from financement.models import Donation, LedgerEntry, StripeEvent
from tests.factories import ProgramFactory, UserFactory
from tests.financement.donation_helpers import DONOR, form_url, make_official, open_donation
from tests.financement.stripe_fakes import SECRET_KEY, FakeStripe
from tests.helpers import text

pytestmark = pytest.mark.django_db

SESSIONS = "/v1/checkout/sessions"


@pytest.fixture
def program() -> Any:
    return ProgramFactory(name="Coupons de Portneuf", slug="portneuf", budget=Decimal("100.00"))


def test_the_form_sends_the_donor_to_a_checkout_session_made_for_the_donation(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    before = int(time.time())
    response = client.post(form_url(program), DONOR)

    donation = Donation.objects.get()
    assert response.status_code == 303
    assert (
        response["Location"] == f"https://checkout.stripe.com/c/pay/{donation.checkout_session_id}"
    )
    assert (donation.status, donation.amount) == (Donation.Status.PENDING, Decimal("25.50"))
    assert (donation.donor_name, donation.donor_email) == (
        "Françoise Tremblay",
        "francoise@example.org",
    )
    assert (donation.dedication, donation.language) == ("En mémoire de Léo", "fr")
    [sent] = fake_stripe.requests
    assert (sent.method, sent.path) == ("post", SESSIONS)
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["Idempotency-Key"].startswith(f"donation-{donation.pk}-")
    params = sent.params
    assert params["mode"] == "payment"
    assert params["line_items[0][quantity]"] == "1"
    assert params["line_items[0][price_data][unit_amount]"] == "2550"  # cents
    assert params["line_items[0][price_data][currency]"] == "cad"
    assert params["line_items[0][price_data][product_data][name]"] == (
        "Don au programme Coupons de Portneuf"
    )
    assert params["metadata[kind]"] == "donation"
    assert params["metadata[id]"] == str(donation.pk)
    # Copied by Stripe to the charge, where a refund finds it.
    assert params["payment_intent_data[metadata][kind]"] == "donation"
    assert params["payment_intent_data[metadata][id]"] == str(donation.pk)
    assert params["customer_email"] == "francoise@example.org"
    assert params["locale"] == "fr-CA"
    assert params["success_url"] == (
        "http://testserver/dons/portneuf/merci/?session_id={CHECKOUT_SESSION_ID}"
    )
    assert params["cancel_url"] == "http://testserver/dons/portneuf/?annule=1"
    assert before + 3600 <= int(params["expires_at"]) <= int(time.time()) + 3600
    # Nothing is received until Stripe says so.
    assert not LedgerEntry.objects.filter(kind="donation").exists()


def test_a_donor_who_chose_english_pays_on_an_english_page(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    client.cookies["django_language"] = "en"

    donation, _session = open_donation(client, fake_stripe, program, amount="1 250.00")

    assert (donation.language, donation.amount) == ("en", Decimal("1250.00"))
    assert fake_stripe.requests[0].params["locale"] == "en"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "4,99", "Le don doit être d'au moins 5,00"),
        ("amount", "10000.01", "et d'au plus 10"),
        ("amount", "25.505", "2 chiffres après la virgule"),
        ("amount", "", "Indiquez le montant de votre don."),
        ("amount", "beaucoup", "Saisissez un nombre."),
        ("amount", "NaN", "Saisissez un nombre."),
        ("amount", "-20", "Le don doit être d'au moins 5,00"),
        ("donor_name", "", "Indiquez votre nom."),
        ("donor_name", "   ", "Indiquez votre nom."),
        ("donor_name", "x" * 161, "au plus 160 caractères"),
        ("donor_email", "", "Indiquez votre courriel."),
        ("donor_email", "pas-un-courriel", "Indiquez une adresse courriel valide"),
        ("dedication", "x" * 201, "au plus 200 caractères"),
    ],
)
def test_bad_input_is_refused_in_french_and_records_nothing(
    client: Client, fake_stripe: FakeStripe, program: Any, field: str, value: str, message: str
) -> None:
    response = client.post(form_url(program), {**DONOR, field: value})

    assert response.status_code == 400
    assert message in text(response)
    assert not Donation.objects.exists()
    assert fake_stripe.requests == []


def test_without_stripe_keys_the_page_says_online_payment_is_not_configured(
    client: Client, settings: Any, program: Any
) -> None:
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""

    page = client.get(form_url(program))
    posted = client.post(form_url(program), DONOR)

    assert page.status_code == 200
    assert "Le paiement en ligne n'est pas configuré" in text(page)
    assert "<form" not in text(page).split("<main", 1)[-1]
    assert posted.status_code == 503
    assert "Le paiement en ligne n'est pas configuré" in text(posted)
    assert not Donation.objects.exists()
    # Stripe's calls are answered, and refused, without a key.
    assert (
        client.post("/stripe/webhook", data="{}", content_type="application/json").status_code
        == 503
    )
    assert not StripeEvent.objects.exists()


def test_without_stripe_keys_the_rest_of_the_site_works(
    client: Client, settings: Any, program: Any
) -> None:
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    coordinator = UserFactory()
    program.coordinators.add(coordinator)
    client.force_login(coordinator)

    assert client.get(reverse("accueil")).status_code == 200
    assert client.get(reverse("programmes:program_list")).status_code == 200
    edit = client.get(reverse("programmes:program_edit", kwargs={"slug": program.slug}))
    assert edit.status_code == 200


def test_when_stripe_does_not_answer_the_donor_is_told_and_nothing_is_received(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    fake_stripe.fail_with = 500

    response = client.post(form_url(program), DONOR)

    assert response.status_code == 503
    assert "Le service de paiement ne répond pas pour le moment" in text(response)
    assert "Aucun montant n'a été prélevé" in text(response)
    donation = Donation.objects.get()
    assert donation.status == Donation.Status.EXPIRED and donation.checkout_session_id is None
    assert not LedgerEntry.objects.filter(kind="donation").exists()
    # The library tried again with the same idempotency key: Stripe could not charge twice.
    keys = {sent.headers["Idempotency-Key"] for sent in fake_stripe.sent(SESSIONS)}
    assert len(fake_stripe.sent(SESSIONS)) == 3 and len(keys) == 1


def test_a_donor_who_comes_back_from_stripe_without_paying_may_start_again(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    response = client.get(form_url(program) + "?annule=1")

    assert response.status_code == 200
    assert "Votre don n'a pas été complété et aucun montant n'a été prélevé." in text(response)
    assert "Continuer vers le paiement" in text(response)


def test_the_form_tells_whether_the_receipt_is_an_official_one(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    plain = text(client.get(form_url(program)))
    make_official(program)
    official = text(client.get(form_url(program)))

    assert "Ce n'est pas un reçu officiel aux fins de l'impôt." in plain
    assert 'name="donor_address"' not in plain
    assert "reçu officiel aux fins de l'impôt de UPA de Portneuf" in official
    assert "123456789RR0001" in official
    assert 'name="donor_address"' in official and "Votre adresse postale" in official


def test_an_official_receipt_needs_the_donors_address(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    make_official(program)

    response = client.post(form_url(program), {**DONOR, "donor_address": "  \n "})

    assert response.status_code == 400
    assert "Indiquez votre adresse postale : elle doit figurer sur le reçu officiel." in text(
        response
    )
    assert not Donation.objects.exists()
    assert fake_stripe.requests == []

    address = "  12, rang  Saint-Joseph\r\n\r\nDeschambault (Québec) G0A 1S0 "
    assert client.post(form_url(program), {**DONOR, "donor_address": address}).status_code == 303
    assert (
        Donation.objects.get().donor_address
        == "12, rang Saint-Joseph\nDeschambault (Québec) G0A 1S0"
    )


def test_a_donor_address_is_not_kept_when_the_receipt_is_not_official(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    client.post(form_url(program), {**DONOR, "donor_address": "12, rang Saint-Joseph"})

    assert Donation.objects.get().donor_address == ""


def test_an_unknown_program_has_no_donation_page(client: Client, fake_stripe: FakeStripe) -> None:
    assert client.get("/dons/inconnu/").status_code == 404
    assert client.post("/dons/inconnu/", DONOR).status_code == 404
    assert not Donation.objects.exists()


def test_the_donation_page_takes_only_get_and_post(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    assert client.put(form_url(program)).status_code == 405
    assert client.delete(form_url(program)).status_code == 405


def test_each_submission_is_its_own_payment(
    client: Client, fake_stripe: FakeStripe, program: Any
) -> None:
    first, _ = open_donation(client, fake_stripe, program)
    second, _ = open_donation(client, fake_stripe, program)

    assert first.pk != second.pk
    assert first.checkout_session_id != second.checkout_session_id
    keys = [sent.headers["Idempotency-Key"] for sent in fake_stripe.sent(SESSIONS)]
    assert len(set(keys)) == 2  # a new donation is a new payment, never a replay


def test_past_the_limit_of_payments_per_address_the_form_says_when_to_retry_and_records_nothing(
    client: Client, fake_stripe: FakeStripe, program: Any, settings: Any
) -> None:
    """A script cannot fill the table of pending donations or open sessions at Stripe by the
    thousand: CHECKOUT_RATE_LIMIT per address (and invalid forms do not count)."""
    settings.CHECKOUT_RATE_LIMIT = "2/600"
    with time_machine.travel(timezone.now().replace(minute=0, second=0), tick=False):
        assert client.post(form_url(program), {**DONOR, "amount": "abc"}).status_code == 400
        for _ in range(2):
            assert client.post(form_url(program), DONOR).status_code == 303
        response = client.post(form_url(program), DONOR)

        assert response.status_code == 429
        assert response["Retry-After"] == "600"
        assert "réessayez dans 10 minutes" in text(response)
        assert Donation.objects.count() == 2
        assert len(fake_stripe.requests) == 2
        # Another address has its own allowance.
        assert client.post(form_url(program), DONOR, REMOTE_ADDR="192.0.2.7").status_code == 303
    with time_machine.travel(timezone.now().replace(minute=0, second=0) + timedelta(minutes=10)):
        assert client.post(form_url(program), DONOR).status_code == 303
