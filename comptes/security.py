"""Strong sign-in: MFA for the roles that hold a program's keys, session time-outs, the API's
rate limit, and what django-axes keys its lockouts on (the attempted email and the client's
address).

Configured in config/settings.py ("Strong sign-in" block); see docs/configuration.md.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.forms import Form
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from comptes.models import User

API_PREFIX = "/api/v1/"

# Session keys of the time-outs: when the session signed in, and when it was last seen (seconds
# since the epoch). "Last seen" is written at most once a minute, so that a busy page does not
# rewrite its session row on every request; the idle time-out is therefore exact to a minute.
SIGNED_IN_AT = "security_signed_in_at"
LAST_SEEN_AT = "security_last_seen_at"
LAST_SEEN_RESOLUTION = 60


def client_ip(request: HttpRequest) -> str:
    """The client's address, behind TRUSTED_PROXY_COUNT proxies: allauth's reading, so that its
    rate limits, the lockouts (AXES_CLIENT_IP_CALLABLE) and the API's limit agree."""
    try:
        return str(get_adapter(request).get_client_ip(request))
    except PermissionDenied:
        # No address (a test client, a misconfigured proxy): empty, which axes stores as NULL
        # (PostgreSQL's inet column refuses a word like "unknown").
        return ""


def attempted_email(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The email a sign-in tried (AXES_USERNAME_CALLABLE), lower-cased as accounts are stored.

    allauth authenticates with `email=`, the admin's form with `username=`; both count."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    if not value and request is not None and hasattr(request, "POST"):
        value = request.POST.get("login") or request.POST.get("username")
    return str(value or "").strip().lower()


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first of AUTHENTICATION_BACKENDS.

    Every sign-in from the web passes its request (allauth, the admin); a call without one (the
    test client's `login()`, a shell) has no address to lock and is left to the other backends.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)  # type: ignore[no-any-return]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """What a locked-out sign-in sees (AXES_LOCKOUT_CALLABLE): a French page, status 429."""
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    response = render(request, "account/lockout.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


# --- MFA -----------------------------------------------------------------------------------


def requires_mfa(user: User) -> bool:
    """Network admins (and staff, who reach the admin site), coordinators of a program and
    managers of a market must sign in with a second factor. One query for the two roles held
    through memberships (the relations are named by the apps that own them)."""
    if user.is_network_admin or user.is_superuser or user.is_staff:
        return True
    return (
        User.objects.filter(pk=user.pk)
        .filter(Q(coordinated_programs__isnull=False) | Q(managed_markets__isnull=False))
        .exists()
    )


def passed_mfa(request: HttpRequest) -> bool:
    """This session signed in with a second factor (allauth records it in the session)."""
    records = get_authentication_records(request, request.user)  # type: ignore[arg-type]
    return any(record.get("method") == "mfa" for record in records)


class MFAState(StrEnum):
    OK = "ok"
    SET_UP = "set_up"  # the role requires a second factor and the user has none
    SIGN_IN_AGAIN = "sign_in_again"  # they have one, but this session never used it


def mfa_state(request: HttpRequest) -> MFAState:
    """Where the signed-in user stands with MFA, computed once per request (at most 2 queries:
    the roles, then the authenticators)."""
    cached = getattr(request, "_mfa_state", None)
    if cached is None:
        cached = request._mfa_state = _mfa_state(request)  # type: ignore[attr-defined]
    return cached  # type: ignore[no-any-return]


def _mfa_state(request: HttpRequest) -> MFAState:
    user: User = request.user  # type: ignore[assignment]
    if passed_mfa(request) or not requires_mfa(user):
        return MFAState.OK
    created = list(
        Authenticator.objects.filter(user_id=user.pk)
        .exclude(type=Authenticator.Type.RECOVERY_CODES)
        .values_list("created_at", flat=True)
    )
    if not created:
        return MFAState.SET_UP
    # Set up during this session: the next sign-in will ask for it. An older one means that this
    # session signed in by a way that skipped the second factor (the admin's login form): sign in
    # again through the page that asks for it.
    signed_in_at = request.session.get(SIGNED_IN_AT)
    if isinstance(signed_in_at, int) and max(created).timestamp() >= signed_in_at:
        return MFAState.OK
    return MFAState.SIGN_IN_AGAIN


def _mfa_exempt_prefixes() -> tuple[str, ...]:
    """Where a user who still owes a second factor may go: set it up, or leave."""
    return (
        reverse("mfa_index"),
        reverse("account_logout"),
        reverse("account_reauthenticate"),
        settings.STATIC_URL or "/static/",
        reverse("set_language"),
        reverse("javascript-catalog"),
        "/api/",
    )


class MFARequiredMiddleware:
    """Sends a user whose role requires MFA, and who has none, to the MFA page first; signs out
    a session of such a user that skipped their second factor."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated or request.path.startswith(_mfa_exempt_prefixes()):
            return self.get_response(request)
        state = mfa_state(request)
        if state == MFAState.SET_UP:
            messages.warning(
                request,
                _(
                    "Votre rôle exige l'authentification à deux facteurs : activez une "
                    "application d'authentification ou une clé de sécurité pour continuer."
                ),
            )
            return redirect("mfa_index")
        if state == MFAState.SIGN_IN_AGAIN:
            logout(request)
            messages.info(
                request,
                _("Connectez-vous ici avec votre second facteur d'authentification."),
            )
            return redirect_to_login(request.get_full_path())
        return self.get_response(request)


# --- Session time-outs ---------------------------------------------------------------------


class SessionTimeoutMiddleware:
    """Signs out a session idle for SESSION_IDLE_SECONDS, or signed in for SESSION_MAX_SECONDS."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not request.path.startswith("/api/"):
            expired = self._expired(request)
            if expired is not None:
                logout(request)
                messages.info(request, expired)
                return redirect_to_login(request.get_full_path())
        return self.get_response(request)

    @staticmethod
    def _expired(request: HttpRequest) -> str | None:
        """The message to show if the session is over; otherwise records this visit."""
        session = request.session
        now = int(time.time())
        signed_in_at = session.get(SIGNED_IN_AT)
        last_seen_at = session.get(LAST_SEEN_AT)
        if not isinstance(signed_in_at, int) or not isinstance(last_seen_at, int):
            session[SIGNED_IN_AT] = session[LAST_SEEN_AT] = now
            return None
        if now - signed_in_at > settings.SESSION_MAX_SECONDS:
            return _("Votre session a pris fin après {hours} heures : reconnectez-vous.").format(
                hours=round(settings.SESSION_MAX_SECONDS / 3600)
            )
        if now - last_seen_at > settings.SESSION_IDLE_SECONDS:
            return _(
                "Votre session a pris fin après {minutes} minutes d'inactivité : reconnectez-vous."
            ).format(minutes=round(settings.SESSION_IDLE_SECONDS / 60))
        if now - last_seen_at >= LAST_SEEN_RESOLUTION:
            session[LAST_SEEN_AT] = now
        return None


def start_session_clock(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """On `user_logged_in`: the time-outs count from here. Written with the sign-in's own save
    of the session, so that the first page after signing in does not write the session again."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = request.session[LAST_SEEN_AT] = now


def connect_signals() -> None:
    user_logged_in.connect(start_session_clock, dispatch_uid="comptes.security.session_clock")


# --- API rate limit ------------------------------------------------------------------------


def parse_rate(value: str) -> tuple[int, int] | None:
    """ "600/60" → (600, 60); "off" → None (checked at start-up by config/settings.py)."""
    if value == "off":
        return None
    requests, seconds = value.split("/")
    return int(requests), int(seconds)


def _rate_key(request: HttpRequest) -> str:
    """Per device (or funder) token when the request carries one, per address otherwise. Only a
    hash of the token goes into the cache key."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "ip:" + client_ip(request)


def api_rate_limited(request: HttpRequest) -> int | None:
    """Counts this request in its fixed window; the seconds to wait if it is over the limit."""
    # The setting is read per request: tests change it.
    return rate_limited("api-rate", _rate_key(request), settings.API_RATE_LIMIT)


def checkout_rate_limited(request: HttpRequest) -> int | None:
    """Counts a payment started from a public form (a donation, a sale) by the client's
    address: each one is a pending row and a Checkout session at Stripe, so a script must not
    open them by the thousand (CHECKOUT_RATE_LIMIT). The seconds to wait if over the limit."""
    return rate_limited("checkout-rate", "ip:" + client_ip(request), settings.CHECKOUT_RATE_LIMIT)


def refuse_past_checkout_limit(
    request: HttpRequest, form: Form, page: Callable[[int], HttpResponse]
) -> HttpResponse | None:
    """None while the client is under CHECKOUT_RATE_LIMIT; past it, the form's `page` with
    status 429, Retry-After and a message on the form saying when to try again."""
    retry_after = checkout_rate_limited(request)
    if retry_after is None:
        return None
    minutes = max(1, math.ceil(retry_after / 60))
    form.add_error(
        None,
        ngettext(
            "Trop de paiements ont été commencés depuis cette adresse : réessayez dans {n} minute.",
            "Trop de paiements ont été commencés depuis cette adresse : "
            "réessayez dans {n} minutes.",
            minutes,
        ).format(n=minutes),
    )
    response = page(429)
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited(scope: str, who: str, setting: str) -> int | None:
    """Counts one more event of `who` in `scope` in its fixed window of the `setting`
    ("REQUESTS/SECONDS" or "off"); the seconds to wait if that is over the limit."""
    rate = parse_rate(setting)
    if rate is None:
        return None
    limit, seconds = rate
    now = time.time()
    window = int(now // seconds)
    key = f"{scope}:{who}:{seconds}:{window}"
    # add() then incr(): the first request of a window creates the counter, the others count
    # atomically on a shared cache (incr is atomic in Redis/Memcached and under LocMem's lock).
    cache.add(key, 0, timeout=seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # the counter expired between add() and incr()
        cache.set(key, 1, timeout=seconds + 1)
        count = 1
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * seconds - now))


class APIRateLimitMiddleware:
    """429 with Retry-After and a JSON body once a client goes over API_RATE_LIMIT."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            retry_after = api_rate_limited(request)
            if retry_after is not None:
                response = JsonResponse(
                    {
                        "status": "rejected",
                        "reason": "rate_limited",
                        "detail": _("Trop de requêtes : réessayez dans {seconds} secondes.").format(
                            seconds=retry_after
                        ),
                        "retry_after": retry_after,
                    },
                    status=429,
                )
                response["Retry-After"] = str(retry_after)
                return response
        return self.get_response(request)
