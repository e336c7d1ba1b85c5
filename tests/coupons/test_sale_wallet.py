"""A public buyer's wallet: the sale's coupons behind a signed link, and their printable PDF."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coupons.models import Coupon, CouponSale, WalletLink
from coupons.selectors import qr_text_for
from coupons.wallet import wallet_token
from tests.coupons.test_sale import pay, read, sale_program, start
from tests.factories import HouseholdFactory
from tests.financement.stripe_fakes import (
    FakeStripe,
    post_event,
    refunded_charge,
    signed_event,
)
from tests.qr_images import decode_qr_codes, render_pdf_page

pytestmark = pytest.mark.django_db


def bought(client: Client, fake: FakeStripe, packs: int = 1, **options: Any) -> CouponSale:
    language = options.pop("language", "fr")
    program = sale_program(**options)
    sale = start(program, packs=packs, language=language)
    pay(client, fake, sale)
    sale.refresh_from_db()
    assert sale.batch is not None
    return sale


def token_of(sale: CouponSale) -> str:
    return wallet_token(WalletLink.objects.get(batch=sale.batch, revoked_at__isnull=True))


def wallet_url(token: str) -> str:
    return reverse("coupons:wallet", kwargs={"token": token})


def pdf_url(token: str) -> str:
    return reverse("coupons:sale_pdf", kwargs={"token": token})


def test_the_wallet_shows_the_sales_coupons_with_their_qr_codes(
    client: Client, fake_stripe: FakeStripe, django_assert_max_num_queries: Any
) -> None:
    sale = bought(client, fake_stripe, packs=2)
    token = token_of(sale)
    # The link (with its batch, program and sale), the coupons, the signing keys, the
    # "opened" note: the same whatever the number of coupons.
    with django_assert_max_num_queries(4):
        response = client.get(wallet_url(token))
    assert response.status_code == 200
    page = read(response)
    assert "Achat solidaire" in page and sale.program.name in page
    coupons = list(Coupon.objects.filter(batch=sale.batch))
    assert len(coupons) == 12
    for coupon in coupons:
        assert f'data-serial="{coupon.serial}"' in page
    assert page.count("<svg") >= 12
    assert pdf_url(token) in page
    # Never the buyer's name or e-mail.
    assert "Camille" not in page and "camille@example.org" not in page
    assert response["Cache-Control"] == "private, no-cache"


def test_the_wallet_speaks_the_buyers_language(client: Client, fake_stripe: FakeStripe) -> None:
    sale = bought(client, fake_stripe, language="en")
    page = read(client.get(wallet_url(token_of(sale))))
    assert "My coupons" in page or "Mes coupons" in page  # English once translated
    assert 'lang="en"' in page
    french = read(client.get(wallet_url(token_of(sale)) + "?lang=fr"))
    assert 'lang="fr"' in french


def test_the_pdf_holds_every_coupon_with_its_signed_qr_code(
    client: Client, fake_stripe: FakeStripe
) -> None:
    sale = bought(client, fake_stripe)
    response = client.get(pdf_url(token_of(sale)))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="coupons-achat-{sale.batch_id}.pdf"' in response["Content-Disposition"]
    assert response["Cache-Control"].startswith("no-store")
    pdf = response.content
    words = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    coupons = list(Coupon.objects.filter(batch=sale.batch).order_by("serial"))
    for coupon in coupons:
        assert coupon.serial in words
    found = {qr.text for qr in decode_qr_codes(render_pdf_page(pdf, dpi=150))}
    assert found == {qr_text_for(coupon) for coupon in coupons}


def test_spent_and_voided_coupons_leave_the_wallet_and_the_pdf(
    client: Client, fake_stripe: FakeStripe
) -> None:
    sale = bought(client, fake_stripe)
    token = token_of(sale)
    Coupon.objects.filter(batch=sale.batch).update(
        status=Coupon.Status.REDEEMED, redeemed_at=timezone.now()
    )
    assert "Aucun coupon n'est valide aujourd'hui." in read(client.get(wallet_url(token)))
    response = client.get(pdf_url(token))
    assert response.status_code == 302 and response["Location"] == wallet_url(token)


def test_a_refunded_purchase_has_a_dead_wallet_and_pdf(
    client: Client, fake_stripe: FakeStripe
) -> None:
    program = sale_program()
    sale = start(program)
    paid = pay(client, fake_stripe, sale)
    sale.refresh_from_db()
    token = token_of(sale)
    post_event(client, signed_event("charge.refunded", refunded_charge(paid, amount_refunded=2000)))
    assert client.get(wallet_url(token)).status_code == 404
    assert client.get(pdf_url(token)).status_code == 404


@pytest.mark.parametrize("token", ["nope", "a" * 200, "0" * 32 + ":forged"])
def test_a_forged_token_is_a_404_without_a_query(
    client: Client, django_assert_num_queries: Any, token: str
) -> None:
    with django_assert_num_queries(0):
        response = client.get(pdf_url(token))
    assert response.status_code == 404


def test_a_households_link_does_not_open_the_sale_pdf(client: Client) -> None:
    household = HouseholdFactory()
    link = WalletLink.objects.create(household=household, created_by=None)
    assert client.get(pdf_url(wallet_token(link))).status_code == 404


def test_the_buyers_pdf_is_only_their_batchs(client: Client, fake_stripe: FakeStripe) -> None:
    mine = bought(client, fake_stripe)
    theirs = bought(client, fake_stripe)
    words = pypdf.PdfReader(io.BytesIO(client.get(pdf_url(token_of(mine))).content))
    text = "".join(page.extract_text() for page in words.pages)
    assert all(c.serial in text for c in Coupon.objects.filter(batch=mine.batch))
    assert not any(c.serial in text for c in Coupon.objects.filter(batch=theirs.batch))
    assert Decimal("30.00") == sum(c.value for c in Coupon.objects.filter(batch=mine.batch))
