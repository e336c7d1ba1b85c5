from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.i18n import JavaScriptCatalog
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from marches.api import health_router
from marches.api import router as redemptions_router
from marches.scanner_api import router as scanner_router
from rapports.api import router as reports_router

api = NinjaAPI(
    title="Coupons nourriciers API",
    version="1",
    urls_namespace="api",
    description="Redemption API for scanners and scripts. See docs/api.md.",
)
api.add_router("", redemptions_router)
api.add_router("", health_router)
api.add_router("", scanner_router)
api.add_router("", reports_router)


@api.exception_handler(ValidationError)
def _invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: Any = exc.errors
    return api.create_response(
        request,
        {
            "status": "rejected",
            "reason": "invalid_request",
            "detail": _("Requête invalide : vérifiez les champs envoyés."),
            "errors": errors,
        },
        status=422,
    )


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": _("Jeton d'appareil absent, invalide ou révoqué.")},
        status=401,
    )


urlpatterns = [
    path("", include("comptes.urls")),
    path("", include("programmes.urls")),
    path("", include("financement.urls")),
    path("", include("beneficiaires.urls")),
    path("", include("coupons.urls")),
    path("", include("marches.urls")),
    path("", include("rapports.urls")),
    path("comptes/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
