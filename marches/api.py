"""The redemption API: the contract that scanners and scripts rely on (docs/api.md)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer
from pydantic import field_validator

from coupons.selectors import revoked_codes
from marches.models import Device
from marches.redemptions import MAX_BATCH, Scan, Verdict, check_coupon, redeem_coupon, sync_scans
from marches.services import authenticate_device
from programmes.models import ProductCategory


class DeviceToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Device | None:
        return authenticate_device(token)


router = Router(auth=DeviceToken(), tags=["redemptions"])

# An offline scanner sends its queue when the network returns; a scan older than this is refused
# rather than trusted with a date that would, for example, make an expired coupon valid.
MAX_SCAN_AGE = datetime.timedelta(days=30)


class RedemptionIn(Schema):
    code: str = Field(
        ...,
        min_length=1,
        max_length=512,
        description="QR text or manual code; case, spaces and dashes are ignored.",
    )
    client_id: uuid.UUID = Field(..., description="Made by the scanner, once per scan.")
    category: str | None = Field(None, max_length=50, description="Product category slug.")
    scanned_at: datetime.datetime | None = Field(
        None,
        description=(
            "When the scan happened, with its time zone, at most "
            f"{MAX_SCAN_AGE.days} days ago; a time in the future is replaced by the server's. "
            "Validity is judged on that day."
        ),
    )
    offline: bool = Field(
        False,
        description=(
            "The scanner accepted this coupon while offline (the food was given): a coupon "
            "already redeemed then gives a conflict for review (202) instead of a refusal."
        ),
    )

    @field_validator("scanned_at")
    @classmethod
    def _recent_and_aware(cls, value: datetime.datetime | None) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("scanned_at needs a time zone, e.g. 2026-07-04T10:42:00-04:00")
        if value < timezone.now() - MAX_SCAN_AGE:
            raise ValueError(f"scanned_at is more than {MAX_SCAN_AGE.days} days old")
        return value


class CouponOut(Schema):
    serial: str
    value: str
    currency: str
    program: str
    valid_from: datetime.date
    valid_until: datetime.date


class VerdictOut(Schema):
    status: str = Field(
        ..., description="accepted, valid (check only), conflict (offline, for review), rejected"
    )
    reason: str | None = Field(
        None,
        description=(
            "already_redeemed, expired, not_yet_valid, void, not_accepted_here, "
            "client_id_reused, conflict_refused, undone (409); in_review, void (202); "
            "invalid_code, bad_signature, unknown_code (422)"
        ),
    )
    detail: str = Field(..., description="One sentence in the request's language.")
    redemption_id: int | None = None
    coupon: CouponOut | None = None
    market: str | None = Field(None, description="The device's market (slug).")
    vendor: str | None = Field(None, description="The device's vendor (slug).")
    redeemed_at: datetime.datetime | None = None
    replayed: bool = False
    errors: list[dict[str, Any]] | None = Field(
        None, description="For invalid_request: what is wrong with which field."
    )


class ErrorOut(Schema):
    detail: str


def _body(verdict: Verdict, device: Device) -> dict[str, Any]:
    coupon = verdict.coupon
    # In VerdictOut's order: the answer is rendered from this dict as it is (_verdict_response).
    body: dict[str, Any] = {
        "status": verdict.status,
        "reason": verdict.reason,
        "detail": verdict.detail,
        "redemption_id": verdict.redemption.pk if verdict.redemption else None,
        "coupon": None,
        "market": device.market.slug,
        "vendor": device.vendor.slug,
        "redeemed_at": verdict.redemption.recorded_at if verdict.redemption else None,
        "replayed": verdict.replayed,
        "errors": None,
    }
    # Only a coupon this market takes is described (serial, value, program).
    if coupon is not None and verdict.describes_coupon:
        body["coupon"] = {
            "serial": coupon.serial,
            "value": f"{coupon.value:.2f}",
            "currency": coupon.program.currency,
            "program": coupon.program.slug,
            "valid_from": coupon.valid_from,
            "valid_until": coupon.valid_until,
        }
    return body


def _category(slug: str | None, known: dict[str, ProductCategory]) -> ProductCategory | None:
    return known.get(slug.strip().lower()) if slug else None


@router.post(
    "/redemptions",
    response={201: VerdictOut, 202: VerdictOut, 409: VerdictOut, 422: VerdictOut, 401: ErrorOut},
    summary="Redeem a coupon",
)
def create_redemption(request: HttpRequest, payload: RedemptionIn) -> Status | HttpResponse:
    device: Device = request.auth  # type: ignore[attr-defined]
    category = None
    if payload.category:
        category = ProductCategory.objects.filter(slug=payload.category.strip().lower()).first()
        if category is None:
            unknown = Verdict(
                "rejected", "not_accepted_here", context={"category": payload.category}
            )
            return Status(409, _body(unknown, device))
    verdict = redeem_coupon(
        code=payload.code,
        vendor=device.vendor,
        market=device.market,
        client_id=payload.client_id,
        category=category,
        scanned_at=payload.scanned_at,
        device=device,
        offline=payload.offline,
    )
    return _verdict_response(request, verdict, device)


def _verdict_response(request: HttpRequest, verdict: Verdict, device: Device) -> HttpResponse:
    """The verdict as VerdictOut, rendered as the API renders (config/urls.py keeps ninja's
    JSON renderer) without django-ninja validating it again: on the scanners' hot path that
    validation is a tenth of the request's time (bench/README.md), and `_body` builds exactly
    what VerdictOut dumps (tests/marches/test_redemption_fast_path.py)."""
    content = _RENDERER.render(request, _body(verdict, device), response_status=verdict.http_status)
    return HttpResponse(
        content,
        status=verdict.http_status,
        content_type=f"{_RENDERER.media_type}; charset={_RENDERER.charset}",
    )


_RENDERER = JSONRenderer()


class BatchIn(Schema):
    items: list[RedemptionIn] = Field(
        ..., max_length=MAX_BATCH, description=f"At most {MAX_BATCH} scans, in any order."
    )


class BatchItemOut(VerdictOut):
    client_id: uuid.UUID
    http_status: int = Field(..., description="What POST /redemptions would have answered.")


class BatchOut(Schema):
    results: list[BatchItemOut]


@router.post(
    "/redemptions/batch",
    response={200: BatchOut, 401: ErrorOut, 422: VerdictOut},
    summary="Send a scanner's queue of scans (idempotent per client_id)",
)
def create_redemptions_batch(request: HttpRequest, payload: BatchIn) -> Status:
    """Each item is redeemed as `POST /redemptions` would (with `offline` true unless the item
    says otherwise), in any order and any number of times; the answers come in the order of
    the items."""
    device: Device = request.auth  # type: ignore[attr-defined]
    slugs = {item.category.strip().lower() for item in payload.items if item.category}
    known = {c.slug: c for c in ProductCategory.objects.filter(slug__in=slugs)}
    results: list[dict[str, Any] | None] = [None] * len(payload.items)
    scans: list[Scan] = []
    positions: list[int] = []
    for index, item in enumerate(payload.items):
        if item.category and item.category.strip().lower() not in known:
            verdict = Verdict("rejected", "not_accepted_here", context={"category": item.category})
            results[index] = {
                **_body(verdict, device),
                "client_id": item.client_id,
                "http_status": verdict.http_status,
            }
            continue
        offline = item.offline or "offline" not in item.model_fields_set
        scans.append(
            Scan(
                code=item.code,
                client_id=item.client_id,
                category=_category(item.category, known),
                scanned_at=item.scanned_at,
                offline=offline,
            )
        )
        positions.append(index)
    for index, verdict in zip(positions, sync_scans(scans=scans, device=device), strict=True):
        results[index] = {
            **_body(verdict, device),
            "client_id": payload.items[index].client_id,
            "http_status": verdict.http_status,
        }
    return Status(200, {"results": results})


@router.get(
    "/coupons/{code}",
    response={200: VerdictOut, 409: VerdictOut, 422: VerdictOut, 401: ErrorOut},
    summary="Check a coupon without redeeming it",
)
def get_coupon_verdict(request: HttpRequest, code: str) -> Status:
    device: Device = request.auth  # type: ignore[attr-defined]
    if len(code) > 512:
        return Status(422, _body(Verdict("rejected", "invalid_code"), device))
    verdict = check_coupon(code=code, market=device.market, vendor=device.vendor)
    return Status(verdict.http_status, _body(verdict, device))


class RevocationsOut(Schema):
    generated_at: datetime.datetime
    codes: list[str] = Field(
        ...,
        description=(
            "Manual codes (14 symbols, no separators) of voided coupons of the programs this "
            "market takes, still inside their validity window. A scanner refuses them offline."
        ),
    )


@router.get(
    "/revocations",
    response={200: RevocationsOut, 401: ErrorOut},
    summary="Voided coupons a scanner must refuse offline",
)
def get_revocations(request: HttpRequest) -> Status:
    device: Device = request.auth  # type: ignore[attr-defined]
    program_ids = device.market.programs.values_list("pk", flat=True)
    return Status(200, {"generated_at": timezone.now(), "codes": revoked_codes(program_ids)})


health_router = Router(tags=["health"])


class HealthOut(Schema):
    status: str
    database: bool


@health_router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut})
def health(request: HttpRequest) -> Status:
    """Liveness and database reachability, for the reverse proxy and the benchmarks."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return Status(503, {"status": "unavailable", "database": False})
    return Status(200, {"status": "ok", "database": True})
