"""The baseline of bench/redemption_api.py: a minimal Django project in one module.

    gunicorn bench.baseline_app:application   (DATABASE_URL=postgres://… in the environment)

No installed app, no middleware, one URL, one view: `POST /redeem` does the database work of a
redemption with raw SQL through `django.db.connection`, and nothing else:

1. the device, by the SHA-256 of its bearer token (not revoked);
2. the coupon, by its manual code;
3. in one transaction, the conditional UPDATE that takes the coupon (`status = 'issued'`) and the
   INSERT of the redemption row with every column the application writes;
4. a small JSON answer, `201`.

It does not check the code's check symbol, a QR signature, the market's programs, the coupon's
dates, a replayed `client_id` or the request's language: it is the floor that Django, psycopg and
PostgreSQL set on this machine, so that the application's figures can be read against it. Its
connections persist between requests (`CONN_MAX_AGE`), as any tuned deployment's would.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import uuid

import django
import environ
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-baseline-only",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={
            "default": {
                **environ.Env.db_url_config(os.environ["DATABASE_URL"]),
                "CONN_MAX_AGE": 600,
                "CONN_HEALTH_CHECKS": True,
            }
        },
        USE_TZ=True,
        TIME_ZONE="America/Toronto",
        USE_I18N=False,
    )
    django.setup()

from django.core.wsgi import get_wsgi_application
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import path

DEVICE_SQL = (
    "SELECT id, vendor_id, market_id FROM marches_device "
    "WHERE token_hash = %s AND revoked_at IS NULL"
)
COUPON_SQL = "SELECT id, serial, value FROM coupons_coupon WHERE code = %s"
TAKE_SQL = (
    "UPDATE coupons_coupon SET status = 'redeemed', redeemed_at = %s "
    "WHERE id = %s AND status = 'issued'"
)
INSERT_SQL = (
    "INSERT INTO marches_redemption (coupon_id, vendor_id, market_id, device_id, recorded_by_id, "
    "category_id, client_id, value, status, offline, scanned_at, recorded_at, decided_at, "
    "decided_by_id, decision_reason, statement_id) "
    "VALUES (%s, %s, %s, %s, NULL, NULL, %s, %s, 'accepted', false, %s, %s, NULL, NULL, '', NULL) "
    "RETURNING id"
)


def redeem(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        return JsonResponse({"detail": "POST only"}, status=405)
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        payload = json.loads(request.body)
        code = "".join(str(payload["code"]).upper().replace("-", "").split())
        client_id = uuid.UUID(str(payload["client_id"]))
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"status": "rejected", "reason": "invalid_request"}, status=422)
    now = datetime.datetime.now(datetime.UTC)
    with connection.cursor() as cursor:
        cursor.execute(DEVICE_SQL, [hashlib.sha256(token.encode()).hexdigest()])
        device = cursor.fetchone()
        if device is None:
            return JsonResponse({"detail": "invalid token"}, status=401)
        cursor.execute(COUPON_SQL, [code])
        coupon = cursor.fetchone()
        if coupon is None:
            return JsonResponse({"status": "rejected", "reason": "unknown_code"}, status=422)
        with transaction.atomic():
            cursor.execute(TAKE_SQL, [now, coupon[0]])
            if cursor.rowcount != 1:
                return JsonResponse(
                    {"status": "rejected", "reason": "already_redeemed"}, status=409
                )
            cursor.execute(
                INSERT_SQL,
                [coupon[0], device[1], device[2], device[0], client_id, coupon[2], now, now],
            )
            redemption_id = cursor.fetchone()[0]
    return JsonResponse(
        {
            "status": "accepted",
            "redemption_id": redemption_id,
            "coupon": {"serial": coupon[1], "value": f"{coupon[2]:.2f}"},
        },
        status=201,
    )


urlpatterns = [path("redeem", redeem)]

application = get_wsgi_application()
