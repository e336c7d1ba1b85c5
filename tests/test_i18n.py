"""The English catalog: complete, faithful to its placeholders, compiled, and used.

The source language is French (fr-CA); locale/en/ holds the only catalogs. They are
regenerated and compiled by scripts/messages.sh, and the compiled .mo files are
committed so that installing the project never needs GNU gettext.
"""

from __future__ import annotations

import datetime
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from django.test import Client
from django.urls import reverse

from tests.factories import CouponFactory

pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale" / "en" / "LC_MESSAGES"
DOMAINS = ["django", "djangojs"]

# {name} (python-brace-format) and %(name)s / %s-style (python-format) placeholders.
BRACE_RE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")
PERCENT_RE = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdfr]|%[sd%]")


def load_po(domain: str) -> Catalog:
    with (LOCALE_DIR / f"{domain}.po").open("rb") as f:
        return read_po(f, locale="en")


def entries(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def placeholders(text: str) -> tuple[list[str], list[str]]:
    return sorted(BRACE_RE.findall(text)), sorted(PERCENT_RE.findall(text))


def by_id(catalog: Catalog) -> dict[tuple[Any, Any], Any]:
    """Every translated message of a catalog, header excluded: (context, id) -> string."""
    return {
        (message.context, tuple(as_list(message.id))): tuple(as_list(message.string))
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_entry_is_translated_and_not_fuzzy(domain: str) -> None:
    catalog = load_po(domain)
    messages = entries(catalog)

    assert messages, f"{domain}.po has no entries"
    untranslated = [m.id for m in messages if not all(s.strip() for s in as_list(m.string))]
    fuzzy = [m.id for m in messages if m.fuzzy]
    assert not untranslated, f"untranslated in {domain}.po: {untranslated}"
    assert not fuzzy, f"fuzzy in {domain}.po: {fuzzy}"
    assert not catalog.fuzzy, f"the header of {domain}.po is marked fuzzy"


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_translation_keeps_the_placeholders_of_its_source(domain: str) -> None:
    wrong = []
    for message in entries(load_po(domain)):
        ids = as_list(message.id)
        strings = as_list(message.string)
        if isinstance(message.id, tuple):
            # English has two forms: the singular follows msgid, the plural msgid_plural.
            pairs = [(ids[0], strings[0]), *((ids[1], s) for s in strings[1:])]
        else:
            pairs = [(ids[0], strings[0])]
        for source, translation in pairs:
            if placeholders(source) != placeholders(translation):
                wrong.append((source, translation))
    assert not wrong, f"placeholders changed in {domain}.po: {wrong}"


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_committed_mo_matches_the_po(domain: str) -> None:
    """Compare messages, not bytes or timestamps: msgfmt and babel lay out .mo differently."""
    buffer = io.BytesIO()
    write_mo(buffer, load_po(domain))
    buffer.seek(0)
    expected = by_id(read_mo(buffer))

    mo_path = LOCALE_DIR / f"{domain}.mo"
    assert mo_path.exists(), f"{mo_path} is missing: run scripts/messages.sh"
    with mo_path.open("rb") as f:
        committed = by_id(read_mo(f))

    assert committed == expected, f"{domain}.mo is out of date: run scripts/messages.sh"


def test_pages_are_in_french_even_for_an_english_browser_until_english_is_chosen(
    client: Client,
) -> None:
    french = client.get("/comptes/login/", headers={"Accept-Language": "en"})
    client.cookies["django_language"] = "en"
    english = client.get("/comptes/login/", headers={"Accept-Language": "fr-CA"})

    assert french.status_code == english.status_code == 200
    french_html = french.content.decode()
    english_html = english.content.decode()
    assert "Mot de passe" in french_html
    assert "sur invitation" in french_html
    assert '<html lang="en">' in english_html
    assert "Password" in english_html
    assert "Access is by invitation" in english_html
    assert "Mot de passe" not in english_html


def test_the_language_switch_turns_the_interface_to_english(client: Client) -> None:
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/comptes/login/"})
    assert switched.status_code == 302

    page = client.get("/comptes/login/").content.decode()
    assert "Password" in page
    assert "Mot de passe" not in page

    client.post("/i18n/setlang/", {"language": "fr-ca", "next": "/comptes/login/"})
    assert "Mot de passe" in client.get("/comptes/login/").content.decode()


def test_the_api_detail_is_in_english_when_asked(client: Client, world: Any) -> None:
    coupon = CouponFactory(
        program=world.a.program,
        valid_from=datetime.date(2020, 1, 1),
        valid_until=datetime.date(2020, 1, 31),
    )

    response = client.post(
        "/api/v1/redemptions",
        {"code": coupon.code, "client_id": str(uuid.uuid4())},
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.a.token}", "Accept-Language": "en"},
    )

    assert response.status_code == 409
    body = response.json()
    assert body["reason"] == "expired"
    assert "expired" in body["detail"]
    assert "expiré" not in body["detail"]


def test_the_javascript_catalog_serves_the_scanner_strings_in_english(client: Client) -> None:
    french = client.get(reverse("javascript-catalog"), headers={"Accept-Language": "en"})
    client.cookies["django_language"] = "en"
    english = client.get(reverse("javascript-catalog"))

    assert english.status_code == french.status_code == 200
    assert "Turn on the camera" in english.content.decode()
    assert "Turn on the camera" not in french.content.decode()


def test_the_scanner_page_loads_the_catalog_before_its_script(client: Client, world: Any) -> None:
    client.force_login(world.a.vendor_user)
    url = reverse("marches:scanner", args=[world.a.vendor.slug, world.a.market.slug])

    html = client.get(url).content.decode()

    catalog_at = html.index(f'src="{reverse("javascript-catalog")}"')
    assert catalog_at < html.index("js/scanner.js")
