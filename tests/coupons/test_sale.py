"""The public solidarity sale: the offer, the purchase through Stripe's hosted Checkout (a fake
HTTP client, signed webhooks), the subsidy cap, the reservations, the funds, refunds."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coupons.models import (
    SALE_RESERVATION_GRACE,
    Coupon,
    CouponSale,
    IssuanceBatch,
    WalletLink,
)
from coupons.sale import (
    CHECKOUT_LIFETIME,
    SaleError,
    sale_offer,
    send_buyer_email,
    start_sale,
)
from coupons.services import IssuanceError, committed_value, issue_household_allotment
from coupons.wallet import resolve_wallet_token
from financement.models import LedgerEntry, StripeEvent
from financement.selectors import program_funds
from programmes.models import Program
from tests.factories import HouseholdFactory, ProgramFactory, UserFactory, set_funds
from tests.financement.stripe_fakes import (
    FakeStripe,
    completed,
    new_id,
    post_event,
    refunded_charge,
    signed_event,
)
from tests.helpers import text

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
D = Decimal


# Helpers ------------------------------------------------------------------------------------


def sale_program(**overrides: Any) -> Program:
    """Portneuf's offer: 30 $ of coupons (six of 5 $) for 20 $, 10 $ of subsidy a pack."""
    options: dict[str, Any] = {
        "budget": D("1000.00"),
        "sale_enabled": True,
        "sale_price": D("20.00"),
        "sale_value": D("30.00"),
        "sale_subsidy_cap": D("100.00"),
        "sale_max_packs": 5,
        **overrides,
    }
    return ProgramFactory(**options)


def form_url(program: Program) -> str:
    return reverse("coupons:sale_form", kwargs={"slug": program.slug})


def thanks_url(program: Program, session_id: str) -> str:
    return reverse("coupons:sale_thanks", kwargs={"slug": program.slug}) + (
        f"?session_id={session_id}"
    )


def form_data(packs: int | str = 1, **overrides: str) -> dict[str, Any]:
    return {
        "packs": packs,
        "buyer_name": "Camille Roy",
        "buyer_email": "camille@example.org",
        **overrides,
    }


def start(program: Program, packs: int = 1, **overrides: Any) -> CouponSale:
    options: dict[str, Any] = {
        "program": program,
        "packs": packs,
        "buyer_name": "Camille Roy",
        "buyer_email": "camille@example.org",
        "language": "fr",
        "success_url": "https://coupons.example.org/vente/merci/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://coupons.example.org/vente/",
        **overrides,
    }
    sale, _url = start_sale(**options)
    return sale


def session_of(fake: FakeStripe, sale: CouponSale) -> dict[str, Any]:
    assert sale.checkout_session_id
    return fake.sessions[sale.checkout_session_id]


def pay(client: Client, fake: FakeStripe, sale: CouponSale, **kwargs: Any) -> dict[str, Any]:
    """Deliver checkout.session.completed for `sale`; returns the paid session."""
    paid = completed(session_of(fake, sale), **kwargs)
    response = post_event(client, signed_event("checkout.session.completed", paid))
    assert response.status_code == 200, response.content
    return paid


def read(response: Any) -> str:
    """The page as a reader sees it, with plain spaces (amounts use no-break spaces)."""
    return text(response).replace("\xa0", " ")


def available(program: Program) -> Decimal:
    return program_funds(program) - committed_value(program=program)


# The offer ------------------------------------------------------------------------------------


def test_the_page_shows_the_offer_and_the_form(
    client: Client, fake_stripe: FakeStripe, django_assert_max_num_queries: Any
) -> None:
    program = sale_program()
    # The program, its denominations, the sales' subsidies, the coupons, the ledger.
    with django_assert_max_num_queries(5):
        response = client.get(form_url(program))
    assert response.status_code == 200
    page = read(response)
    assert "30,00 $ de coupons pour 20,00 $" in page
    assert "5 carnets : 150,00 $ en coupons pour 100,00 $" in page
    assert 'name="buyer_email"' in page
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_list_offers_only_what_the_subsidy_left_allows(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program(sale_subsidy_cap=D("25.00"))  # two packs of 10 $ of subsidy
    page = read(client.get(form_url(program)))
    assert "2 carnets : 60,00 $" in page
    assert "3 carnets" not in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sale_enabled": False}, "La vente solidaire de ce programme n'est pas ouverte."),
        ({"sale_subsidy_cap": D("9.99")}, "la subvention allouée est entièrement utilisée"),
        ({"budget": D("5.00")}, "les fonds du programme ne permettent pas d'autres carnets"),
    ],
)
def test_a_closed_sale_says_why_and_has_no_form_to_send(
    client: Client, fake_stripe: FakeStripe, overrides: dict[str, Any], message: str
) -> None:
    program = sale_program(**overrides)
    response = client.get(form_url(program))
    assert response.status_code == 200
    assert message in read(response)
    assert 'name="buyer_email"' not in read(response)


def test_a_sale_after_the_season_is_closed(client: Client, fake_stripe: FakeStripe) -> None:
    program = sale_program()
    Program.objects.filter(pk=program.pk).update(
        season_start=timezone.localdate() - datetime.timedelta(days=30),
        season_end=timezone.localdate() - datetime.timedelta(days=1),
    )
    assert "La saison du programme est terminée" in read(client.get(form_url(program)))
    response = client.post(form_url(program), form_data())
    assert response.status_code == 400
    assert not CouponSale.objects.exists() and not fake_stripe.requests


def test_without_stripe_keys_the_page_says_payment_is_not_configured(
    client: Client, settings: Any
) -> None:
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    program = sale_program()
    assert "Le paiement en ligne n'est pas configuré" in read(client.get(form_url(program)))
    response = client.post(form_url(program), form_data())
    assert response.status_code == 503
    assert not CouponSale.objects.exists()
    with pytest.raises(SaleError) as excinfo:
        start(program)
    assert excinfo.value.code == "not_configured"


def test_an_unknown_program_is_a_404(client: Client) -> None:
    assert client.get("/vente/nulle-part/").status_code == 404


# Starting a purchase --------------------------------------------------------------------------


def test_the_form_sends_the_buyer_to_stripe_with_a_reservation(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    before = timezone.now()
    response = client.post(form_url(program), form_data(packs=2))

    assert response.status_code == 303
    sale = CouponSale.objects.get()
    assert response["Location"] == f"https://checkout.stripe.com/c/pay/{sale.checkout_session_id}"
    assert sale.status == CouponSale.Status.PENDING
    assert (sale.packs, sale.price, sale.value, sale.subsidy) == (2, D("40.00"), D("60.00"), 20)
    assert sale.buyer_name == "Camille Roy" and sale.buyer_email == "camille@example.org"
    assert before + CHECKOUT_LIFETIME <= sale.expires_at <= timezone.now() + CHECKOUT_LIFETIME
    [sent] = fake_stripe.sent("/v1/checkout/sessions")
    assert sent.params["line_items[0][price_data][unit_amount]"] == "4000"
    assert sent.params["line_items[0][quantity]"] == "1"
    assert sent.params["metadata[kind]"] == "sale"
    assert sent.params["metadata[id]"] == str(sale.pk)
    assert sent.params["payment_intent_data[metadata][kind]"] == "sale"
    assert sent.params["expires_at"] == str(int(sale.expires_at.timestamp()))
    assert sent.params["customer_email"] == "camille@example.org"
    assert sent.params["locale"] == "fr-CA"
    assert "2 carnets de coupons" in sent.params["line_items[0][price_data][product_data][name]"]
    assert sent.params["success_url"] == "http://testserver" + thanks_url(
        program, "{CHECKOUT_SESSION_ID}"
    )
    assert sent.headers.get("Idempotency-Key", "").startswith(f"sale-{sale.pk}-")
    # Nothing is in the ledger, nothing is issued until Stripe says it is paid.
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.SALE).exists()
    assert not IssuanceBatch.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (form_data(packs=0), "packs", "Choisissez un nombre de carnets de la liste."),
        (form_data(packs=6), "packs", "Choisissez un nombre de carnets de la liste."),
        (form_data(packs="deux"), "packs", "Choisissez un nombre de carnets de la liste."),
        (form_data(buyer_name="  "), "buyer_name", "Indiquez votre nom."),
        (form_data(buyer_email="pas-un-courriel"), "buyer_email", "adresse courriel valide"),
        (form_data(buyer_name="x" * 161), "buyer_name", "160"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_records_nothing(
    client: Client, fake_stripe: FakeStripe, data: dict[str, Any], field: str, message: str
) -> None:
    program = sale_program()
    response = client.post(form_url(program), data)
    assert response.status_code == 400
    assert message in read(response)
    assert response.context["form"].errors[field]
    assert not CouponSale.objects.exists() and not fake_stripe.requests


@pytest.mark.parametrize(
    ("packs", "name", "email", "code"),
    [
        (0, "Camille", "c@example.org", "invalid_packs"),
        (6, "Camille", "c@example.org", "invalid_packs"),
        (True, "Camille", "c@example.org", "invalid_packs"),
        (1, "", "c@example.org", "invalid_name"),
        (1, "Camille", "c@", "invalid_email"),
        (1, "Camille", "c" * 250 + "@example.org", "invalid_email"),
    ],
)
def test_the_service_checks_its_input_itself(
    fake_stripe: FakeStripe, packs: Any, name: str, email: str, code: str
) -> None:
    program = sale_program()
    with pytest.raises(SaleError) as excinfo:
        start(program, packs, buyer_name=name, buyer_email=email)
    assert excinfo.value.code == code
    assert not CouponSale.objects.exists()


def test_when_stripe_fails_the_reservation_is_freed_and_the_buyer_told(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program(sale_subsidy_cap=D("10.00"))
    fake_stripe.fail_with = 500
    response = client.post(form_url(program), form_data())
    assert response.status_code == 503
    assert "Le service de paiement ne répond pas" in read(response)
    assert CouponSale.objects.get().status == CouponSale.Status.EXPIRED
    assert sale_offer(program).is_open  # the only pack is free again
    with pytest.raises(SaleError) as excinfo:
        start(program)
    assert excinfo.value.code == "payment_unavailable"
    assert not CouponSale.objects.filter(status=CouponSale.Status.PENDING).exists()


# The payment ----------------------------------------------------------------------------------


def test_a_paid_purchase_issues_its_coupons_and_draws_only_the_subsidy(
    client: Client,
    fake_stripe: FakeStripe,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    program = sale_program()
    before = available(program)
    sale = start(program, packs=2)

    with django_capture_on_commit_callbacks(execute=True):
        paid = pay(client, fake_stripe, sale)

    sale.refresh_from_db()
    assert sale.status == CouponSale.Status.PAID
    assert sale.paid_at is not None and sale.payment_intent_id == paid["payment_intent"]
    entry = LedgerEntry.objects.get(kind=LedgerEntry.Kind.SALE)
    assert (entry.amount, entry.source) == (D("40.00"), f"sale:{sale.pk}")
    assert entry.stripe_reference == paid["payment_intent"]
    batch = sale.batch
    assert batch is not None and batch.kind == IssuanceBatch.Kind.SALE
    assert batch.household is None and batch.organization is None and batch.issued_by is None
    assert (batch.coupon_count, batch.total_value) == (12, D("60.00"))
    coupons = list(batch.coupons.all())
    assert [c.value for c in coupons] == [D("5.00")] * 12
    assert {c.valid_until for c in coupons} == {program.season_end}
    assert {c.valid_from for c in coupons} == {timezone.localdate()}
    # Funds +40 $ (the price), committed +60 $ (the coupons): 20 $ of subsidy is drawn.
    assert available(program) == before - D("20.00")
    assert program_funds(program) == D("1040.00")
    assert committed_value(program=program) == D("60.00") <= program_funds(program)
    link = WalletLink.objects.get(batch=batch)
    assert link.household is None and link.revoked_at is None
    # The buyer's e-mail: the wallet and the PDF, in their language.
    [message] = mail.outbox
    assert message.to == ["camille@example.org"]
    assert "Bonjour Camille Roy" in message.body.replace("\xa0", " ")
    assert "40,00 $ pour 60,00 $ en coupons" in message.body.replace("\xa0", " ")
    assert "https://coupons.example.org/portefeuille/" in message.body.replace("\xa0", " ")
    assert "/coupons.pdf" in message.body.replace("\xa0", " ")


def test_the_thank_you_page_gives_the_wallet_and_the_pdf(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    sale = start(program)
    pending = client.get(thanks_url(program, sale.checkout_session_id or ""))
    assert pending.status_code == 200
    assert "Paiement en cours de confirmation" in read(pending)
    assert 'http-equiv="refresh"' in read(pending)

    pay(client, fake_stripe, sale)
    response = client.get(thanks_url(program, sale.checkout_session_id or ""))
    assert response.status_code == 200
    page = read(response)
    assert "Merci pour votre achat solidaire!" in page
    sale.refresh_from_db()
    link = WalletLink.objects.get(batch=sale.batch)
    wallet_path = page.split('href="/portefeuille/')[1].split('"')[0]
    token = wallet_path.rstrip("/").split("/")[0]
    assert resolve_wallet_token(token) == link
    assert f"/portefeuille/{token}/coupons.pdf" in page
    assert response["Referrer-Policy"] == "no-referrer"


def test_an_unknown_session_is_a_404_that_shows_nobody_else(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program, other = sale_program(), sale_program()
    sale = start(other)
    assert client.get(thanks_url(program, "cs_test_nope")).status_code == 404
    # Another program's session is not found under this program.
    assert client.get(thanks_url(program, sale.checkout_session_id or "")).status_code == 404
    assert client.get(thanks_url(program, "")).status_code == 404


def test_repeated_and_duplicated_deliveries_issue_one_batch(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    sale = start(program)
    paid = completed(session_of(fake_stripe, sale))
    event = signed_event("checkout.session.completed", paid)
    answers = [post_event(client, event).content.decode() for _ in range(3)]
    # Another event of the same payment (async_payment_succeeded) changes nothing either.
    again = signed_event("checkout.session.async_payment_succeeded", paid)
    answers.append(post_event(client, again).content.decode())

    assert answers == ["applied", "already received", "already received", "ignored"]
    assert IssuanceBatch.objects.count() == 1
    assert Coupon.objects.count() == 6
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.SALE).count() == 1
    assert WalletLink.objects.count() == 1


def test_a_session_that_is_not_the_sales_changes_nothing(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    sale = start(program)
    forged = {**completed(session_of(fake_stripe, sale)), "id": new_id("cs")}
    response = post_event(client, signed_event("checkout.session.completed", forged))
    assert response.content == b"ignored"
    assert CouponSale.objects.get().status == CouponSale.Status.PENDING
    assert not IssuanceBatch.objects.exists()


def test_a_payment_reported_after_the_session_expired_is_still_honoured(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    sale = start(program)
    session = session_of(fake_stripe, sale)
    post_event(client, signed_event("checkout.session.expired", session))
    assert CouponSale.objects.get().status == CouponSale.Status.EXPIRED
    pay(client, fake_stripe, sale)
    sale.refresh_from_db()
    assert sale.status == CouponSale.Status.PAID and sale.batch is not None


def test_a_payment_whose_coupons_cannot_be_issued_keeps_the_money_and_is_flagged(
    client: Client,
    fake_stripe: FakeStripe,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    program = sale_program(budget=D("15.00"))
    sale = start(program)
    # Between the reservation and the payment, the funds shrink (a refunded grant).
    set_funds(program, D("5.00"))

    with django_capture_on_commit_callbacks(execute=True):
        pay(client, fake_stripe, sale)

    sale.refresh_from_db()
    assert sale.status == CouponSale.Status.PAID and sale.batch is None
    assert "Fonds insuffisants" in sale.issue_error
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.SALE, amount=D("20.00")).exists()
    assert not Coupon.objects.exists()
    assert committed_value(program=program) <= program_funds(program)
    assert "n'ont pas pu être émis" in mail.outbox[0].body
    page = read(client.get(thanks_url(program, sale.checkout_session_id or "")))
    assert "Paiement reçu" in page and "/portefeuille/" not in page
    # The coordinators see it on the sales page.
    coordinator = UserFactory()
    program.coordinators.add(coordinator)
    client.force_login(coordinator)
    listing = read(client.get(reverse("coupons:program_sales", kwargs={"slug": program.slug})))
    assert "1 achat payé n'a pas reçu ses coupons" in listing
    assert sale.payment_intent_id and sale.payment_intent_id in listing


# The subsidy cap, the reservations, the funds -------------------------------------------------


def test_when_the_cap_is_reached_the_sale_closes_and_refuses_with_nothing_recorded(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program(sale_subsidy_cap=D("20.00"))  # two packs
    pay(client, fake_stripe, start(program, packs=2))
    requests = len(fake_stripe.requests)

    page = client.get(form_url(program))
    assert "la subvention allouée est entièrement utilisée" in read(page)
    response = client.post(form_url(program), form_data())
    assert response.status_code == 400
    assert "la subvention allouée est entièrement utilisée" in read(response)
    assert CouponSale.objects.count() == 1
    assert len(fake_stripe.requests) == requests
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.SALE).count() == 1
    with pytest.raises(SaleError) as excinfo:
        start(program)
    assert excinfo.value.code == "sale_sold_out"


def test_a_purchase_larger_than_what_is_left_says_how_many_remain(
    fake_stripe: FakeStripe,
) -> None:
    program = sale_program(sale_subsidy_cap=D("30.00"))
    start(program, packs=2)
    with pytest.raises(SaleError) as excinfo:
        start(program, packs=2)
    assert excinfo.value.code == "sale_sold_out"
    assert excinfo.value.message.startswith("Il ne reste qu'un carnet à vendre")
    assert start(program, packs=1).status == CouponSale.Status.PENDING


def test_a_pending_purchase_holds_its_subsidy_until_its_session_expires(
    fake_stripe: FakeStripe,
) -> None:
    program = sale_program(sale_subsidy_cap=D("10.00"))  # one pack
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        sale = start(program)
    assert sale.expires_at == now + CHECKOUT_LIFETIME
    with time_machine.travel(
        sale.expires_at + SALE_RESERVATION_GRACE - datetime.timedelta(seconds=1)
    ):
        assert sale_offer(program).state == "sold_out"
        with pytest.raises(SaleError) as excinfo:
            start(program)
        assert excinfo.value.code == "sale_sold_out"
    with time_machine.travel(
        sale.expires_at + SALE_RESERVATION_GRACE + datetime.timedelta(seconds=1)
    ):
        assert sale_offer(program).is_open
        assert start(program).status == CouponSale.Status.PENDING


def test_the_expired_event_frees_the_reservation_at_once(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program(sale_subsidy_cap=D("10.00"))
    sale = start(program)
    assert not sale_offer(program).is_open
    response = post_event(
        client, signed_event("checkout.session.expired", session_of(fake_stripe, sale))
    )
    assert response.content == b"applied"
    assert CouponSale.objects.get().status == CouponSale.Status.EXPIRED
    assert sale_offer(program).is_open
    page = read(client.get(thanks_url(program, sale.checkout_session_id or "")))
    assert "Achat non complété" in page


def test_a_sale_never_pushes_the_commitments_past_the_funds(
    client: Client, fake_stripe: FakeStripe
) -> None:
    # 25 $ of funds and a cap far above: the funds allow two packs of 10 $ of subsidy.
    program = sale_program(budget=D("25.00"), sale_subsidy_cap=D("1000.00"))
    first = start(program)
    second = start(program)
    with pytest.raises(SaleError) as excinfo:
        start(program)  # the two reservations hold 20 $ of the 25 $
    assert excinfo.value.code == "insufficient_funds"
    pay(client, fake_stripe, first)
    pay(client, fake_stripe, second)
    assert committed_value(program=program) == D("60.00")
    assert program_funds(program) == D("65.00")
    with pytest.raises(SaleError) as excinfo:
        start(program)
    assert excinfo.value.code == "insufficient_funds"
    assert committed_value(program=program) <= program_funds(program)


def test_coupons_already_issued_count_against_the_funds(fake_stripe: FakeStripe) -> None:
    from tests.factories import CouponFactory

    program = sale_program(budget=D("100.00"))
    CouponFactory.create_batch(19, program=program, value=D("5.00"))  # 95 $ committed
    with pytest.raises(SaleError) as excinfo:
        start(program)
    assert excinfo.value.code == "insufficient_funds"
    assert not CouponSale.objects.exists()


# Refunds --------------------------------------------------------------------------------------


def test_a_refund_reverses_the_price_voids_the_unspent_coupons_and_kills_the_link(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    sale = start(program)
    paid = pay(client, fake_stripe, sale)
    sale.refresh_from_db()
    assert sale.batch is not None
    link = WalletLink.objects.get(batch=sale.batch)
    spent = sale.batch.coupons.order_by("serial").first()
    assert spent is not None
    Coupon.objects.filter(pk=spent.pk).update(
        status=Coupon.Status.REDEEMED, redeemed_at=timezone.now()
    )

    charge = refunded_charge(paid, amount_refunded=2000)
    response = post_event(client, signed_event("charge.refunded", charge))

    assert response.content == b"applied"
    sale.refresh_from_db()
    assert sale.status == CouponSale.Status.REFUNDED and sale.refunded_amount == D("20.00")
    refund = LedgerEntry.objects.get(kind=LedgerEntry.Kind.REFUND, source=f"sale:{sale.pk}")
    assert refund.amount == D("-20.00")
    statuses = dict(sale.batch.coupons.values_list("pk", "status"))
    assert statuses.pop(spent.pk) == Coupon.Status.REDEEMED
    assert set(statuses.values()) == {Coupon.Status.VOID}
    assert resolve_wallet_token_for(link) is None
    assert "Achat remboursé" in read(
        client.get(thanks_url(program, sale.checkout_session_id or ""))
    )
    # The same refund reported again, or an older partial one, records nothing more.
    post_event(client, signed_event("charge.refunded", charge))
    post_event(client, signed_event("charge.refunded", {**charge, "amount_refunded": 500}))
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1


def resolve_wallet_token_for(link: WalletLink) -> WalletLink | None:
    from coupons.wallet import wallet_token

    return resolve_wallet_token(wallet_token(link))


def test_a_partial_then_a_full_refund_record_each_part_once(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    sale = start(program, packs=2)
    paid = pay(client, fake_stripe, sale)
    post_event(client, signed_event("charge.refunded", refunded_charge(paid, amount_refunded=1500)))
    post_event(client, signed_event("charge.refunded", refunded_charge(paid, amount_refunded=4000)))
    amounts = sorted(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).values_list("amount", flat=True)
    )
    assert amounts == [D("-25.00"), D("-15.00")]
    assert program_funds(program) == D("1000.00")
    sale.refresh_from_db()
    assert sale.refunded_amount == D("40.00")


def test_a_refund_that_arrives_before_the_payment_waits_for_it(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    sale = start(program)
    paid = completed(session_of(fake_stripe, sale))
    refund = post_event(
        client, signed_event("charge.refunded", refunded_charge(paid, amount_refunded=2000))
    )
    assert refund.content == b"deferred"
    post_event(client, signed_event("checkout.session.completed", paid))
    sale.refresh_from_db()
    assert sale.status == CouponSale.Status.REFUNDED
    assert program_funds(program) == D("1000.00")
    assert not Coupon.objects.filter(status=Coupon.Status.ISSUED).exists()
    assert StripeEvent.objects.filter(status=StripeEvent.Status.DEFERRED).count() == 0


# The coordinators' page -----------------------------------------------------------------------


def test_the_sales_page_is_the_programs_coordinators_only(
    client: Client, fake_stripe: FakeStripe, django_assert_max_num_queries: Any
) -> None:
    program = sale_program()
    for _n in range(3):
        pay(client, fake_stripe, start(program))
    start(program)
    url = reverse("coupons:program_sales", kwargs={"slug": program.slug})
    assert client.get(url).status_code == 302  # to sign in

    outsider = UserFactory()
    sale_program().coordinators.add(outsider)
    client.force_login(outsider)
    assert client.get(url).status_code == 404

    coordinator = UserFactory()
    program.coordinators.add(coordinator)
    client.force_login(coordinator)
    # Session, user, program, the subsidies (the page's, then the offer's), the offer's
    # denominations, ledger and coupons, the sales to settle, the page's count and rows, and
    # the navigation's five (programs, organizations, markets, vendors).
    with django_assert_max_num_queries(17):
        response = client.get(url)
    assert response.status_code == 200
    page = read(response)
    assert page.count("Payé") >= 3 and "En attente du paiement" in page
    assert "Camille" not in page and "camille@example.org" not in page


def test_the_buyers_email_is_not_sent_for_a_sale_that_is_not_paid(
    fake_stripe: FakeStripe,
) -> None:
    sale = start(sale_program())
    assert send_buyer_email(sale_id=sale.pk) is False
    assert not mail.outbox


def test_past_the_limit_of_payments_per_address_no_more_packs_are_reserved(
    client: Client, fake_stripe: FakeStripe, settings: Any
) -> None:
    """Each purchase started reserves subsidy for half an hour: a script past
    CHECKOUT_RATE_LIMIT must not hold the whole sale."""
    settings.CHECKOUT_RATE_LIMIT = "1/600"
    program = sale_program()
    with time_machine.travel(timezone.now().replace(minute=0, second=0), tick=False):
        assert client.post(form_url(program), form_data(packs=1)).status_code == 303
        response = client.post(form_url(program), form_data(packs=1))

        assert response.status_code == 429
        assert response["Retry-After"] == "600"
        assert "Trop de paiements ont été commencés depuis cette adresse" in read(response)
        assert CouponSale.objects.count() == 1
        assert len(fake_stripe.sent("/v1/checkout/sessions")) == 1


def test_a_household_issuance_cannot_take_the_subsidy_a_buyer_is_paying_for(
    client: Client, fake_stripe: FakeStripe
) -> None:
    """While a buyer pays on Stripe's page, the budget guard of every issuance holds the sale's
    subsidy: the payment then always finds its coupons' funds."""
    program = sale_program(budget=D("25.00"))
    household = HouseholdFactory(program=program)
    sale = start(program)  # holds 10 $ of subsidy: 15 $ left for households

    with pytest.raises(IssuanceError) as refused:
        issue_household_allotment(
            household=household, issued_by=UserFactory(), idempotency_key=uuid.uuid4()
        )
    assert refused.value.code == "insufficient_funds"
    assert "il reste 15,00" in refused.value.message
    assert not household.coupons.exists()

    pay(client, fake_stripe, sale)

    sale.refresh_from_db()
    assert sale.status == CouponSale.Status.PAID and sale.issue_error == ""
    assert sale.batch is not None and sale.batch.total_value == D("30.00")
    assert committed_value(program=program) <= program_funds(program)
