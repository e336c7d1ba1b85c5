"""The scanner's configuration: what a phone needs to verify coupons while offline.

`GET /api/v1/scanner/config`, with the device token. The answer holds the device's market and
vendor, the programs the market takes (with their accepted categories and their offline limits),
the public keys that verify the coupons' signatures and the codes of the voided coupons of those
programs. Nothing about households, and nothing about the programs of other markets: a phone
that is lost gives away no more than the list of voided codes, which spend nothing.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from coupons.keys import public_keys
from coupons.selectors import revoked_codes
from marches.api import DeviceToken, ErrorOut
from marches.models import Device
from programmes.models import ProductCategory, Program

router = Router(auth=DeviceToken(), tags=["scanner"])


class ScannerDeviceOut(Schema):
    id: int
    name: str


class ScannerMarketOut(Schema):
    slug: str
    name: str
    city: str
    season_start: datetime.date | None = None
    season_end: datetime.date | None = None


class ScannerVendorOut(Schema):
    slug: str
    name: str


class ScannerCategoryOut(Schema):
    slug: str
    name: str = Field(..., description="In the request's language.")


class ScannerProgramOut(Schema):
    id: int = Field(..., description="The program id carried inside the coupons' QR codes.")
    slug: str
    name: str
    currency: str
    categories: list[ScannerCategoryOut] = Field(
        ..., description="The product categories its coupons may buy."
    )
    offline_max_count: int = Field(
        ...,
        description=(
            "At most this many of its coupons may wait in one scanner's offline queue "
            "(0: no offline scan)."
        ),
    )
    offline_max_value: str = Field(
        ..., description="At most this value (decimal, two places) may wait in that queue."
    )


class ScannerConfigOut(Schema):
    config_version: str = Field(
        ...,
        description=(
            "Changes whenever anything below (times apart) changes: a scanner may compare it "
            "with the one it holds."
        ),
    )
    generated_at: datetime.datetime
    server_time: datetime.datetime = Field(
        ..., description="The server's clock, for a scanner to notice that its own is wrong."
    )
    time_zone: str = Field(..., description="Validity dates are days in this time zone.")
    device: ScannerDeviceOut
    market: ScannerMarketOut
    vendor: ScannerVendorOut
    programs: list[ScannerProgramOut] = Field(
        ..., description="The programs this market takes; a coupon of any other is refused."
    )
    public_keys: dict[str, str] = Field(
        ...,
        description=(
            "Key id (decimal) → raw 32-byte Ed25519 public key, urlsafe base64 without padding. "
            "Retired keys are included: they still verify older coupons."
        ),
    )
    revoked_codes: list[str] = Field(
        ...,
        description=(
            "Manual codes (14 symbols) of the voided coupons of these programs, still inside "
            "their validity window: refused offline."
        ),
    )


def _program(program: Program) -> dict[str, Any]:
    return {
        "id": program.pk,
        "slug": program.slug,
        "name": program.name,
        "currency": program.currency,
        "categories": [{"slug": c.slug, "name": c.name} for c in program.categories.all()],
        "offline_max_count": program.offline_max_count,
        "offline_max_value": f"{program.offline_max_value:.2f}",
    }


def scanner_config(device: Device, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The configuration of `device`: three queries whatever the number of programs,
    categories and voided coupons (the programs, their categories, the revocation list; the
    keys are cached by coupons.keys)."""
    now = now or timezone.now()
    market, vendor = device.market, device.vendor
    programs = list(
        market.programs.order_by("pk").prefetch_related(
            Prefetch("categories", queryset=ProductCategory.objects.order_by("name_fr"))
        )
    )
    content: dict[str, Any] = {
        "device": {"id": device.pk, "name": device.name},
        "market": {
            "slug": market.slug,
            "name": market.name,
            "city": market.city,
            "season_start": market.season_start.isoformat() if market.season_start else None,
            "season_end": market.season_end.isoformat() if market.season_end else None,
        },
        "vendor": {"slug": vendor.slug, "name": vendor.name},
        "programs": [_program(program) for program in programs],
        "public_keys": {str(kid): key for kid, key in public_keys().items()},
        "revoked_codes": revoked_codes([program.pk for program in programs]),
        "time_zone": settings.TIME_ZONE,
    }
    version = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return {**content, "config_version": version, "generated_at": now, "server_time": now}


@router.get(
    "/scanner/config",
    response={200: ScannerConfigOut, 401: ErrorOut},
    summary="What a scanner needs to verify coupons offline",
)
def get_scanner_config(request: HttpRequest) -> Status:
    """The device's market and vendor, the programs the market takes (categories, offline
    limits), the public keys and the revocation list. A scanner downloads it whenever it is
    online and keeps it for the times it is not."""
    device: Device = request.auth  # type: ignore[attr-defined]
    return Status(200, scanner_config(device))
