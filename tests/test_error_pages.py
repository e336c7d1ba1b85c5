"""Error pages in French first (English below), and the health endpoint when the database is down.

The 500 page must render with nothing: no request context, no session, no database (the error
may be the database itself).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import path, reverse
from django.views import defaults

from tests.test_headers import inline_code


def _forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def _bad(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("a forged value")


def _broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


# This module is the URLconf of the tests marked `urls(__name__)`.
urlpatterns = [
    path("interdit/", _forbidden),
    path("invalide/", _bad),
    path("panne/", _broken),
]

PAGES = {
    400: ("Requête invalide", "Bad request"),
    403: ("Accès refusé", "Access denied"),
    404: ("Page introuvable", "Page not found"),
    500: ("Erreur du serveur", "Server error"),
}


def assert_error_page(response: Any, status: int) -> None:
    french, english = PAGES[status]
    page = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert '<html lang="fr-CA">' in page
    assert french in page and english in page
    assert page.index(french) < page.index(english), "French comes first"
    assert inline_code(page) == []


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(("url", "status"), [("/interdit/", 403), ("/invalide/", 400)])
def test_refusals_have_french_pages_with_english_below(
    client: Client, url: str, status: int
) -> None:
    assert_error_page(client.get(url), status)


def test_an_unknown_page_is_a_french_404(client: Client, db: Any) -> None:
    response = client.get("/cette-page-n-existe-pas/")

    assert_error_page(response, 404)
    assert "cette-page-n-existe-pas" not in response.content.decode()


@pytest.mark.urls(__name__)
def test_a_server_error_is_a_french_500_page_that_needs_no_database(client: Client) -> None:
    # No `db` fixture: pytest-django refuses every query, so a template or a middleware that
    # touched the database on the way out would fail this test.
    client.raise_request_exception = False

    response = client.get("/panne/")

    assert_error_page(response, 500)


def test_the_500_handler_renders_without_a_request_context_or_a_database() -> None:
    request = RequestFactory().get("/")

    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.cursor",
        side_effect=OperationalError("the database is down"),
    ):
        response = defaults.server_error(request)

    assert_error_page(response, 500)


def test_a_stale_form_gets_the_french_csrf_page(db: Any) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("account_login"), {"login": "a@example.org", "password": "x"})

    assert response.status_code == 403
    page = response.content.decode()
    assert "Formulaire expiré" in page and "Form expired" in page
    assert inline_code(page) == []


# Health --------------------------------------------------------------------------------------


def test_the_health_endpoint_answers_ok_when_the_database_answers(client: Client, db: Any) -> None:
    response = client.get(reverse("api:health"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True}


def test_the_health_endpoint_answers_503_when_the_database_is_down(client: Client, db: Any) -> None:
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.cursor",
        side_effect=OperationalError("connection refused"),
    ):
        response = client.get(reverse("api:health"))

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": False}
