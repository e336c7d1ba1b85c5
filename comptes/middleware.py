"""Language: French first, as Quebec's Charter of the French language expects.

Pages are in French unless the person chose English with the switch (the language cookie); the
browser's Accept-Language is not enough to change that. The API follows Accept-Language, so a
scanner or a script gets its verdicts in the language it asks for.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext as _

API_PREFIX = "/api/"


class FrenchFirstLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith(API_PREFIX):
            super().process_request(request)
            return
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class RefuseNullCharactersMiddleware:
    """400 for a URL (path or query string) holding a NUL character: PostgreSQL refuses it in
    text (a server error otherwise), and nobody types one. Forms are left to their fields,
    which refuse it with a message next to the field; JSON bodies to the API's schemas."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = (value for _key, values in request.GET.lists() for value in values)
        if "\x00" in request.path or any("\x00" in value for value in query):
            return HttpResponseBadRequest(
                _("La requête contient un caractère nul : elle est refusée."),
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
