"""The digital wallet in a real browser: it still opens offline once loaded, and its QR codes
scan and redeem.

Chromium opens a household's wallet link; once the service worker controls the page, the
network is cut and the page reloaded: the QR codes are still there, with the offline notice. A
screenshot of the page is decoded with zxing-cpp, and one of its codes is redeemed through the
API as a vendor's scanner would.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from coupons.models import Coupon
from coupons.selectors import qr_text_for
from coupons.services import issue_household_allotment
from coupons.wallet import create_wallet_link
from tests.e2e.conftest import launch
from tests.factories import (
    HouseholdFactory,
    MarketFactory,
    OrganizationFactory,
    ProgramFactory,
    UserFactory,
    VendorFactory,
    make_device,
)
from tests.qr_images import decode_qr_codes

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# Resolves once the service worker's cache holds the page itself.
PAGE_SAVED = """async () => {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const key of await caches.keys()) {
      if (await (await caches.open(key)).match(location.href)) { return true; }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}"""


def wallet_of_a_household_with_coupons(live_server: Any) -> tuple[Any, str, list[Coupon]]:
    program = ProgramFactory(name="Coupons de Portneuf")
    organization = OrganizationFactory(name="Entraide Portneuf", program=program)
    intervenant = UserFactory(email="intervenant@example.org")
    organization.members.add(intervenant)
    household = HouseholdFactory(program=program, organization=organization)
    issue_household_allotment(
        household=household, issued_by=intervenant, idempotency_key=uuid.uuid4()
    )
    _link, token = create_wallet_link(household=household, created_by=intervenant)
    url = live_server.url + reverse("coupons:wallet", kwargs={"token": token})
    return household, url, list(Coupon.objects.filter(household=household))


def open_in_a_phone(playwright_driver: Any) -> tuple[Any, Any, Any]:
    browser = launch(playwright_driver)
    context = browser.new_context(
        locale="fr-CA", viewport={"width": 390, "height": 844}, service_workers="allow"
    )
    return browser, context, context.new_page()


def test_the_wallet_opens_offline_and_its_codes_redeem(
    live_server: Any, playwright_driver: Any
) -> None:
    household, url, coupons = wallet_of_a_household_with_coupons(live_server)
    program = household.program

    browser, context, page = open_in_a_phone(playwright_driver)
    errors: list[str] = []  # a CSP violation is reported on the console

    def keep_errors(message: Any) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", keep_errors)
    page.goto(url)
    assert page.locator(".coupon__qr svg").count() == len(coupons)
    assert page.locator("[data-offline-notice]").is_hidden()
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")

    context.set_offline(True)
    page.reload()

    assert page.locator(".coupon__qr svg").count() == len(coupons)
    notice = page.locator("[data-offline-notice]")
    notice.wait_for(state="visible")
    assert "Hors ligne : codes enregistrés le" in notice.inner_text()
    screenshot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    context.set_offline(False)
    browser.close()
    assert not errors, errors

    decoded = [qr.text for qr in decode_qr_codes(screenshot)]
    assert sorted(decoded) == sorted(qr_text_for(coupon) for coupon in coupons)

    market = MarketFactory(program=program)
    vendor = VendorFactory(market=market)
    _device, device_token = make_device(vendor, market)
    response = Client().post(
        "/api/v1/redemptions",
        {"code": decoded[0], "client_id": str(uuid.uuid4())},
        content_type="application/json",
        headers={"Authorization": f"Bearer {device_token}"},
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "accepted"
    redeemed = Coupon.objects.get(status=Coupon.Status.REDEEMED)
    assert qr_text_for(redeemed) == decoded[0] and redeemed.household == household


def test_a_single_visit_is_enough_to_open_it_offline(
    live_server: Any, playwright_driver: Any
) -> None:
    _household, url, coupons = wallet_of_a_household_with_coupons(live_server)

    browser, context, page = open_in_a_phone(playwright_driver)
    page.goto(url)
    # No reload: wallet.js asks the new worker to save the page it was loaded before.
    assert page.evaluate(PAGE_SAVED)
    context.set_offline(True)
    page.reload()

    assert page.locator(".coupon__qr svg").count() == len(coupons)
    assert page.locator("[data-offline-notice]").is_visible()
    browser.close()
