"""Headers: a CSP with no inline script or style, security headers, no caching of personal data.

Every page of the authorization matrix is rendered as every role allowed to open it, and its
HTML is parsed: no inline script, no <style>, no style="" and no on*="" handler may be there,
since the Content-Security-Policy (which must never allow 'unsafe-inline') would block them.
"""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from coupons.wallet import create_wallet_link
from tests.conftest import PASSWORD, World
from tests.test_authorization_matrix import MATRIX, prepare, request, users_of

pytestmark = pytest.mark.django_db

# Script elements that are data, never run (django-ninja's settings, json_script).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}


@pytest.fixture(autouse=True)
def _print_files_in_a_temporary_folder(settings: Any, tmp_path: Any) -> None:
    settings.PRINT_ROOT = tmp_path / "print"


@pytest.fixture(autouse=True)
def _signed_in_with_a_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """force_login skips the second factor; these tests are about headers, and the MFA gate
    has its own tests (tests/comptes/)."""
    try:
        from comptes import security
    except ImportError:
        return
    if hasattr(security, "passed_mfa"):
        monkeypatch.setattr(security, "passed_mfa", lambda request: True)


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, styles and event handlers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._open_script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower(): value or "" for name, value in attrs}
        for name in names:
            if name == "style" or (name.startswith("on") and len(name) > 2):
                self.found.append(f"<{tag} {name}=…>")
        for name in ("href", "src", "action", "formaction"):
            if names.get(name, "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")
        if tag == "style":
            self.found.append("<style>")
        if tag == "script" and "src" not in names:
            kind = names.get("type", "").strip().lower()
            self._open_script = None if kind in DATA_SCRIPT_TYPES else tag

    def handle_data(self, data: str) -> None:
        if self._open_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}…")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open_script = None


def inline_code(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def assert_strict_csp(response: Any, label: Any) -> None:
    policy = response.get("Content-Security-Policy", "")
    assert policy, (label, "no Content-Security-Policy header")
    directives = {}
    for part in policy.split(";"):
        name, _space, values = part.strip().partition(" ")
        directives[name] = values
    for name in ("script-src", "style-src", "default-src"):
        assert "'unsafe-inline'" not in directives.get(name, ""), (label, name)
        assert "'unsafe-eval'" not in directives.get(name, ""), (label, name)
    # A view may send a stricter policy of its own (a document: "default-src 'none'; sandbox").
    assert directives.get("object-src", directives.get("default-src")) == "'none'", label
    assert directives.get("frame-ancestors") == "'none'" or response["X-Frame-Options"] == "DENY", (
        label
    )
    if response["Content-Type"].startswith("text/html"):
        assert inline_code(response.content.decode()) == [], label


def test_the_finder_catches_every_kind_of_inline_code() -> None:
    page = """
      <p style="color: red">x</p><button onclick="go()">y</button>
      <script>alert(1)</script><style>p {}</style><a href="javascript:go()">z</a>
      <script src="/static/js/app.js"></script>
      <script type="application/json" id="data">{"a": 1}</script>
    """

    assert inline_code(page) == [
        "<p style=…>",
        "<button onclick=…>",
        "<script>alert(1)…",
        "<style>",
        "<a href=javascript:…>",
    ]


GET_PAGES = sorted(name for name, entry in MATRIX.items() if entry.method == "get")


@pytest.mark.parametrize("name", GET_PAGES)
def test_every_page_has_a_strict_csp_and_no_inline_code_for_every_role(
    client: Client, world: World, name: str
) -> None:
    prepare(world)
    entry = MATRIX[name]

    statuses = set()
    for role, user in users_of(world, world.a).items():
        if role not in entry.allowed:
            continue
        client.force_login(user)
        response = request(client, name, entry, world.a)
        statuses.add(response.status_code)
        if response.status_code == 200:
            assert_strict_csp(response, (name, role))
    # Every page was rendered by at least one role (or is an action that only redirects).
    assert 200 in statuses or statuses == {302}, (name, statuses)


def test_public_pages_have_a_strict_csp_and_no_inline_code(client: Client, world: World) -> None:
    _link, token = create_wallet_link(household=world.a.household, created_by=world.a.intervenant)
    pages = [
        reverse("account_login"),
        reverse("account_reset_password"),
        reverse("coupons:wallet", kwargs={"token": token}),
        reverse("financement:donation_form", kwargs={"slug": world.a.program.slug}),
        reverse("coupons:sale_form", kwargs={"slug": world.a.program.slug}),
        reverse("api:openapi-view"),
        "/une-page-qui-n-existe-pas/",
    ]

    for url in pages:
        response = client.get(url)
        assert response.status_code in {200, 404}, (url, response.status_code)
        assert_strict_csp(response, url)


def test_every_response_carries_the_security_headers(client: Client, world: World) -> None:
    client.force_login(world.a.coordinator)

    for url in (reverse("accueil"), reverse("account_login"), reverse("api:health")):
        response = client.get(url)
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url


def test_https_requests_get_hsts_when_it_is_configured(client: Client, settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True

    response = client.get(reverse("api:health"), secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_session_and_csrf_cookies_are_http_only_and_same_site(
    client: Client, world: World, settings: Any
) -> None:
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True

    page = client.get(reverse("account_login"))
    signed_in = client.post(
        reverse("account_login"), {"login": world.a.intervenant.email, "password": PASSWORD}
    )

    assert signed_in.status_code == 302
    for cookie in (
        page.cookies[settings.CSRF_COOKIE_NAME],
        signed_in.cookies[settings.SESSION_COOKIE_NAME],
    ):
        assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"


# Cache-Control -------------------------------------------------------------------------------


def no_store(response: Any) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return "no-store" in directives


def test_pages_with_personal_data_are_never_stored(client: Client, world: World) -> None:
    prepare(world)
    client.force_login(world.a.coordinator)
    household = world.a.household
    pages = [
        reverse("coupons:household_detail", kwargs={"pk": household.pk}),
        reverse("beneficiaires:household_export_csv", kwargs={"pk": household.pk}),
        reverse("beneficiaires:organization_detail", kwargs={"slug": world.a.organization.slug}),
        reverse("beneficiaires:waitlist", kwargs={"slug": world.a.program.slug}),
        reverse("financement:ledger_csv", kwargs={"slug": world.a.program.slug}),
        reverse("marches:statement_list"),
        reverse("rapports:report_program", kwargs={"slug": world.a.program.slug}),
        reverse("accueil"),
    ]

    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert no_store(response), (url, response.get("Cache-Control"))


def test_public_pages_with_a_secret_are_never_stored(client: Client, world: World) -> None:
    for url in (
        reverse("account_login"),
        reverse("api:health"),
        reverse("comptes_invitation_accept", kwargs={"token": "pas-un-jeton"}),
    ):
        response = client.get(url)
        assert no_store(response), (url, response.get("Cache-Control"))


def test_a_public_page_without_personal_data_keeps_the_default(
    client: Client, world: World
) -> None:
    response = client.get(reverse("javascript-catalog"))

    assert "no-store" not in response.get("Cache-Control", "")


def test_a_views_own_cache_choice_is_kept(client: Client, world: World) -> None:
    # The wallet lets its service worker keep the page for a market without network.
    _link, token = create_wallet_link(household=world.a.household, created_by=world.a.intervenant)

    response = client.get(reverse("coupons:wallet", kwargs={"token": token}))

    assert response["Cache-Control"] == "private, no-cache"


# Request id ----------------------------------------------------------------------------------


def test_every_response_has_a_request_id_and_a_proxys_id_is_kept(client: Client) -> None:
    given = uuid.uuid4().hex

    made = client.get(reverse("api:health"))
    kept = client.get(reverse("api:health"), headers={"X-Request-ID": given})
    refused = client.get(reverse("api:health"), headers={"X-Request-ID": "<script>"})

    assert len(made["X-Request-ID"]) == 32
    assert kept["X-Request-ID"] == given
    assert refused["X-Request-ID"] != "<script>" and len(refused["X-Request-ID"]) == 32
