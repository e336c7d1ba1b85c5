"""The scanner without a network, in a real browser.

A vendor opens the scanner online (the browser pairs itself as a device and downloads the
scanner's configuration), then the network goes away (Playwright's offline mode) and coupons are
held up to Chromium's fake camera: they are verified on the phone, shown as pending, and sent to
the server when the network returns. Also: the page opens offline once loaded (service worker), a
voided coupon and a coupon past the program's offline limit are refused offline, a revoked device
asks to be paired again, and the QR verifier in the browser agrees with coupons/signing.py.
"""

from __future__ import annotations

import base64
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from coupons import codes, signing
from coupons.keys import keyring, public_keys
from coupons.models import Coupon
from coupons.selectors import qr_text_for
from marches.models import Device, Redemption
from marches.redemptions import redeem_coupon
from marches.services import revoke_device
from tests.e2e.conftest import launch
from tests.e2e.fakecam import chromium_fake_camera_args, write_y4m_cycle
from tests.factories import (
    CouponFactory,
    MarketFactory,
    ProgramFactory,
    UserFactory,
    VendorFactory,
    make_device,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Resolves once the service worker controls the page and its cache holds the page itself.
PAGE_SAVED = """async () => {
  await navigator.serviceWorker.ready;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (navigator.serviceWorker.controller) {
      for (const key of await caches.keys()) {
        if (await (await caches.open(key)).match(location.href)) { return true; }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}"""


@dataclass
class Stall:
    """A vendor at a market taking one program, with coupons of that program."""

    base_url: str
    url: str
    vendor: Any
    market: Any
    program: Any
    user: Any
    coupons: list[Coupon]


def a_stall(live_server: Any, coupons: int = 3, **program: Any) -> Stall:
    program_ = ProgramFactory(name="Coupons de Portneuf", **program)
    market = MarketFactory(name="Marché de Saint-Casimir", program=program_)
    vendor = VendorFactory(name="Ferme des Neiges", market=market)
    user = UserFactory(email="marchand@example.org")
    vendor.members.add(user)
    url = live_server.url + reverse(
        "marches:scanner", kwargs={"slug": vendor.slug, "market_slug": market.slug}
    )
    return Stall(
        base_url=live_server.url,
        url=url,
        vendor=vendor,
        market=market,
        program=program_,
        user=user,
        coupons=list(CouponFactory.create_batch(coupons, program=program_)),
    )


def qr_image(text: str) -> Image.Image:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image()


def camera_showing(tmp_path: Path, coupons: list[Coupon]) -> Path:
    """A fake camera that shows each coupon's QR code in turn, half a second each."""
    path = tmp_path / "coupons.y4m"
    write_y4m_cycle([qr_image(qr_text_for(coupon)) for coupon in coupons], path, frames_each=15)
    return path


@pytest.fixture
def phone(playwright_driver: Any, tmp_path: Path) -> Iterator[Any]:
    """Opens a phone-sized browser on a stall's scanner, signed in as its vendor, with a fake
    camera showing the given coupons; closes it afterwards."""
    browsers: list[Any] = []

    def open_phone(
        stall: Stall, shown: list[Coupon], init_script: str = ""
    ) -> tuple[Any, Any, list[str]]:
        camera = chromium_fake_camera_args(camera_showing(tmp_path, shown)) if shown else []
        browser = launch(playwright_driver, camera)
        browsers.append(browser)
        context = browser.new_context(
            locale="fr-CA", viewport={"width": 390, "height": 844}, service_workers="allow"
        )
        context.grant_permissions(["camera"], origin=stall.base_url)
        if init_script:
            context.add_init_script(init_script)
        client = Client()
        client.force_login(stall.user)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": stall.base_url,
                }
            ]
        )
        page = context.new_page()
        errors: list[str] = []

        def keep(message: Any) -> None:
            # The browser logs the server's refusals (409) and the requests cut while offline;
            # anything else (a CSP violation, an exception) is an error of the page.
            expected = (
                "status of 409",
                "status of 401",
                "ERR_INTERNET_DISCONNECTED",
                "ERR_CONNECTION_RESET",
            )
            if message.type == "error" and not any(e in message.text for e in expected):
                errors.append(message.text)

        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", keep)
        return context, page, errors

    yield open_phone
    for browser in browsers:
        browser.close()


def open_scanner(page: Any, stall: Stall) -> None:
    """Open the scanner online and wait until it is ready to work offline: paired, configured,
    and its page saved by the service worker."""
    page.goto(stall.url)
    page.locator("#scanner-device", has_text="Liste des coupons annulés reçue").wait_for(
        timeout=15_000
    )
    assert page.evaluate(PAGE_SAVED)


def verdict(page: Any) -> Any:
    """The verdict shown, once decided ("Vérification…" is not one)."""
    return page.locator("#verdict [data-status]:not([data-status=pending])")


def scan_until(page: Any, done: Any, limit: int = 15) -> list[tuple[str, str]]:
    """Start the camera and scan coupon after coupon ("Scanner un autre coupon") until
    `done(verdicts)`; returns every verdict shown as (status, reason)."""
    seen: list[tuple[str, str]] = []
    page.locator("#camera-start").click()
    for _ in range(limit):
        shown = verdict(page)
        shown.wait_for(timeout=30_000)
        seen.append((shown.get_attribute("data-status"), shown.get_attribute("data-reason")))
        if done(seen):
            return seen
        page.locator("#scan-next").click()
    raise AssertionError(f"gave up after {limit} scans: {seen}")


def queued(seen: list[tuple[str, str]]) -> int:
    return sum(1 for status, _reason in seen if status == "queued")


def test_three_coupons_scanned_offline_are_synced_when_the_network_returns(
    live_server: Any, phone: Any
) -> None:
    stall = a_stall(live_server, coupons=3)
    context, page, errors = phone(stall, stall.coupons)
    open_scanner(page, stall)

    context.set_offline(True)
    page.locator("#scanner-network", has_text="Hors ligne").wait_for()
    seen = scan_until(page, lambda seen: queued(seen) == 3)

    # Each coupon once: the camera showed them again and again, the phone kept each once.
    assert all(reason in {"", "already_scanned"} for _status, reason in seen), seen
    assert "Accepté (hors ligne, en attente d’envoi)" in verdict(page).inner_text()
    assert page.locator("#scanner-queue-count").inner_text() == "3"
    rows = page.locator("#scanner-queue-rows tr")
    assert rows.count() == 3
    assert all("En attente" in text for text in rows.all_inner_texts())
    assert Redemption.objects.count() == 0

    context.set_offline(False)
    page.locator("#scanner-results-rows tr[data-status=accepted]").nth(2).wait_for(timeout=15_000)
    assert page.locator("#scanner-queue").is_hidden()
    summary = page.locator("#scanner-results-summary").inner_text()
    assert "acceptés : 3" in summary and "refusés : 0" in summary
    # The day's totals count them now.
    page.locator("[data-today-summary]", has_text="Aujourd'hui : 3 coupons").wait_for()

    redemptions = Redemption.objects.all()
    assert redemptions.count() == 3
    assert {r.status for r in redemptions} == {Redemption.Status.ACCEPTED}
    assert {r.coupon_id for r in redemptions} == {c.pk for c in stall.coupons}
    device = Device.objects.get(vendor=stall.vendor, market=stall.market)
    assert all(r.offline and r.device == device for r in redemptions)

    # A fourth scan, online, of a coupon that was synced: the server's verdict.
    page.locator("#scan-next").click()
    again = page.locator("#verdict [data-reason=already_redeemed]")
    again.wait_for(timeout=30_000)
    assert again.get_attribute("data-local") is None
    assert "Déjà échangé" in again.inner_text()
    assert Redemption.objects.count() == 3
    assert errors == []


def test_the_scanner_opens_offline_once_loaded_and_a_lost_answer_is_sent_again(
    live_server: Any, phone: Any
) -> None:
    stall = a_stall(live_server, coupons=1)
    context, page, errors = phone(stall, stall.coupons)
    open_scanner(page, stall)

    # Installable: Chromium reads the manifest (fetched with the session) and finds nothing
    # missing, except that a Playwright context is a private window.
    cdp = context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [] and manifest["manifest"]["display"] == "kStandalone"
    assert manifest["manifest"]["startUrl"] == stall.url
    installability = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert {error["errorId"] for error in installability} <= {"in-incognito"}
    cdp.detach()
    context.set_offline(True)
    page.reload()
    # The copy the service worker saved, with its scripts, reader and catalog.
    assert page.locator("[data-scanner]").get_attribute("data-scanner-source") == "cache"
    page.locator("#scanner-network", has_text="Hors ligne").wait_for()
    scan_until(page, lambda seen: queued(seen) == 1)
    assert page.locator("#scanner-queue-count").inner_text() == "1"

    # The server records the queue, but its answer is lost on the way back to the phone.
    lost: list[int] = []

    def lose_the_first_answer(route: Any) -> None:
        if lost:
            route.continue_()
            return
        lost.append(route.fetch().status)
        route.abort("connectionreset")

    context.route("**/api/v1/redemptions/batch", lose_the_first_answer)
    context.set_offline(False)
    page.locator("#scanner-sync-status", has_text="Envoi impossible").wait_for(timeout=15_000)
    assert lost == [200]
    assert Redemption.objects.count() == 1
    assert page.locator("#scanner-queue-count").inner_text() == "1"

    # Sent again with the same client_id: the server's first answer, and still one redemption.
    page.locator("#scanner-sync").click()
    page.locator("#scanner-results-rows tr[data-status=accepted]").wait_for(timeout=15_000)
    assert page.locator("#scanner-queue").is_hidden()
    redemption = Redemption.objects.get()
    assert redemption.status == Redemption.Status.ACCEPTED and redemption.offline
    assert errors == []


def test_a_voided_coupon_is_refused_offline(live_server: Any, phone: Any) -> None:
    stall = a_stall(live_server, coupons=0)
    voided = CouponFactory(
        program=stall.program, status=Coupon.Status.VOID, voided_at=timezone.now()
    )
    context, page, errors = phone(stall, [voided])
    open_scanner(page, stall)

    context.set_offline(True)
    seen = scan_until(page, lambda seen: len(seen) == 1)

    assert seen == [("rejected", "void")]
    assert "Annulé" in verdict(page).inner_text()
    assert page.locator("#scanner-queue").is_hidden()
    context.set_offline(False)
    assert Redemption.objects.count() == 0
    assert errors == []


@pytest.mark.parametrize(
    ("limits", "maximum"),
    [
        ({"offline_max_count": 2}, "au plus 2 coupons"),
        ({"offline_max_value": Decimal("12.00")}, "12,00"),
    ],
    ids=["count", "value"],
)
def test_the_offline_limit_refuses_past_it(
    live_server: Any, phone: Any, limits: dict[str, Any], maximum: str
) -> None:
    stall = a_stall(live_server, coupons=3, **limits)  # 5,00 $ each
    context, page, errors = phone(stall, stall.coupons)
    open_scanner(page, stall)

    context.set_offline(True)
    seen = scan_until(page, lambda seen: ("rejected", "offline_limit") in seen)

    assert queued(seen) == 2, seen
    shown = verdict(page).inner_text()
    assert "Limite hors ligne atteinte" in shown
    assert "Reconnectez-vous au réseau" in shown and maximum in shown.replace("\xa0", " ")
    assert page.locator("#scanner-queue-count").inner_text() == "2"
    context.set_offline(False)
    page.locator("#scanner-results-rows tr[data-status=accepted]").nth(1).wait_for(timeout=15_000)
    assert Redemption.objects.count() == 2
    assert errors == []


def test_a_revoked_device_asks_to_be_paired_again(live_server: Any, phone: Any) -> None:
    stall = a_stall(live_server, coupons=0)
    _context, page, errors = phone(stall, [CouponFactory(program=stall.program)])
    open_scanner(page, stall)
    device = Device.objects.get()
    assert device.vendor == stall.vendor and device.market == stall.market
    assert device.name.startswith("Navigateur — ")

    revoke_device(device=device)
    page.reload()

    pairing = page.locator("#scanner-pairing")
    pairing.wait_for()
    assert "révoqué" in pairing.inner_text()
    assert Device.objects.count() == 1  # not paired again behind the vendor's back
    page.locator("#scanner-pair").click()
    page.locator("#scanner-device", has_text="Liste des coupons annulés reçue").wait_for()
    assert pairing.is_hidden()
    assert Device.objects.count() == 2
    assert Device.objects.filter(revoked_at__isnull=True).get().created_by == stall.user
    assert errors == []


# Chromium before Ed25519 in WebCrypto (or a browser without it): importKey refuses the algorithm.
WITHOUT_ED25519 = """(() => {
  const importKey = SubtleCrypto.prototype.importKey;
  SubtleCrypto.prototype.importKey = function (format, key, algorithm, ...rest) {
    const name = typeof algorithm === "string" ? algorithm : algorithm && algorithm.name;
    if (name === "Ed25519") {
      return Promise.reject(new DOMException("Unrecognized name", "NotSupportedError"));
    }
    return importKey.call(this, format, key, algorithm, ...rest);
  };
})();"""


def test_a_browser_without_ed25519_refuses_offline_scans_and_still_scans_online(
    live_server: Any, phone: Any
) -> None:
    stall = a_stall(live_server, coupons=1)
    context, page, errors = phone(stall, stall.coupons, init_script=WITHOUT_ED25519)
    open_scanner(page, stall)

    context.set_offline(True)
    seen = scan_until(page, lambda seen: len(seen) == 1)
    assert seen == [("rejected", "no_crypto")]
    assert "ne sait pas vérifier la signature" in verdict(page).inner_text()
    assert page.locator("#scanner-queue").is_hidden()

    context.set_offline(False)
    page.locator("#scan-next").click()
    page.locator("#verdict [data-status=accepted]").wait_for(timeout=30_000)
    assert Redemption.objects.get().offline is False
    assert errors == []


def python_verdict(text: str, public_keys: Any = None) -> str:
    """What coupons/signing.py says of a QR text: "ok:<code>" or the error's code."""
    try:
        claims = signing.decode_qr(text, public_keys if public_keys is not None else keyring())
    except signing.QRDecodeError as error:
        return error.code
    return "ok:" + claims.code


def signed(
    *, version: int = 1, code_number: int = 1, valid_from: int = 2000, valid_until: int = 2100
) -> str:
    """A QR text signed with the real key, holding whatever header the test wants."""
    ring = keyring()
    header = struct.pack(
        ">BBBQIIHH",
        version,
        ring.active_kid,
        code_number >> 64,
        code_number & (2**64 - 1),
        7,
        500,
        valid_from,
        valid_until,
    )
    payload = header + ring.private_keys[ring.active_kid].sign(signing.SIGNING_CONTEXT + header)
    return signing.QR_PREFIX + base64.b32encode(payload).decode().rstrip("=")


VERIFY_ALL = """async ([texts, keys]) => Promise.all(texts.map((text) =>
  PCNCoupon.verify(text, keys).then((claims) => "ok:" + claims.code, (error) => error.code)))"""


def test_the_browser_verifies_qr_texts_exactly_as_the_server_does(
    live_server: Any, phone: Any
) -> None:
    stall = a_stall(live_server, coupons=1)
    coupon = stall.coupons[0]
    _context, page, errors = phone(stall, [])
    page.goto(stall.url)
    keys = {str(kid): key for kid, key in public_keys().items()}
    text = qr_text_for(coupon)

    claims = page.evaluate("([text, keys]) => PCNCoupon.verify(text, keys)", [text, keys])
    assert claims == {
        "text": text,
        "kid": keyring().active_kid,
        "code": coupon.code,
        "programId": stall.program.pk,
        "valueCents": 500,
        "validFrom": coupon.valid_from.isoformat(),
        "validUntil": coupon.valid_until.isoformat(),
    }

    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    prefix = len(signing.QR_PREFIX)
    # Every one-character change of the text (the last one also sets a padding bit), and texts
    # a scanner might read or a forger might try.
    texts = [
        text[:i] + alphabet[(alphabet.index(text[i]) + 1) % 32] + text[i + 1 :]
        for i in range(prefix, len(text))
    ] + [
        text.lower(),
        " " + text[:40] + "-" + text[40:] + "\n",
        text[:-1],
        text + "A",
        "PCN2:" + text[prefix:],
        text[:prefix] + "0" + text[prefix + 1 :],
        signed(),
        signed(version=2),
        signed(code_number=codes.MAX_DATA_INT),
        signed(valid_from=2101, valid_until=2100),
    ]
    in_the_browser = page.evaluate(VERIFY_ALL, [texts, keys])
    assert in_the_browser == [python_verdict(t) for t in texts]
    changed = in_the_browser[: len(text) - prefix]
    assert not [v for v in changed if v.startswith("ok")]
    assert changed[0] == "invalid_code"  # the version
    assert changed[100] == "bad_signature"  # inside the signature
    assert changed[-1] == "invalid_code"  # a padding bit: not the canonical text
    assert in_the_browser[-4] == "ok:" + codes.int_to_code(1)
    # A key id the phone does not know yet.
    assert page.evaluate(VERIFY_ALL, [[text], {}]) == [python_verdict(text, {})]

    # Manual codes: the same check symbol as coupons/codes.py.
    data = [codes.generate_code()[:13] for _ in range(20)]
    assert page.evaluate("(data) => data.map(PCNCoupon.checkSymbol)", data) == [
        codes.compute_check_symbol(d) for d in data
    ]
    code = coupon.code
    typed = [
        codes.format_code(code).lower(),
        code[:3] + ("2" if code[3] != "2" else "3") + code[4:],
        code[:5] + code[6] + code[5] + code[7:],
    ]
    assert page.evaluate("(typed) => typed.map(PCNCoupon.isWellFormedCode)", typed) == [
        codes.is_well_formed(t) for t in typed
    ]
    assert errors == []


def test_when_the_server_does_not_answer_the_phone_decides_under_the_same_client_id(
    live_server: Any, phone: Any
) -> None:
    stall = a_stall(live_server, coupons=1)
    _context, page, errors = phone(stall, stall.coupons)
    open_scanner(page, stall)
    client_id = page.input_value('input[name="client_id"]')

    # Online, but the server's answer to the scan never reaches the phone (it did record it).
    lost: list[int] = []

    def lose_the_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        lost.append(route.fetch().status)
        route.abort("connectionreset")

    page.route(stall.url, lose_the_answer)
    seen = scan_until(page, lambda seen: len(seen) == 1)

    assert seen == [("queued", "")]
    assert lost == [201]
    redemption = Redemption.objects.get()
    assert str(redemption.client_id) == client_id and not redemption.offline
    # The queued scan carries that client_id: sent again, the server answers for that scan.
    page.locator("#scanner-sync").click()
    page.locator("#scanner-results-rows tr[data-status=accepted]").wait_for(timeout=15_000)
    assert page.locator("#scanner-results-rows tr").get_attribute("data-client-id") == client_id
    assert Redemption.objects.get() == redemption
    assert errors == []


def test_the_last_sync_shows_each_answer_in_the_servers_words(live_server: Any, phone: Any) -> None:
    stall = a_stall(live_server, coupons=1)
    taken = stall.coupons[0]
    mitis = ProgramFactory(name="Coupons de La Mitis")
    stall.market.programs.add(mitis)
    dropped = CouponFactory(program=mitis)
    context, page, errors = phone(stall, [taken, dropped])
    open_scanner(page, stall)
    # Before the phone sees it, another stall redeems one coupon online...
    neighbour = VendorFactory(name="Fromagerie du Coin", market=stall.market)
    device, _token = make_device(neighbour, stall.market)
    redeem_coupon(
        code=taken.code,
        vendor=neighbour,
        market=stall.market,
        client_id=uuid.uuid4(),
        device=device,
    )

    context.set_offline(True)
    scan_until(page, lambda seen: queued(seen) == 2)
    # ...and, while the phone is offline, the market stops taking the other program.
    stall.market.programs.remove(mitis)
    context.set_offline(False)

    conflict = page.locator("#scanner-results-rows tr[data-status=conflict]")
    conflict.wait_for(timeout=15_000)
    assert "À examiner" in conflict.inner_text()
    assert "la coordination décidera" in conflict.inner_text()
    refused = page.locator("#scanner-results-rows tr[data-status=rejected]")
    assert refused.get_attribute("data-reason") == "not_accepted_here"
    assert "ne sont pas acceptés ici" in refused.inner_text()
    summary = page.locator("#scanner-results-summary").inner_text()
    assert "acceptés : 0 · à examiner : 1 · refusés : 1" in summary
    assert page.locator("#scanner-queue").is_hidden()
    statuses = sorted(Redemption.objects.values_list("status", flat=True))
    assert statuses == [Redemption.Status.ACCEPTED, Redemption.Status.CONFLICT]
    assert errors == []
