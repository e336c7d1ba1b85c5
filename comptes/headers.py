"""Response headers that every page needs: a request id, and no caching of personal data.

`NoStoreMiddleware` sends `Cache-Control: no-store` (Django's never-cache headers) on every page
served to a signed-in person, and on the public pages that carry a secret or a person's data
(the wallet and its link, donation receipts, the sale's thanks page, invitations, the API),
unless the view set its own Cache-Control. A shared computer's browser, a proxy or a "back"
button then keeps no copy of a household's name, a vendor's statement or a coupon's code.
Static files never reach it (WhiteNoise serves them earlier) and keep their long lifetimes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from comptes.jsonlog import request_id_var

# Public pages (no account) that still carry personal data or a bearer secret.
PERSONAL_PUBLIC_PREFIXES = (
    "/portefeuille/",  # the household's wallet, its manifest and the sale's PDF
    "/dons/",  # donation thanks page and receipts (the donor's name and address)
    "/vente/",  # the sale's thanks page links to the buyer's wallet
    "/invitations/",  # an invitation names the invited person's email
    "/comptes/",  # sign-in, password reset links (a token in the URL)
    "/api/",  # verdicts, revocations, funders' reports: never a cached copy
    "/stripe/",
)

# A request id from the reverse proxy is kept when it looks like one; otherwise we make one.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Tags the request's log lines and its response with one id (`X-Request-ID`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def holds_personal_data(request: HttpRequest) -> bool:
    if request.path.startswith(PERSONAL_PUBLIC_PREFIXES):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class NoStoreMiddleware:
    """`Cache-Control: no-store` on personal pages (after AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # A view that sets its own Cache-Control has decided (the household's wallet is
        # "private, no-cache" so that its service worker may keep it for an offline market);
        # every other personal page gets Django's never-cache headers, no-store included.
        if not response.has_header("Cache-Control") and holds_personal_data(request):
            add_never_cache_headers(response)
        return response
