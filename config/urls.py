from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.i18n import JavaScriptCatalog
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from marches.api import health_router
from marches.api import router as redemptions_router
from marches.scanner_api import router as scanner_router
from rapports.api import router as reports_router

# Every operation may answer 429 once a client goes over API_RATE_LIMIT: the answer comes from
# comptes.security.APIRateLimitMiddleware, before any operation runs, so no router declares it.
RATE_LIMITED_RESPONSE = {
    "description": "Too many requests (API_RATE_LIMIT): retry after Retry-After seconds.",
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["status", "reason", "detail", "retry_after"],
                "properties": {
                    "status": {"type": "string", "enum": ["rejected"]},
                    "reason": {"type": "string", "enum": ["rate_limited"]},
                    "detail": {"type": "string"},
                    "retry_after": {"type": "integer", "minimum": 1},
                },
            }
        }
    },
}


class CouponsAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for item in schema["paths"].values():
            for operation in item.values():
                operation["responses"].setdefault(429, RATE_LIMITED_RESPONSE)
        return schema


api = CouponsAPI(
    title="Coupons nourriciers API",
    version="1",
    urls_namespace="api",
    description="Redemption API for scanners and scripts. See docs/api.md.",
)
api.add_router("", redemptions_router)
api.add_router("", health_router)
api.add_router("", scanner_router)
api.add_router("", reports_router)


def _invalid_request_response(request: HttpRequest, errors: Any) -> HttpResponse:
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


@api.exception_handler(ValidationError)
def _invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _invalid_request_response(request, exc.errors)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # django-ninja answers a body it cannot parse (not JSON, not UTF-8) with an English 400
    # that no operation documents; it is a malformed request like any other (docs/api.md).
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        errors = [{"loc": ["body"], "msg": "Body is not valid JSON.", "type": "json_invalid"}]
        return _invalid_request_response(request, errors)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


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
