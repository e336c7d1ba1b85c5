"""The digital wallet: a signed, revocable link to a page of the household's valid coupons."""

from __future__ import annotations

import datetime
import io
import json
import re
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import pypdf
import pytest
import zxingcpp
from django.core import mail, signing
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from PIL import Image, ImageDraw

from beneficiaires.models import AuditEntry, Household
from beneficiaires.services import anonymize_household, give_consent, withdraw_household
from coupons import codes, wallet_views
from coupons.models import Coupon, WalletLink
from coupons.qr_svg import qr_svg
from coupons.selectors import qr_text_for
from coupons.services import issue_household_allotment
from coupons.wallet import (
    WalletError,
    create_wallet_link,
    record_wallet_opened,
    resolve_wallet_token,
    revoke_wallet_link,
    send_wallet_link_by_email,
    wallet_coupons,
    wallet_sms_href,
    wallet_token,
)
from tests.factories import BatchFactory, CouponFactory, HouseholdFactory
from tests.helpers import messages_of, text
from tests.qr_images import decode_qr_codes, render_pdf_page

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


# Helpers ------------------------------------------------------------------------------------


def page_url(token: str, **query: str) -> str:
    url = reverse("coupons:wallet", kwargs={"token": token})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def manage_url(household: Household) -> str:
    return reverse("coupons:household_wallet", kwargs={"pk": household.pk})


def card_url(household: Household) -> str:
    return reverse("coupons:household_wallet_card", kwargs={"pk": household.pk})


def new_link(world: Any) -> tuple[WalletLink, str]:
    return create_wallet_link(household=world.a.household, created_by=world.a.intervenant)


def coupon_for(household: Household, **fields: Any) -> Coupon:
    program = household.program
    batch = BatchFactory(program=program, household=household, organization=household.organization)
    return CouponFactory(program=program, household=household, batch=batch, **fields)


def svgs_of(page: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", page, flags=re.S)


RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\3z")


def decode_svg(svg: str, scale: int = 6) -> str:
    """Rasterise one of our QR SVGs (its path only) and read it back with zxing-cpp."""
    side = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    path = re.search(r'<path d="([^"]*)" fill="#000"/>', svg).group(1)
    assert RUN.sub("", path) == "", "the path holds only 'M x y h w v1 h-w z' runs"
    image = Image.new("L", (side * scale, side * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, width in ((int(a), int(b), int(c)) for a, b, c in RUN.findall(path)):
        draw.rectangle((x * scale, y * scale, (x + width) * scale - 1, (y + 1) * scale - 1), fill=0)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    return found[0].text


# The QR code as SVG -------------------------------------------------------------------------


def test_the_svg_is_an_accessible_qr_code_with_a_quiet_zone() -> None:
    svg = qr_svg("PCN1:BONJOUR", title="Code <du> coupon")

    assert decode_svg(svg) == "PCN1:BONJOUR"
    assert 'role="img"' in svg and "<title>Code &lt;du&gt; coupon</title>" in svg
    assert 'shape-rendering="crispEdges"' in svg and 'fill="#fff"' in svg
    assert "style=" not in svg
    side = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    xs = [int(x) for x, _y, _w in RUN.findall(svg)]
    assert min(xs) == 4 and side == 21 + 8  # version 1: 21 modules, 4 of quiet zone each side


# The public page ----------------------------------------------------------------------------


def test_the_page_shows_every_valid_coupon_as_a_qr_code_of_its_signed_text(
    client: Client, world: Any
) -> None:
    issue_household_allotment(
        household=world.a.household, issued_by=world.a.intervenant, idempotency_key=uuid.uuid4()
    )
    _link, token = new_link(world)

    response = client.get(page_url(token))

    assert response.status_code == 200
    page = text(response)
    coupons = list(Coupon.objects.filter(household=world.a.household))
    assert len(coupons) == 4
    decoded = sorted(decode_svg(svg) for svg in svgs_of(response.content.decode()))
    assert decoded == sorted(qr_text_for(coupon) for coupon in coupons)
    for coupon in coupons:
        assert coupon.serial in page
        assert codes.format_code(coupon.code) in page
    assert "5,00\xa0$" in page
    assert world.a.program.name in page
    assert world.a.household.reference in page
    assert "Valides aujourd'hui" in page


def test_expired_void_and_redeemed_coupons_are_not_shown_and_later_ones_say_from_when(
    client: Client, world: Any
) -> None:
    household, today = world.a.household, TODAY()
    valid = coupon_for(household, valid_from=today - datetime.timedelta(days=3))
    later = coupon_for(
        household,
        valid_from=today + datetime.timedelta(days=7),
        valid_until=today + datetime.timedelta(days=14),
    )
    last_day = coupon_for(household, valid_from=today, valid_until=today)
    expired = coupon_for(
        household,
        valid_from=today - datetime.timedelta(days=10),
        valid_until=today - datetime.timedelta(days=1),
    )
    void = coupon_for(household, status=Coupon.Status.VOID, voided_at=timezone.now())
    redeemed = coupon_for(household, status=Coupon.Status.REDEEMED, redeemed_at=timezone.now())
    someone_else = coupon_for(HouseholdFactory(program=world.a.program))
    _link, token = new_link(world)

    response = client.get(page_url(token))

    page = text(response)
    shown = re.findall(r'data-serial="([^"]+)"', page)
    # Valid today first (the oldest start first), then the later distribution.
    assert shown == [valid.serial, last_day.serial, later.serial]
    for hidden in (expired, void, redeemed, someone_else):
        assert hidden.serial not in page
    expected_date = date_format(later.valid_from, "DATE_FORMAT")
    assert f"Valide dès le {expected_date}" in page
    assert page.count("Valide dès le") == 1
    assert "Prochaines distributions" in page
    assert list(wallet_coupons(household, today)) == [valid, last_day, later]


def test_with_nothing_valid_the_page_says_so(client: Client, world: Any) -> None:
    coupon_for(
        world.a.household,
        valid_from=TODAY() - datetime.timedelta(days=10),
        valid_until=TODAY() - datetime.timedelta(days=1),
    )
    _link, token = new_link(world)

    response = client.get(page_url(token))

    assert response.status_code == 200
    assert "Aucun coupon n'est valide aujourd'hui." in text(response)
    assert not svgs_of(response.content.decode())


def test_the_page_never_shows_the_households_name_phone_or_email(
    client: Client, world: Any
) -> None:
    household = world.a.household
    give_consent(household=household, purpose="contact", recorded_by=world.a.intervenant)
    household.phone, household.email = "+14185550199", "camille.gagnon@example.org"
    household.save()
    coupon_for(household)
    _link, token = new_link(world)

    page = text(client.get(page_url(token)))

    for secret in (household.name, "Camille", "418", "555", "camille.gagnon", "example.org"):
        assert secret not in page, secret
    assert household.reference in page
    assert world.a.organization.name not in page


def test_the_page_needs_no_account_and_is_never_shared_or_indexed(
    client: Client, world: Any
) -> None:
    _link, token = new_link(world)

    response = client.get(page_url(token))

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
    assert response["X-Robots-Tag"].startswith("noindex")
    assert response["Referrer-Policy"] == "no-referrer"
    assert not response.cookies  # no session, no CSRF cookie for a public page
    page = response.content.decode()
    assert "style=" not in page and "<script>" not in page  # the CSP forbids both inline
    assert 'class="site-header' not in page  # not the staff layout
    assert reverse("coupons:wallet_sw") in page


def test_the_page_speaks_the_households_language_with_a_switch(client: Client, world: Any) -> None:
    household = world.a.household
    coupon_for(household)
    _link, token = new_link(world)

    french = client.get(page_url(token)).content.decode()
    household.preferred_language = Household.Language.ENGLISH
    household.save()
    english = client.get(page_url(token)).content.decode()
    switched = client.get(page_url(token, lang="fr")).content.decode()

    assert '<html lang="fr">' in french and "5,00\xa0$" in french and 'href="?lang=en"' in french
    assert '<html lang="en">' in english and "$5.00" in english and 'href="?lang=fr"' in english
    assert '<html lang="fr">' in switched and "5,00\xa0$" in switched


def test_opening_the_page_is_noted_at_most_once_an_hour(client: Client, world: Any) -> None:
    link, token = new_link(world)

    client.get(page_url(token))
    link.refresh_from_db()
    first = link.last_opened_at
    client.get(page_url(token))
    link.refresh_from_db()

    assert first is not None and link.last_opened_at == first
    assert not record_wallet_opened(link=link, now=first + datetime.timedelta(minutes=59))
    assert record_wallet_opened(link=link, now=first + datetime.timedelta(minutes=61))
    link.refresh_from_db()
    assert link.last_opened_at == first + datetime.timedelta(minutes=61)


# Tokens -------------------------------------------------------------------------------------


def forged_tokens(token: str) -> list[str]:
    value, signature = token.split(":")
    flipped = value[:-1] + ("0" if value[-1] != "0" else "1")
    return [
        "garbage",
        token + "x",
        token[:-1],
        f"{flipped}:{signature}",
        f"{value}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        signing.Signer(salt="coupons.other").sign(value),  # another salt
        signing.Signer(salt="coupons.wallet").sign("not-a-uuid"),  # signed, but not ours
        "x" * 5000,
    ]


def test_a_forged_or_garbled_token_costs_no_query(
    client: Client, world: Any, django_assert_num_queries: Any
) -> None:
    _link, token = new_link(world)

    for forged in forged_tokens(token):
        with django_assert_num_queries(0):
            assert resolve_wallet_token(forged) is None, forged
        with django_assert_num_queries(0):
            response = client.get(page_url(forged))
        assert response.status_code == 404, forged
        assert "Ce lien n'est plus valide" in text(response)
        assert response["Referrer-Policy"] == "no-referrer"


def test_a_revoked_link_is_a_friendly_404(client: Client, world: Any) -> None:
    link, token = new_link(world)

    assert revoke_wallet_link(link=link, revoked_by=world.a.intervenant)
    assert not revoke_wallet_link(link=link, revoked_by=world.a.intervenant)  # idempotent
    response = client.get(page_url(token))

    assert response.status_code == 404
    page = text(response)
    assert "Ce lien n'est plus valide" in page
    assert "Demandez un nouveau lien à l'organisme" in page
    link.refresh_from_db()
    assert link.revoked_by == world.a.intervenant


def test_a_new_link_revokes_the_old_one(client: Client, world: Any) -> None:
    old, old_token = new_link(world)
    new, new_token = create_wallet_link(household=world.a.household, created_by=world.a.coordinator)

    old.refresh_from_db()
    assert old.revoked_at is not None and old.revoked_by == world.a.coordinator
    assert new_token != old_token
    assert client.get(page_url(old_token)).status_code == 404
    assert client.get(page_url(new_token)).status_code == 200
    assert WalletLink.objects.filter(household=world.a.household, revoked_at=None).get() == new
    assert wallet_token(new) == new_token


@pytest.mark.parametrize("how", ["anonymized", "withdrawn"])
def test_a_household_that_left_has_a_dead_link(client: Client, world: Any, how: str) -> None:
    link, token = new_link(world)
    household = world.a.household

    if how == "anonymized":
        anonymize_household(household=household, by=world.a.coordinator)
    else:
        withdraw_household(household=household, withdrawn_by=world.a.intervenant)

    assert client.get(page_url(token)).status_code == 404
    # The link itself is revoked, not only refused (coupons' hook on beneficiaires).
    link.refresh_from_db()
    assert link.revoked_at is not None
    with pytest.raises(WalletError) as excinfo:
        create_wallet_link(household=household, created_by=world.a.coordinator)
    assert excinfo.value.code == how


def test_a_waitlisted_household_gets_no_link(world: Any) -> None:
    household = HouseholdFactory(
        program=world.a.program,
        organization=world.a.organization,
        status=Household.Status.WAITLISTED,
    )

    with pytest.raises(WalletError) as excinfo:
        create_wallet_link(household=household, created_by=world.a.intervenant)

    assert excinfo.value.code == "waitlisted"
    assert excinfo.value.message
    assert not WalletLink.objects.filter(household=household).exists()


# Staff page ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "outsider", ["b-intervenant", "b-coordinator", "a-vendor", "a-manager", "nobody"]
)
def test_the_staff_pages_are_404_outside_the_households_scope(
    client: Client, world: Any, outsider: str
) -> None:
    user = {
        "b-intervenant": world.b.intervenant,
        "b-coordinator": world.b.coordinator,
        "a-vendor": world.a.vendor_user,
        "a-manager": world.a.manager,
        "nobody": world.nobody,
    }[outsider]
    client.force_login(user)
    household = world.a.household

    assert client.get(manage_url(household)).status_code == 404
    assert client.get(card_url(household)).status_code == 404
    for action in ("create", "revoke", "email"):
        response = client.post(manage_url(household), {"action": action, "confirm": "on"})
        assert response.status_code == 404
    assert not WalletLink.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: Any) -> None:
    for url in (manage_url(world.a.household), card_url(world.a.household)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    response = client.post(manage_url(world.a.household), {"action": "create"})
    assert response.status_code == 302 and not WalletLink.objects.exists()


@pytest.mark.parametrize("role", ["intervenant", "coordinator", "admin"])
def test_the_households_staff_make_a_link_and_see_it_with_sms_and_card(
    client: Client, world: Any, role: str
) -> None:
    user = world.admin if role == "admin" else getattr(world.a, role)
    household = world.a.household
    client.force_login(user)
    assert client.get(manage_url(household)).status_code == 200

    response = client.post(manage_url(household), {"action": "create"}, follow=True)

    link = WalletLink.objects.get(household=household, revoked_at=None)
    assert link.created_by == user
    url = "http://testserver" + page_url(wallet_token(link))
    page = text(response)
    assert f'value="{url}"' in page  # the copy field
    sms = re.search(r'href="(sms:[^"]+)"', page).group(1)
    assert sms.startswith("sms:?&body=") and url in unquote(sms)
    assert "Nouveau lien créé" in " ".join(messages_of(response))
    assert card_url(household) in page


def test_the_url_is_shown_only_to_who_made_it_and_only_for_a_while(
    client: Client, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    household = world.a.household
    client.force_login(world.a.intervenant)
    client.post(manage_url(household), {"action": "create"})
    token = wallet_token(WalletLink.objects.get(household=household, revoked_at=None))
    colleague = Client()
    colleague.force_login(world.a.coordinator)

    assert token in client.get(manage_url(household)).content.decode()
    assert token not in colleague.get(manage_url(household)).content.decode()
    assert colleague.get(card_url(household)).status_code == 302  # back to the page
    monkeypatch.setattr(wallet_views, "GRANT_SECONDS", -1)
    client.post(manage_url(household), {"action": "create"})  # a grant already expired
    token = wallet_token(WalletLink.objects.get(household=household, revoked_at=None))
    assert token not in client.get(manage_url(household)).content.decode()
    response = client.get(card_url(household))
    assert response.status_code == 302
    assert response["Location"] == manage_url(household)


def test_the_card_carries_the_links_url_as_a_large_qr_code(client: Client, world: Any) -> None:
    household = world.a.household
    client.force_login(world.a.intervenant)
    client.post(manage_url(household), {"action": "create"})
    link = WalletLink.objects.get(household=household, revoked_at=None)

    response = client.get(card_url(household))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    assert f"portefeuille-{household.reference}.pdf" in response["Content-Disposition"]
    pdf = response.content
    found = decode_qr_codes(render_pdf_page(pdf, dpi=100))
    assert [qr.text for qr in found] == ["http://testserver" + page_url(wallet_token(link))]
    assert found[0].right - found[0].left > 200  # at 100 dpi: more than 2 inches wide
    words = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert world.a.program.name in words and household.reference in words
    assert "Scannez ce code avec votre téléphone" in words
    assert resolve_wallet_token(found[0].text.rstrip("/").rsplit("/", 1)[1]) == link


def test_revoking_needs_the_confirmation(client: Client, world: Any) -> None:
    link, token = new_link(world)
    client.force_login(world.a.coordinator)

    refused = client.post(manage_url(world.a.household), {"action": "revoke"}, follow=True)
    link.refresh_from_db()
    assert link.revoked_at is None
    assert "Cochez la case" in " ".join(messages_of(refused))

    client.post(manage_url(world.a.household), {"action": "revoke", "confirm": "on"})
    link.refresh_from_db()
    assert link.revoked_at is not None and link.revoked_by == world.a.coordinator
    assert client.get(page_url(token)).status_code == 404


def test_an_unknown_action_changes_nothing(client: Client, world: Any) -> None:
    link, _token = new_link(world)
    client.force_login(world.a.intervenant)

    response = client.post(manage_url(world.a.household), {"action": "withdraw"}, follow=True)

    assert response.status_code == 200
    assert "Action inconnue" in " ".join(messages_of(response))
    assert WalletLink.objects.get() == link and link.revoked_at is None


def test_the_staff_page_says_when_a_household_cannot_have_a_link(
    client: Client, world: Any
) -> None:
    new_link(world)
    withdraw_household(household=world.a.household, withdrawn_by=world.a.intervenant)
    client.force_login(world.a.intervenant)

    page = text(client.get(manage_url(world.a.household)))
    response = client.post(manage_url(world.a.household), {"action": "create"}, follow=True)

    assert "retiré du programme" in page
    assert 'value="create"' not in page
    assert WalletLink.objects.get().revoked_at is not None  # withdrawing revoked it
    assert "retiré du programme" in " ".join(messages_of(response))
    assert WalletLink.objects.count() == 1


# Email and SMS ------------------------------------------------------------------------------


def reachable(world: Any, email: str = "camille@example.org", language: str = "fr") -> Household:
    household = world.a.household
    give_consent(household=household, purpose="contact", recorded_by=world.a.intervenant)
    household.email, household.preferred_language = email, language
    household.save()
    return household


def send(world: Any, link: WalletLink, token: str) -> None:
    send_wallet_link_by_email(
        link=link,
        token=token,
        url=f"https://example.org/portefeuille/{token}/",
        sent_by=world.a.intervenant,
    )


@pytest.mark.parametrize(("language", "locale"), [("fr", "fr-ca"), ("en", "en")])
def test_the_link_is_emailed_in_the_households_language_with_an_audit_row(
    world: Any, language: str, locale: str
) -> None:
    household = reachable(world, language=language)
    link, token = new_link(world)

    send(world, link, token)

    [message] = mail.outbox
    assert message.to == ["camille@example.org"]
    assert f"https://example.org/portefeuille/{token}/" in message.body
    with translation.override(locale):
        created = date_format(timezone.localtime(link.created_at).date(), "DATE_FORMAT")
    with translation.override("en" if language == "fr" else "fr-ca"):
        other = date_format(timezone.localtime(link.created_at).date(), "DATE_FORMAT")
    assert created in message.body and other not in message.body
    assert world.a.program.name in message.subject
    assert household.name not in message.body
    audit = AuditEntry.objects.filter(household=household, action=AuditEntry.Action.VIEW).get()
    assert audit.user == world.a.intervenant and audit.fields == ["email"]


def test_a_household_of_another_language_gets_both(world: Any) -> None:
    reachable(world, language="other")
    link, token = new_link(world)

    send(world, link, token)

    body = mail.outbox[0].body
    with translation.override("en"):
        english = date_format(timezone.localtime(link.created_at).date(), "DATE_FORMAT")
    french = date_format(timezone.localtime(link.created_at).date(), "DATE_FORMAT")
    assert french in body and english in body
    assert body.index(french) < body.index(english)  # French first


def test_no_email_without_contact_consent_or_address(world: Any) -> None:
    household = world.a.household
    link, token = new_link(world)
    household.email = "camille@example.org"  # on file, but no consent to be contacted
    household.save()

    with pytest.raises(WalletError) as no_consent:
        send(world, link, token)
    give_consent(household=household, purpose="contact", recorded_by=world.a.intervenant)
    household.email = ""
    household.save()
    with pytest.raises(WalletError) as no_address:
        send(world, link, token)

    assert no_consent.value.code == "no_contact_consent"
    assert no_address.value.code == "no_email"
    assert not mail.outbox
    assert not AuditEntry.objects.filter(household=household, fields=["email"]).exists()


def test_a_revoked_or_mismatched_link_is_never_emailed(world: Any) -> None:
    reachable(world)
    old, old_token = new_link(world)
    new, _new_token = new_link(world)
    old.refresh_from_db()

    with pytest.raises(WalletError) as revoked:
        send(world, old, old_token)
    with pytest.raises(WalletError) as mismatch:
        send(world, new, old_token)

    assert revoked.value.code == "revoked" and mismatch.value.code == "token_mismatch"
    assert not mail.outbox


def test_the_staff_page_emails_the_live_link(client: Client, world: Any) -> None:
    household = reachable(world)
    _link, token = new_link(world)
    client.force_login(world.a.coordinator)

    page = text(client.get(manage_url(household)))
    response = client.post(manage_url(household), {"action": "email"}, follow=True)

    assert "Envoyer le lien par courriel" in page
    assert "camille@example.org" not in page
    assert "envoyé par courriel" in " ".join(messages_of(response))
    [message] = mail.outbox
    assert "http://testserver" + page_url(token) in message.body
    assert AuditEntry.objects.filter(household=household, user=world.a.coordinator).exists()


def test_without_consent_the_page_offers_no_email(client: Client, world: Any) -> None:
    new_link(world)
    client.force_login(world.a.intervenant)

    page = text(client.get(manage_url(world.a.household)))
    response = client.post(manage_url(world.a.household), {"action": "email"}, follow=True)

    assert "Envoyer le lien par courriel" not in page
    assert "n'a pas consenti à être contacté" in " ".join(messages_of(response))
    assert not mail.outbox


def test_the_sms_link_carries_the_message_and_no_number(world: Any) -> None:
    url = "https://example.org/portefeuille/abc:def/"

    href = wallet_sms_href(household=world.a.household, url=url)

    assert href.startswith("sms:?&body=")
    assert quote(url, safe="") in href
    assert world.a.program.name in unquote(href)
    assert "+1" not in href


# Offline support ----------------------------------------------------------------------------


def test_the_service_worker_is_served_under_the_wallets_path(client: Client) -> None:
    response = client.get(reverse("coupons:wallet_sw"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert reverse("coupons:wallet_sw") == "/portefeuille/sw.js"
    script = response.content.decode()
    assert '"/portefeuille/"' in script
    for asset in ("/static/css/wallet.css", "/static/js/wallet.js"):
        assert f'"{asset}"' in script
    assert "&quot;" not in script  # JSON, not HTML-escaped


def test_the_manifest_opens_the_page_it_belongs_to(client: Client, world: Any) -> None:
    _link, token = new_link(world)

    response = client.get(reverse("coupons:wallet_manifest", kwargs={"token": token}))
    forged = client.get(reverse("coupons:wallet_manifest", kwargs={"token": "x:y"}))

    assert response.status_code == 200
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "./" and manifest["scope"] == "/portefeuille/"
    assert forged.status_code == 404


# The household page's panel -----------------------------------------------------------------


def test_the_panel_tells_the_links_state(world: Any) -> None:
    household = world.a.household

    nothing = render_to_string("coupons/wallet_panel.html", {"household": household})
    link, _token = new_link(world)
    live = render_to_string("coupons/wallet_panel.html", {"household": household})
    revoke_wallet_link(link=link, revoked_by=world.a.intervenant)
    revoked = render_to_string("coupons/wallet_panel.html", {"household": household})

    assert "Aucun lien" in nothing and manage_url(household) in nothing
    assert "Lien actif" in live and "jamais ouvert" in live
    assert "Lien révoqué" in revoked


def test_coupon_values_on_the_page_are_money(client: Client, world: Any) -> None:
    coupon_for(world.a.household, value=Decimal("12.50"))
    _link, token = new_link(world)

    assert "12,50\xa0$" in text(client.get(page_url(token)))
