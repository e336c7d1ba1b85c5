"""The digital wallet's pages.

Public, no account (the signed token is the key): the wallet page, its web app manifest and the
service worker that keeps the page readable offline. These pages are rendered without the
request's context processors (no user, no navigation), and say nothing of the household but
its reference. A public buyer's link (the solidarity sale: a batch, no household) opens the
same page for the sale's coupons, with "Achat solidaire" instead of a reference.

Staff (intervenants of the household's organization, coordinators of its program, network
admins; through `households_for`, 404 outside): the wallet's management page and the card PDF.

The link's URL is a bearer secret. The staff page shows it only to the person who just made the
link, for GRANT_SECONDS (a "grant" kept in their session: the link's public_id and a deadline,
never the token), so that they can copy it, text it and print its card; the card's URL carries
no token either. After that, the only way to hand the link over again is to make a new one
(which revokes the old), or to email it to the household, which any staff member may do.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import URLPattern, path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from beneficiaires.models import Household
from beneficiaires.selectors import households_for
from coupons.models import WalletLink
from coupons.wallet import (
    WalletError,
    buyer_language,
    create_wallet_link,
    household_language,
    live_wallet_link,
    record_wallet_opened,
    resolve_wallet_token,
    revoke_wallet_link,
    sale_wallet_entries,
    send_wallet_link_by_email,
    wallet_card_pdf,
    wallet_email_possible,
    wallet_entries,
    wallet_links,
    wallet_public_id,
    wallet_refusal,
    wallet_sms_href,
    wallet_token,
)

if TYPE_CHECKING:
    from comptes.models import User

GRANT_SECONDS = 10 * 60
_GRANTS = "coupons.wallet_grants"
# Bump when templates/coupons/wallet_sw.js changes: a new cache replaces the old one.
SW_VERSION = "1"
WALLET_ASSETS = ("css/wallet.css", "js/wallet.js", "favicon.svg")


# Public pages -------------------------------------------------------------------------------


def _public(response: HttpResponse, cache: str = "private, no-cache") -> HttpResponse:
    # private, no-cache: the browser (and its service worker) may keep a copy but must ask
    # first; a shared cache may not keep it at all.
    response["Cache-Control"] = cache
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _chosen_language(request: HttpRequest) -> str:
    chosen = request.GET.get("lang", "")
    return chosen if chosen in ("fr", "en") else ""


def _invalid_link(request: HttpRequest) -> HttpResponse:
    chosen = _chosen_language(request)
    # The household is unknown here: the page's switch, else the visitor's language (French).
    language = {"en": "en", "fr": "fr-ca"}.get(chosen) or translation.get_language()
    with translation.override(language):
        page = render_to_string("coupons/wallet_invalid.html", {"lang": chosen})
    return _public(HttpResponseNotFound(page), cache="no-store")


@require_GET
def wallet(request: HttpRequest, token: str) -> HttpResponse:
    link = resolve_wallet_token(token)
    if link is None:
        return _invalid_link(request)
    household = link.household
    if household is None:  # a public buyer's wallet (the solidarity sale)
        return _buyer_wallet(request, link, token)
    today = timezone.localdate()
    chosen = _chosen_language(request)
    with household_language(household, chosen) as language:
        entries = wallet_entries(household=household, today=today)
        current = [entry for entry in entries if not entry.starts_later]
        later = [entry for entry in entries if entry.starts_later]
        page = render_to_string(
            "coupons/wallet.html",
            {
                "program_name": household.program.name,
                "reference": household.reference,
                "current": current,
                "later": later,
                "sections": [
                    {"later": False, "entries": current},
                    {"later": True, "entries": later},
                ],
                "generated_at": timezone.now(),
                "lang": chosen,
                "switch_to": "fr" if language.startswith("en") else "en",
                "sw_url": reverse("coupons:wallet_sw"),
            },
        )
    record_wallet_opened(link=link)
    return _public(HttpResponse(page))


def _buyer_wallet(request: HttpRequest, link: WalletLink, token: str) -> HttpResponse:
    """A public buyer's wallet: the coupons of the sale's batch, the program and "Achat
    solidaire" where a household's page shows its reference (a buyer has none)."""
    batch = link.batch
    if batch is None:
        return _invalid_link(request)
    try:
        language = batch.sale.language
    except ObjectDoesNotExist:
        language = "fr"
    today = timezone.localdate()
    chosen = _chosen_language(request)
    with buyer_language(language, chosen) as active:
        entries = sale_wallet_entries(batch=batch, today=today)
        current = [entry for entry in entries if not entry.starts_later]
        later = [entry for entry in entries if entry.starts_later]
        page = render_to_string(
            "coupons/sale_wallet.html",
            {
                "program_name": batch.program.name,
                "current": current,
                "later": later,
                "sections": [
                    {"later": False, "entries": current},
                    {"later": True, "entries": later},
                ],
                "pdf_url": reverse("coupons:sale_pdf", kwargs={"token": token}) if entries else "",
                "generated_at": timezone.now(),
                "lang": chosen,
                "switch_to": "fr" if active.startswith("en") else "en",
                "sw_url": reverse("coupons:wallet_sw"),
            },
        )
    record_wallet_opened(link=link)
    return _public(HttpResponse(page))


@require_GET
def wallet_manifest(request: HttpRequest, token: str) -> HttpResponse:
    """The web app manifest, so the wallet can be added to the home screen. Its start URL is
    the page it sits under ("./"), so it needs no database: a bad signature is a 404."""
    if wallet_public_id(token) is None:
        return _invalid_link(request)
    with translation.override("en" if _chosen_language(request) == "en" else "fr-ca"):
        manifest = {
            "name": _("Mes coupons nourriciers"),
            "short_name": _("Mes coupons"),
            "start_url": "./",
            "scope": reverse("coupons:wallet_sw").rsplit("/", 1)[0] + "/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#1f5f3a",
            "icons": [{"src": static("favicon.svg"), "sizes": "any", "type": "image/svg+xml"}],
        }
    return _public(
        HttpResponse(json.dumps(manifest), content_type="application/manifest+json"),
    )


@require_GET
def wallet_service_worker(request: HttpRequest) -> HttpResponse:
    """The wallet's service worker, served from /portefeuille/ so that its scope covers every
    wallet page (a script under /static/ could not control them)."""
    assets = [static(name) for name in WALLET_ASSETS]
    version = hashlib.sha256("\n".join([SW_VERSION, *assets]).encode()).hexdigest()[:12]
    scope = reverse("coupons:wallet_sw").rsplit("/", 1)[0] + "/"
    script = render_to_string(
        "coupons/wallet_sw.js",
        {
            "version": json.dumps(version),
            "scope": json.dumps(scope),
            "assets": json.dumps(assets),
        },
    )
    response = HttpResponse(script, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


# Staff pages --------------------------------------------------------------------------------


def _grant(request: HttpRequest, household: Household, link: WalletLink) -> None:
    grants = dict(request.session.get(_GRANTS, {}))
    now = time.time()
    grants = {
        pk: grant
        for pk, grant in grants.items()
        if isinstance(grant, dict) and grant.get("until", 0) > now
    }
    grants[str(household.pk)] = {"link": link.public_id.hex, "until": now + GRANT_SECONDS}
    request.session[_GRANTS] = grants


def _forget(request: HttpRequest, household: Household) -> None:
    grants = dict(request.session.get(_GRANTS, {}))
    if grants.pop(str(household.pk), None) is not None:
        request.session[_GRANTS] = grants


def _granted(request: HttpRequest, household: Household, link: WalletLink | None) -> bool:
    """Whether this session just made `link` (and may see its URL again for a while)."""
    if link is None:
        return False
    grant = request.session.get(_GRANTS, {}).get(str(household.pk))
    return (
        isinstance(grant, dict)
        and grant.get("link") == link.public_id.hex
        and grant.get("until", 0) > time.time()
    )


def _wallet_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("coupons:wallet", kwargs={"token": token}))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def household_wallet(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_object_or_404(households_for(request.user), pk=pk)
    if request.method == "POST":
        return _wallet_action(request, household)
    link = live_wallet_link(household)
    refusal = wallet_refusal(household)
    context: dict[str, Any] = {
        "household": household,
        "link": link,
        "links": wallet_links(household),
        "refusal": refusal,
        "email_possible": link is not None and not refusal and wallet_email_possible(household),
        "grant_minutes": GRANT_SECONDS // 60,
    }
    if link is not None and not refusal and _granted(request, household, link):
        url = _wallet_url(request, wallet_token(link))
        context.update(url=url, sms_href=wallet_sms_href(household=household, url=url))
    return render(request, "coupons/wallet_manage.html", context)


def _wallet_action(request: HttpRequest, household: Household) -> HttpResponse:
    user = cast("User", request.user)  # behind login_required
    action = request.POST.get("action", "")
    back = redirect("coupons:household_wallet", pk=household.pk)
    if action == "create":
        try:
            new_link, _token = create_wallet_link(household=household, created_by=user)
        except WalletError as error:
            messages.error(request, error.message)
            return back
        _grant(request, household, new_link)
        messages.success(
            request,
            _(
                "Nouveau lien créé; l'ancien ne fonctionne plus. Transmettez-le maintenant : il "
                "reste affiché ici {minutes} minutes, puis plus jamais."
            ).format(minutes=GRANT_SECONDS // 60),
        )
        return back
    link = live_wallet_link(household)
    if action not in ("revoke", "email"):
        messages.error(request, _("Action inconnue : rechargez la page et réessayez."))
    elif link is None:
        messages.error(request, _("Ce ménage n'a pas de lien actif."))
    elif action == "revoke":
        if request.POST.get("confirm") != "on":
            messages.error(request, _("Cochez la case pour confirmer la révocation du lien."))
            return back
        revoke_wallet_link(link=link, revoked_by=user)
        _forget(request, household)
        messages.success(request, _("Le lien est révoqué : il ne fonctionne plus."))
    else:
        link.household = household
        token = wallet_token(link)
        try:
            send_wallet_link_by_email(
                link=link, token=token, url=_wallet_url(request, token), sent_by=user
            )
        except WalletError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Le lien a été envoyé par courriel au ménage."))
    return back


@login_required
@never_cache
@require_GET
def household_wallet_card(request: HttpRequest, pk: int) -> HttpResponse:
    """The card of the link this session just made (see the module's docstring)."""
    household = get_object_or_404(households_for(request.user), pk=pk)
    link = live_wallet_link(household)
    if link is None or wallet_refusal(household) or not _granted(request, household, link):
        messages.info(
            request,
            _(
                "Pour imprimer une carte, créez un nouveau lien : la carte d'un lien ne peut être "
                "imprimée que dans les {minutes} minutes qui suivent sa création."
            ).format(minutes=GRANT_SECONDS // 60),
        )
        return redirect("coupons:household_wallet", pk=household.pk)
    pdf = wallet_card_pdf(household=household, url=_wallet_url(request, wallet_token(link)))
    response = HttpResponse(pdf, content_type="application/pdf")
    name = re.sub(r"[^A-Za-z0-9-]", "", household.reference) or str(household.pk)
    response["Content-Disposition"] = f'attachment; filename="portefeuille-{name}.pdf"'
    return response


urlpatterns: list[URLPattern] = [
    # Before the token pattern, although "sw.js" has no trailing slash and could not match it.
    path("portefeuille/sw.js", wallet_service_worker, name="wallet_sw"),
    path("portefeuille/<str:token>/", wallet, name="wallet"),
    path(
        "portefeuille/<str:token>/manifest.webmanifest",
        wallet_manifest,
        name="wallet_manifest",
    ),
    path("menages/<int:pk>/portefeuille/", household_wallet, name="household_wallet"),
    path(
        "menages/<int:pk>/portefeuille/carte.pdf",
        household_wallet_card,
        name="household_wallet_card",
    ),
]
