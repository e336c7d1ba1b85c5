"""Accessibility in a real browser: axe-core on every page of a full tour, and the keyboard.

The tour is built from the authorization matrix (tests/test_authorization_matrix.py), itself
built from the URL resolver: every HTML page of the matrix is opened once, by the role with
the fewest rights that may open it, and every role opens its home page (each role has its own
menu); then the public pages (sign-in, donation, sale, wallet). axe-core (vendored in
static/vendor/axe-core/) runs in each page; a serious or critical violation fails the test.

axe is evaluated through the DevTools protocol (page.evaluate), which the pages' Content
Security Policy does not block: no inline script is added to the page.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from coupons.wallet import create_wallet_link
from tests.conftest import World
from tests.e2e.conftest import launch
from tests.test_authorization_matrix import (
    ADMIN,
    COORDINATOR,
    FUNDER,
    INTERVENANT,
    MANAGER,
    MATRIX,
    VENDOR,
    prepare,
    users_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE_JS = Path(django_settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"
# Each page is opened by the first of these that may open it.
TOUR_ORDER = (VENDOR, FUNDER, MANAGER, INTERVENANT, COORDINATOR, ADMIN)
FAILING_IMPACTS = ("serious", "critical")

RUN_AXE = """async (impacts) => {
  const results = await window.axe.run(document, {resultTypes: ['violations']});
  return results.violations
    .filter((v) => impacts.includes(v.impact))
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' — ' + n.failureSummary),
    }));
}"""


@pytest.fixture(autouse=True)
def _print_files_in_a_temporary_folder(settings: Any, tmp_path: Path) -> None:
    settings.PRINT_ROOT = tmp_path / "print"


@pytest.fixture
def browser(playwright_driver: Any) -> Iterator[Any]:
    browser = launch(playwright_driver)
    try:
        yield browser
    finally:
        browser.close()


def violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    return page.evaluate(RUN_AXE, list(FAILING_IMPACTS))  # type: ignore[no-any-return]


def signed_in_client(user: Any) -> Client:
    """A session for `user` as if signed in with a second factor (the roles that require MFA
    are sent to set it up otherwise)."""
    client = Client()
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time(), "email": user.email},
        {"method": "mfa", "at": time.time(), "type": "totp"},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def context_for(browser: Any, base_url: str, client: Client | None) -> Any:
    context = browser.new_context(locale="fr-CA")
    if client is not None:
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": base_url}]
        )
    return context


def tour(world: World) -> dict[str, list[tuple[str, str]]]:
    """role → [(URL name, path)] of the pages that role opens in the tour."""
    pages: dict[str, list[tuple[str, str]]] = {role: [("accueil", "/")] for role in TOUR_ORDER}
    for name, entry in MATRIX.items():
        if entry.method != "get" or name == "accueil":
            continue
        role = next(r for r in TOUR_ORDER if r in entry.allowed)
        pages[role].append((name, reverse(name, kwargs=entry.kwargs(world.a))))
    return pages


def public_pages(world: World) -> list[tuple[str, str]]:
    household = world.a.household
    _link, token = create_wallet_link(household=household, created_by=world.a.intervenant)
    program = {"slug": world.a.program.slug}
    return [
        ("account_login", reverse("account_login")),
        ("account_reset_password", reverse("account_reset_password")),
        ("financement:donation_form", reverse("financement:donation_form", kwargs=program)),
        ("financement:donation_thanks", reverse("financement:donation_thanks", kwargs=program)),
        ("coupons:sale_form", reverse("coupons:sale_form", kwargs=program)),
        ("coupons:sale_thanks", reverse("coupons:sale_thanks", kwargs=program)),
        ("coupons:wallet", reverse("coupons:wallet", kwargs={"token": token})),
    ]


def is_html_page(client: Client, path: str) -> bool:
    """Downloads (PDF, CSV, XLSX, JSON) and redirections are not pages to check."""
    response = client.get(path)
    return response.status_code == 200 and response["Content-Type"].startswith("text/html")


def check_pages(
    context: Any, base_url: str, who: str, client: Client, pages: list[tuple[str, str]]
) -> tuple[list[str], int]:
    found: list[str] = []
    checked = 0
    page = context.new_page()
    for name, path in pages:
        if not is_html_page(client, path):
            continue
        page.goto(base_url + path, wait_until="load")
        checked += 1
        for violation in violations(page):
            nodes = "\n      ".join(violation["nodes"])
            found.append(
                f"{who} {name} ({path}): [{violation['impact']}] {violation['id']}: "
                f"{violation['help']}\n      {nodes}"
            )
    page.close()
    return found, checked


def test_no_page_of_the_tour_has_a_serious_accessibility_violation(
    live_server: Any, browser: Any, world: World
) -> None:
    prepare(world)
    base_url = live_server.url
    users = users_of(world, world.a)
    problems: list[str] = []
    checked = 0

    for role, pages in tour(world).items():
        client = signed_in_client(users[role])
        context = context_for(browser, base_url, client)
        found, count = check_pages(context, base_url, role, client, pages)
        context.close()
        problems += found
        checked += count

    context = context_for(browser, base_url, None)
    found, count = check_pages(context, base_url, "anonymous", Client(), public_pages(world))
    context.close()
    problems += found
    checked += count

    assert checked >= 60, f"only {checked} pages were checked"
    assert not problems, f"{len(problems)} serious or critical violations:\n" + "\n".join(problems)


def tab_until(page: Any, selector: str, limit: int = 40) -> list[str]:
    """Press Tab until `selector` has the focus; the focused elements on the way."""
    path: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return path
        path.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return e ? e.tagName + (e.name ? '[' + e.name + ']' : '') : ''; }"
            )
        )
    raise AssertionError(f"Tab never reached {selector}; it went through {path}")


def assert_visible_focus(page: Any) -> None:
    style = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return {style: s.outlineStyle, width: parseFloat(s.outlineWidth),"
        " shadow: s.boxShadow}; }"
    )
    visible = (style["style"] != "none" and style["width"] >= 2) or style["shadow"] != "none"
    assert visible, f"the focused element shows no focus ring: {style}"


def test_the_sign_in_page_works_with_the_keyboard(live_server: Any, browser: Any) -> None:
    context = context_for(browser, live_server.url, None)
    page = context.new_page()
    page.goto(live_server.url + reverse("account_login"))

    tab_until(page, "input[name=login]")
    assert_visible_focus(page)
    page.keyboard.type("personne@example.org")
    tab_until(page, "input[name=password]")
    assert_visible_focus(page)
    tab_until(page, "form:has(input[name=password]) button[type=submit]")
    assert_visible_focus(page)
    context.close()


def test_the_scanners_manual_code_form_works_with_the_keyboard(
    live_server: Any, browser: Any, world: World
) -> None:
    scope = world.a
    client = signed_in_client(scope.vendor_user)
    context = context_for(browser, live_server.url, client)
    page = context.new_page()
    page.goto(
        live_server.url
        + reverse(
            "marches:scanner", kwargs={"slug": scope.vendor.slug, "market_slug": scope.market.slug}
        )
    )

    tab_until(page, "#scan-form [name=code]")
    assert_visible_focus(page)
    page.keyboard.type(uuid.uuid4().hex[:8])
    tab_until(page, "#scan-form button[type=submit]")
    assert_visible_focus(page)
    context.close()
