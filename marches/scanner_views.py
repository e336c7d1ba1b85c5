"""The scanner as an installable web app: pairing the browser as a device, its web app manifest
and its service worker.

The scanner page itself is `marches.views.scanner`. Every view here is for the people who may
scan for the vendor (`scanning_vendors_for`: its members and network admins), 404 for anyone
else, like the page.

- Pairing (POST, session and CSRF): the browser becomes a `Device` of the vendor at the market;
  the token is answered once, as JSON, and scanner-offline.js keeps it in IndexedDB. The device
  shows in the vendor's device list, where it can be revoked.
- The manifest makes the scanner installable, starting on the scanner page.
- The service worker (templates/marches/scanner_sw.js) is served from /marchands/<slug>/ so that
  its scope covers the vendor's scanner pages; it keeps the page and everything it loads, so that
  the scanner opens without a network once it has been loaded.
"""

from __future__ import annotations

import hashlib
import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from marches import selectors
from marches.models import Market, Vendor
from marches.services import DeviceError, create_device

# Bump when templates/marches/scanner_sw.js changes: a new cache replaces the old one.
SW_VERSION = "1"
# What the scanner page loads (besides itself and the JavaScript catalog): the service worker
# keeps them all, so that the page opens offline.
SCANNER_ASSETS = (
    "css/app.css",
    "css/scanner.css",
    "favicon.svg",
    "vendor/barcode-detector/barcode-detector.iife.js",
    "vendor/barcode-detector/zxing_reader.wasm",
    "js/scanner-qr.js",
    "js/scanner-offline.js",
    "js/scanner.js",
)


def _vendor_and_market(request: HttpRequest, slug: str, market_slug: str) -> tuple[Vendor, Market]:
    vendor = get_object_or_404(selectors.scanning_vendors_for(request.user), slug=slug)
    market = get_object_or_404(vendor.markets.all(), slug=market_slug)
    return vendor, market


@login_required
@never_cache
@require_POST
def scanner_pair(request: HttpRequest, slug: str, market_slug: str) -> HttpResponse:
    """Make this browser a scanning device of the vendor at the market; answer its token once."""
    vendor, market = _vendor_and_market(request, slug, market_slug)
    name = _("Navigateur — {date}").format(
        date=formats.date_format(timezone.localtime(), "SHORT_DATETIME_FORMAT")
    )
    try:
        device, token = create_device(
            vendor=vendor,
            market=market,
            name=name,
            created_by=request.user,  # type: ignore[arg-type]
        )
    except DeviceError as error:
        return JsonResponse({"code": error.code, "detail": error.message}, status=409)
    return JsonResponse({"token": token, "device": device.pk, "name": device.name}, status=201)


def _bcp47(language: str) -> str:
    """Django's "fr-ca" as a manifest spells it: "fr-CA"."""
    base, _dash, region = language.partition("-")
    return f"{base}-{region.upper()}" if region else base


@login_required
@require_GET
def scanner_manifest(request: HttpRequest, slug: str, market_slug: str) -> HttpResponse:
    """The web app manifest: the scanner, installed, opens on this vendor's scanner page."""
    vendor, market = _vendor_and_market(request, slug, market_slug)
    start = reverse("marches:scanner", kwargs={"slug": vendor.slug, "market_slug": market.slug})
    manifest = {
        "id": start,
        "name": _("Scanner · {vendor} · {market}").format(vendor=vendor.name, market=market.name),
        "short_name": _("Scanner"),
        "description": _("Valider les coupons nourriciers, même sans réseau."),
        "lang": _bcp47(request.LANGUAGE_CODE),
        "start_url": start,
        "scope": start,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#1f5f3a",
        "icons": [{"src": static("favicon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }
    response = HttpResponse(json.dumps(manifest), content_type="application/manifest+json")
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_GET
def scanner_service_worker(request: HttpRequest, slug: str) -> HttpResponse:
    """The scanner's service worker, under /marchands/<slug>/ so that its scope covers the
    vendor's scanner pages (a script under /static/ could not control them)."""
    vendor = get_object_or_404(selectors.scanning_vendors_for(request.user), slug=slug)
    assets = [static(name) for name in SCANNER_ASSETS] + [reverse("javascript-catalog")]
    version = hashlib.sha256("\n".join([SW_VERSION, *assets]).encode()).hexdigest()[:12]
    scope = reverse("marches:scanner_sw", kwargs={"slug": vendor.slug}).rsplit("/", 1)[0] + "/"
    script = render_to_string(
        "marches/scanner_sw.js",
        {
            "version": json.dumps(version),
            "scope": json.dumps(scope),
            "assets": json.dumps(assets),
        },
    )
    response = HttpResponse(script, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


urlpatterns: list[URLPattern] = [
    path(
        "marchands/<slug:slug>/marches/<slug:market_slug>/scanner/appareil/",
        scanner_pair,
        name="scanner_pair",
    ),
    path(
        "marchands/<slug:slug>/marches/<slug:market_slug>/scanner/manifest.webmanifest",
        scanner_manifest,
        name="scanner_manifest",
    ),
    path("marchands/<slug:slug>/scanner-sw.js", scanner_service_worker, name="scanner_sw"),
]
