"""The whole coupon journey in a real browser.

An intervenant signs in, enrolls a household, issues its allotment and downloads the PDF; a
vendor opens the scanner with Chromium's fake camera showing a QR code cut out of that PDF,
and sees "accepted"; scanning it again shows "already redeemed".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from coupons.models import Coupon
from marches.models import Redemption
from tests.e2e.conftest import launch
from tests.e2e.fakecam import chromium_fake_camera_args, write_y4m
from tests.factories import (
    PASSWORD,
    MarketFactory,
    OrganizationFactory,
    ProgramFactory,
    UserFactory,
    VendorFactory,
)
from tests.helpers import households_named
from tests.qr_images import decode_qr_codes, render_pdf_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page: Any, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/comptes/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "button[type=submit]"
    ).click()
    page.wait_for_url(f"{base_url}/")


def cut_out_first_qr(pdf: bytes) -> tuple[Image.Image, str]:
    """The top-left coupon's QR code, as a camera would see it on the printed page."""
    page_image = render_pdf_page(pdf, 0, dpi=200)
    found = decode_qr_codes(page_image)
    assert found, "no QR code on the first page of the PDF"
    first = min(found, key=lambda qr: (qr.top, qr.left))
    margin = 40
    crop = page_image.crop(
        (first.left - margin, first.top - margin, first.right + margin, first.bottom + margin)
    )
    return crop, first.text


def test_an_intervenant_issues_coupons_and_a_vendor_redeems_one(
    live_server: Any, playwright_driver: Any, tmp_path: Path
) -> None:
    program = ProgramFactory(name="Coupons de Portneuf")
    organization = OrganizationFactory(name="Entraide Portneuf", program=program)
    market = MarketFactory(name="Marché de Saint-Casimir", program=program)
    vendor = VendorFactory(name="Ferme des Neiges", market=market)
    intervenant = UserFactory(email="intervenant@example.org")
    organization.members.add(intervenant)
    vendor_user = UserFactory(email="marchand@example.org")
    vendor.members.add(vendor_user)
    base_url = live_server.url

    # The intervenant: enroll, issue, download.
    browser = launch(playwright_driver)
    context = browser.new_context(accept_downloads=True, locale="fr-CA")
    page = context.new_page()
    sign_in(page, base_url, intervenant.email)
    page.goto(f"{base_url}/organismes/{organization.slug}/")
    page.get_by_role("link", name="Inscrire un ménage").click()
    page.get_by_label("Nom de la personne répondante").fill("Camille Gagnon")
    page.get_by_label("Adultes").fill("2")
    page.get_by_label("Enfants").fill("1")
    page.get_by_label("Code postal").fill("g0a 1a0")
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Inscrire le ménage").click()
    page.get_by_role("button", name="Émettre l'allocation de la saison").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger les coupons (PDF)").click()
    pdf = Path(download_info.value.path()).read_bytes()
    browser.close()

    household = households_named("Camille Gagnon").get()
    assert household.postal_code == "G0A 1A0"
    coupons = Coupon.objects.filter(household=household)
    assert coupons.count() > 0
    qr_image, qr_text = cut_out_first_qr(pdf)
    assert qr_text.startswith("PCN1:")
    camera = tmp_path / "coupon.y4m"
    write_y4m(qr_image, camera)

    # The vendor: scan with the camera, twice.
    browser = launch(playwright_driver, chromium_fake_camera_args(camera))
    context = browser.new_context(locale="fr-CA", viewport={"width": 390, "height": 844})
    context.grant_permissions(["camera"], origin=base_url)
    page = context.new_page()
    sign_in(page, base_url, vendor_user.email)
    page.goto(f"{base_url}/marchands/{vendor.slug}/marches/{market.slug}/scanner/")
    page.locator("#camera-start").click()
    accepted = page.locator("#verdict .verdict[data-status=accepted]")
    accepted.wait_for(timeout=30_000)
    assert "Accepté" in accepted.inner_text()
    # The day's total moved with the scan, without reloading the page.
    assert "1 coupon," in page.locator("[data-today-summary]").inner_text()

    page.locator("#scan-next").click()
    again = page.locator("#verdict .verdict[data-reason=already_redeemed]")
    again.wait_for(timeout=30_000)
    assert "Déjà échangé" in again.inner_text()
    # Scanned again by the same vendor: the answer says so, and when (marches/redemptions.py).
    assert "Déjà échangé par vous à" in again.inner_text()
    browser.close()

    redemption = Redemption.objects.get()
    assert redemption.vendor == vendor
    assert redemption.market == market
    assert redemption.coupon.household == household
