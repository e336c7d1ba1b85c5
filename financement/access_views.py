"""The page where coordinators and network admins make and revoke a funder's reports API
tokens (a funder that funds one of their programs; any other is a 404).

Thin views: the funder comes from a scoped queryset, the writes from financement.access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from financement import access
from financement.models import Funder

if TYPE_CHECKING:
    from comptes.models import User


def _funder(request: HttpRequest, pk: int) -> Funder:
    return get_object_or_404(access.managed_funders(request.user), pk=pk)


def _page(
    request: HttpRequest,
    funder: Funder,
    *,
    token: str = "",
    error: str = "",
    label: str = "",
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "financement/funder_tokens.html",
        {
            "funder": funder,
            "tokens": access.funder_tokens(funder),
            "programs": access.funded_programs(funder).order_by("name"),
            "new_token": token,
            "error": error,
            "label": label,
            "label_max_length": access.LABEL_MAX_LENGTH,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def funder_tokens(request: HttpRequest, pk: int) -> HttpResponse:
    funder = _funder(request, pk)
    if request.method != "POST":
        return _page(request, funder)
    label = request.POST.get("label", "")
    try:
        _row, token = access.create_funder_token(
            funder=funder, label=label, created_by=cast("User", request.user)
        )
    except access.FunderAccessError as error:
        return _page(request, funder, error=error.message, label=label, status=400)
    # Shown once, on this answer only: it is stored hashed.
    return _page(request, funder, token=token)


@login_required
@require_POST
def funder_token_revoke(request: HttpRequest, pk: int, token_id: int) -> HttpResponse:
    funder = _funder(request, pk)
    token = get_object_or_404(funder.tokens, pk=token_id)
    access.revoke_funder_token(token=token)
    return redirect("financement:funder_tokens", pk=funder.pk)
