"""A household's page (facts, consent, coupons, what will be issued) and its PDF."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pypdf
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coupons import codes
from coupons.models import Coupon
from coupons.services import issue_household_allotment
from tests.helpers import text

pytestmark = pytest.mark.django_db


def detail_url(household: Any) -> str:
    return reverse("coupons:household_detail", kwargs={"pk": household.pk})


def pdf_url(household: Any) -> str:
    return reverse("coupons:household_pdf", kwargs={"pk": household.pk})


def issue(world: Any) -> None:
    issue_household_allotment(
        household=world.a.household, issued_by=world.a.intervenant, idempotency_key=uuid.uuid4()
    )


def test_before_issuance_the_page_shows_what_will_be_issued(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    response = client.get(detail_url(world.a.household))

    page = text(response)
    assert response.status_code == 200
    assert world.a.household.reference in page
    assert world.a.household.name in page
    assert "G0A 1A0" in page
    assert "Participation au programme" in page and "2026-1" in page  # the consent, its version
    assert "L'allocation de la saison compte 4 coupons, d'une valeur totale de 20,00\xa0$." in page
    assert "Émettre l'allocation de la saison" in page
    key = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', page)
    assert key is not None and uuid.UUID(key.group(1))
    assert "Télécharger les coupons (PDF)" not in page
    assert "Aucun coupon n'a encore été émis pour ce ménage." in page
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_each_visit_renders_a_new_key(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    keys = {str(client.get(detail_url(world.a.household)).context["issue_key"]) for _ in range(2)}
    assert len(keys) == 2


def test_after_issuance_the_page_lists_the_coupons_and_offers_the_pdf(
    client: Client, world: Any
) -> None:
    issue(world)
    client.force_login(world.a.intervenant)

    page = text(client.get(detail_url(world.a.household)))

    for coupon in Coupon.objects.filter(household=world.a.household):
        assert coupon.serial in page
        # The manual code is a bearer secret: printed on the coupon, never shown on the page.
        assert codes.format_code(coupon.code) not in page
    assert "4 coupons émis, d'une valeur totale de 20,00\xa0$." in page
    assert "5,00\xa0$" in page
    assert "Télécharger les coupons (PDF)" in page
    assert pdf_url(world.a.household) in page
    assert "Émettre l'allocation de la saison" not in page


def test_a_program_that_cannot_allot_this_household_says_why(client: Client, world: Any) -> None:
    world.a.program.allotment_rules.all().delete()
    client.force_login(world.a.intervenant)

    page = text(client.get(detail_url(world.a.household)))

    assert "Le programme n'a pas de règle d'allocation pour un ménage de 2 personnes." in page
    assert "Émettre l'allocation de la saison" not in page


def test_the_pdf_holds_every_coupon_with_its_manual_code(client: Client, world: Any) -> None:
    issue(world)
    client.force_login(world.a.intervenant)

    response = client.get(pdf_url(world.a.household))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reference = world.a.household.reference
    assert response["Content-Disposition"] == f'attachment; filename="coupons-{reference}.pdf"'
    assert response["Cache-Control"] == "no-store"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    pdf_text = "\n".join(page.extract_text() for page in reader.pages)
    coupons = list(Coupon.objects.filter(household=world.a.household))
    assert len(coupons) == 4
    for coupon in coupons:
        assert codes.format_code(coupon.code) in pdf_text


def test_void_coupons_are_not_printed(client: Client, world: Any) -> None:
    issue(world)
    void = Coupon.objects.filter(household=world.a.household).first()
    assert void is not None
    Coupon.objects.filter(pk=void.pk).update(status=Coupon.Status.VOID, voided_at=timezone.now())
    client.force_login(world.a.coordinator)

    response = client.get(pdf_url(world.a.household))

    pdf_text = "\n".join(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages
    )
    assert codes.format_code(void.code) not in pdf_text
    for coupon in Coupon.objects.filter(household=world.a.household).exclude(pk=void.pk):
        assert codes.format_code(coupon.code) in pdf_text


def test_without_coupons_the_pdf_link_explains_and_goes_back(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)

    response = client.get(pdf_url(world.a.household), follow=True)

    assert response.redirect_chain == [(detail_url(world.a.household), 302)]
    assert "Ce ménage n'a aucun coupon à imprimer : émettez son allocation" in text(response)


@pytest.mark.parametrize("who", ["intervenant", "coordinator", "manager", "vendor_user"])
def test_household_pages_outside_ones_scope_are_404(client: Client, world: Any, who: str) -> None:
    issue(world)
    client.force_login(getattr(world.b, who))
    assert client.get(detail_url(world.a.household)).status_code == 404
    assert client.get(pdf_url(world.a.household)).status_code == 404


def test_market_people_never_see_households_even_in_their_program(
    client: Client, world: Any
) -> None:
    for user in (world.a.manager, world.a.vendor_user, world.nobody):
        client.force_login(user)
        assert client.get(detail_url(world.a.household)).status_code == 404


def test_a_network_admin_sees_any_household(client: Client, world: Any) -> None:
    client.force_login(world.admin)
    assert client.get(detail_url(world.b.household)).status_code == 200


def test_an_unknown_household_is_404(client: Client, world: Any) -> None:
    client.force_login(world.admin)
    assert client.get("/menages/999999/").status_code == 404
